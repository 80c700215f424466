"""mtoken.Client against a live redis-server with the module."""

from __future__ import annotations

import datetime as dt

import pytest
import redis

import mtoken
from tests.servers import wait_until


def now_utc() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc)


def test_create_returns_a_token_and_flags_only_the_first(client):
    token, first = client.create("alice")
    assert isinstance(token, str) and token.startswith("mt_")
    assert first is True
    _, first_again = client.create("alice")
    assert first_again is False


def test_verify_returns_the_user_as_str(client):
    token, _ = client.create("alice")
    assert client.verify(token) == "alice"
    assert client.verify(token.encode()) == "alice"
    assert client.verify_ro(token) == "alice"


def test_verify_of_unknown_or_malformed_token_returns_none(client):
    token, _ = client.create("alice")
    assert client.verify(token[:-1]) is None
    assert client.verify("mt_" + "x" * 52) is None
    assert client.verify("") is None
    assert client.verify_ro("garbage") is None


def test_int_user_ids_travel_as_decimal_text(client):
    token, _ = client.create(42)
    assert client.verify(token) == "42"
    assert [d.id for d in client.list("42")] == [mtoken.token_id(token)]


def test_binary_user_ids_come_back_as_bytes_with_decode_false(r):
    raw = mtoken.Client(r, decode=False)
    user = b"\x00bin\xff"
    token, _ = raw.create(user)
    assert raw.verify(token) == user
    assert raw.verify_ro(token) == user
    assert raw.expire_all(user) == 1


def test_bool_user_id_is_refused_before_any_call(client):
    with pytest.raises(TypeError):
        client.create(True)


def test_expire_logs_one_device_out_and_reports_it(client):
    a, _ = client.create("alice")
    b, _ = client.create("alice")
    assert client.expire(a) is True
    assert client.expire(a) is False
    assert client.verify(a) is None
    assert client.verify(b) == "alice"


def test_expire_all_removes_every_token_but_the_excepted_one(client):
    tokens = [client.create("alice")[0] for _ in range(3)]
    bob, _ = client.create("bob")
    assert client.expire_all("alice", except_token=tokens[0]) == 2
    assert client.verify(tokens[0]) == "alice"
    assert [client.verify(t) for t in tokens[1:]] == [None, None]
    assert client.expire_all("alice") == 1
    assert client.expire_all("alice") == 0
    assert client.verify(bob) == "bob"


def test_list_describes_each_device_with_utc_datetimes(client):
    before = now_utc() - dt.timedelta(seconds=1)
    phone, _ = client.create("alice", ttl=100, name="phone")
    laptop, _ = client.create("alice", ttl=0)
    after = now_utc() + dt.timedelta(seconds=1)
    devices = {d.id: d for d in client.list("alice")}
    first, second = devices[mtoken.token_id(phone)], devices[mtoken.token_id(laptop)]
    assert isinstance(first, mtoken.Device)
    assert (first.name, second.name) == ("phone", None)
    for d in (first, second):
        assert d.created.tzinfo is not None and before <= d.created <= after
        assert d.last_used == d.created
    assert before + dt.timedelta(seconds=100) <= first.expires <= after + dt.timedelta(seconds=100)
    assert second.expires is None


def test_list_of_a_user_without_tokens_is_empty(client):
    assert client.list("nobody") == []


def test_create_accepts_a_timedelta_ttl(client):
    token, _ = client.create("alice", ttl=dt.timedelta(minutes=5))
    (d,) = client.list("alice")
    left = d.expires - now_utc()
    assert dt.timedelta(seconds=295) <= left <= dt.timedelta(seconds=300)


def test_negative_ttl_is_refused_locally(client):
    with pytest.raises(ValueError):
        client.create("alice", ttl=-1)


def test_server_errors_pass_through_as_response_errors(client):
    with pytest.raises(redis.ResponseError, match="user id is empty"):
        client.create("")


def test_revoke_logs_out_the_device_that_list_showed(client):
    a, _ = client.create("alice", name="a")
    b, _ = client.create("alice", name="b")
    target = next(d for d in client.list("alice") if d.name == "a")
    assert client.revoke("alice", target.id) is True
    assert client.revoke("alice", target.id) is False
    assert client.verify(a) is None
    assert client.verify(b) == "alice"


def test_revoke_of_another_users_device_changes_nothing(client):
    bob, _ = client.create("bob")
    client.create("alice")
    assert client.revoke("alice", mtoken.token_id(bob)) is False
    assert client.revoke("alice", "not-an-id") is False
    assert client.verify(bob) == "bob"


def test_verify_ro_never_touches_last_used_but_verify_does(r, client):
    r.config_set("mtoken.refresh-interval", 0)
    token, _ = client.create("alice")
    (created,) = client.list("alice")

    # A later millisecond must pass for last_used to be able to move.
    wait_until(
        "the clock to move", lambda: now_utc() > created.created + dt.timedelta(milliseconds=5)
    )
    assert client.verify_ro(token) == "alice"
    assert client.list("alice")[0].last_used == created.last_used
    assert client.verify(token) == "alice"
    assert client.list("alice")[0].last_used > created.last_used


RESP3 = int(redis.__version__.split(".")[0]) >= 5  # redis-py 4.x speaks RESP2 only


@pytest.mark.parametrize(
    "options",
    [
        pytest.param(
            {"protocol": 3}, id="resp3", marks=pytest.mark.skipif(not RESP3, reason="redis-py < 5")
        ),
        pytest.param({"decode_responses": True}, id="decoded"),
        pytest.param(
            {"protocol": 2}, id="resp2", marks=pytest.mark.skipif(not RESP3, reason="redis-py < 5")
        ),
    ],
)
def test_works_over_resp2_resp3_and_with_decoded_responses(redis_server, r, options):
    conn = redis_server.client(**options)
    c = mtoken.Client(conn)
    token, first = c.create("carol", name="tablet")
    assert first is True
    assert c.verify(token) == "carol"
    (d,) = c.list("carol")
    assert d.name == "tablet" and d.id == mtoken.token_id(token)
    assert d.expires is None
    assert c.expire_all("carol") == 1
    conn.close()


def test_a_server_without_the_module_raises_module_not_loaded(bare_server):
    c = mtoken.Client(bare_server.client())
    with pytest.raises(mtoken.ModuleNotLoaded, match="mtoken module"):
        c.create("alice")
    with pytest.raises(mtoken.ModuleNotLoaded):
        c.verify("mt_x")
    assert issubclass(mtoken.ModuleNotLoaded, redis.RedisError)


def test_list_is_oldest_first(client):
    old, _ = client.create("alice")
    (d,) = client.list("alice")
    wait_until("the clock to move", lambda: now_utc() > d.created + dt.timedelta(milliseconds=5))
    new, _ = client.create("alice")
    assert [x.id for x in client.list("alice")] == [mtoken.token_id(old), mtoken.token_id(new)]


def test_ttl_and_device_read_a_tokens_expiry_without_writing(r, client):
    r.config_set("mtoken.refresh-interval", 0)
    short, _ = client.create("alice", ttl=100, name="phone")
    forever, _ = client.create("alice", ttl=0)
    r.config_resetstat()
    assert 95 <= client.ttl(short) <= 100
    assert client.ttl(forever) is None
    d = client.device(short)
    assert (d.id, d.name) == (mtoken.token_id(short), "phone")
    assert "cmdstat_mtoken.verify" not in r.info("commandstats")  # VERIFY_RO: no slide
    client.expire(short)
    assert client.ttl(short) == 0 and client.device(short) is None
    assert client.ttl("mt_not_a_token") == 0
