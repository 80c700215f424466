"""Scopes, rotation and logout events through mtoken.Client, mtoken.drf
(HasScope, MultiToken.rotate_token) and mtoken.EventListener, on live
servers with the module (standalone and the 3-node cluster)."""

from __future__ import annotations

import time

import pytest
from django.contrib.auth import get_user_model
from redis.cluster import ClusterNode, RedisCluster
from rest_framework.test import APIClient

import mtoken
from mtoken import Event, EventListener, parse_event, token_id
from mtoken.drf import MultiToken
from tests.conftest import DEFAULT_CONFIG

User = get_user_model()


# --- scopes ------------------------------------------------------------------


def test_a_scoped_token_verifies_only_for_its_scopes(client):
    api, _ = client.create("alice", name="ci", scopes=["orders:read", "profile"])
    full, _ = client.create("alice")
    assert client.verify(api, scope="orders:read") == "alice"
    assert client.verify_ro(api, scope="orders:write") is None
    assert client.verify(full, scope="orders:write") == "alice"
    assert client.verify(api) == "alice"
    by_id = {d.id: d for d in client.list("alice")}
    assert by_id[token_id(api)].scopes == ("orders:read", "profile")
    assert by_id[token_id(full)].scopes is None


def test_scopes_is_a_list_not_a_string(client):
    with pytest.raises(TypeError):
        client.create("alice", scopes="orders:read")


# --- rotation ----------------------------------------------------------------


def test_rotate_keeps_the_device_and_reuse_logs_it_out(client):
    old, _ = client.create("bob", name="phone", scopes=["read"])
    new = client.rotate(old, grace=0)
    assert new and new != old
    (device,) = client.list("bob")
    assert (device.id, device.name, device.scopes) == (token_id(old), "phone", ("read",))
    assert client.verify(new) == "bob"
    # The old token after its grace: reuse, the device is gone.
    assert client.verify(old) is None
    assert client.verify(new) is None
    assert client.list("bob") == []
    assert client.rotate("mt_not_a_token") is None


def test_the_old_token_works_within_its_grace(client):
    old, _ = client.create("bob")
    new = client.rotate(old, grace=30)
    assert client.verify(old) == "bob"
    assert client.verify(new) == "bob"
    assert client.revoke("bob", token_id(old)) is True
    assert client.verify(old) is None


# --- events ------------------------------------------------------------------


def wait_event(listener, timeout=5.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        e = listener.get(timeout=0.2)
        if e is not None:
            return e
    return None


def test_parse_event_keeps_spaces_and_binary_users():
    assert parse_event(b"logout " + b"ab" * 15 + b" jo hn") == Event("logout", "ab" * 15, "jo hn")
    assert parse_event(b"revoke x \xff").user == b"\xff"
    with pytest.raises(ValueError):
        parse_event(b"nonsense")


def test_listener_hears_logouts_of_the_users_it_follows(r, client):
    r.config_set("mtoken.events", "sharded")
    with EventListener(r) as listener:
        listener.follow("carol")
        assert client.channel("carol").endswith(":events:carol")
        tok, _ = client.create("carol")
        other, _ = client.create("dan")
        client.expire(other)  # not followed
        client.expire(tok)
        assert wait_event(listener) == Event("logout", token_id(tok), "carol")
        assert listener.get(timeout=0.3) is None
        listener.unfollow("carol")
        tok2, _ = client.create("carol")
        client.expire(tok2)
        assert listener.get(timeout=0.3) is None


class FakeSocket:
    """Stands in for a websocket connection of a device."""

    def __init__(self, user, device_id):
        self.user, self.device_id, self.closed = user, device_id, False

    def close(self):
        self.closed = True


def close_on_logout(listener, sockets, timeout=1.0):
    """The example: close a user's live connections when their devices end
    (one device, or all of them on EXPIREALL)."""
    for event in listener.events(timeout=timeout):
        for s in sockets:
            if s.user == event.user and s.device_id == event.device_id:
                s.close()


def test_log_out_everywhere_closes_the_users_websockets(r, client):
    r.config_set("mtoken.events", "sharded")
    phone, _ = client.create("erin", name="phone")
    laptop, _ = client.create("erin", name="laptop")
    other, _ = client.create("frank")
    sockets = [
        FakeSocket("erin", token_id(phone)),
        FakeSocket("erin", token_id(laptop)),
        FakeSocket("frank", token_id(other)),
    ]
    with EventListener(r) as listener:
        for user in ("erin", "frank"):
            listener.follow(user)
        assert client.expire_all("erin") == 2
        close_on_logout(listener, sockets)
    assert [s.closed for s in sockets] == [True, True, False]


def test_a_rotated_device_keeps_its_socket_until_reuse(r, client):
    r.config_set("mtoken.events", "sharded")
    old, _ = client.create("gina")
    sock = FakeSocket("gina", token_id(old))
    with EventListener(r) as listener:
        listener.follow("gina")
        client.rotate(old, grace=0)
        close_on_logout(listener, [sock], timeout=0.3)
        assert not sock.closed  # rotation ends nothing
        client.verify(old)  # reuse
        close_on_logout(listener, [sock])
    assert sock.closed


def test_events_on_the_cluster_come_from_the_users_node(cluster):
    rc = RedisCluster(startup_nodes=[ClusterNode("127.0.0.1", n.port) for n in cluster.nodes])
    nodes = [n.client() for n in cluster.nodes]
    try:
        for node in nodes:
            node.config_set("mtoken.events", "sharded")
        client = mtoken.Client(rc)
        with EventListener(rc) as listener:
            users = [f"user:{i}" for i in range(6)]
            for u in users:
                listener.follow(u)
            tokens = {u: client.create(u)[0] for u in users}
            for u in users:
                client.expire(tokens[u])
            got = {wait_event(listener) for _ in users}
        assert got == {Event("logout", token_id(tokens[u]), u) for u in users}
    finally:
        for node in nodes:
            node.flushall()
            for name, value in DEFAULT_CONFIG.items():
                node.config_set(name, value)
            node.close()
        rc.close()


# --- DRF ---------------------------------------------------------------------


@pytest.mark.django_db
def test_has_scope_checks_the_required_scope_per_method(mtoken_conf):
    alice = User.objects.create_user("alice", password="pw")
    reader, _ = MultiToken.create_token(alice, name="dashboard", scopes=["orders:read"])
    full, _ = MultiToken.create_token(alice)

    def call(token, method):
        c = APIClient()
        c.credentials(HTTP_AUTHORIZATION=f"Token {token.key}")
        return getattr(c, method)("/orders/", {}, format="json").status_code

    assert call(reader, "get") == 200
    assert call(reader, "post") == 403
    assert call(full, "post") == 200
    assert APIClient().get("/orders/").status_code == 401


@pytest.mark.django_db
def test_rotate_token_in_drf(mtoken_conf):
    bob = User.objects.create_user("bob", password="pw")
    token, _ = MultiToken.create_token(bob, scopes=["orders:read"])
    new = MultiToken.rotate_token(token, grace=0)
    assert new is not None and new.user == bob
    assert MultiToken.get_user_from_token(new.key) == bob
    c = APIClient()
    c.credentials(HTTP_AUTHORIZATION=f"Token {new.key}")
    assert c.get("/orders/").status_code == 200
    assert MultiToken.rotate_token(token) is None  # reuse: the device is gone
    assert c.get("/orders/").status_code == 401
