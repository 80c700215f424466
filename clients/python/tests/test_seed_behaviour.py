"""The seed's own test list (djforge-redis-multitokens), through
mtoken.drf.MultiToken on a live server with the module.

Where the seed inspected its cache (a user's pickled hash list, one key per
hash), these tests inspect the module's keys: the user index (a sorted set of
token digests) and one entry per token, both in the user's slot.
"""

from __future__ import annotations

import hashlib

import pytest
from django.contrib.auth import get_user_model
from django.core.exceptions import ImproperlyConfigured

from mtoken.drf import MultiToken, get_client, mtoken_settings

User = get_user_model()

pytestmark = pytest.mark.django_db


@pytest.fixture
def user(mtoken_conf):
    return User.objects.create_user("tester", password="pw")


@pytest.fixture
def user2(mtoken_conf):
    return User.objects.create_user("tester2", password="pw")


def index_key(r, user):
    keys = list(r.scan_iter(match=f"mtoken:*:u:{user.pk}"))
    assert len(keys) <= 1
    return keys[0] if keys else None


def entry_key(r, user, token):
    """The entry of `token`: beside its user's index, named by its digest."""
    idx = index_key(r, user)
    assert idx is not None, "the user has no index"
    return idx.split(b":u:")[0] + b":t:" + hashlib.sha256(token.key.encode()).digest()[:15]


def ttl_of(r, key):
    """The seed's `ttl`: None for a key that never expires."""
    t = r.ttl(key)
    assert t != -2, f"{key!r} does not exist"
    return None if t == -1 else t


# --- create_token -----------------------------------------------------------


def test_new_token_has_key_and_user(user):
    token, _ = MultiToken.create_token(user)
    assert isinstance(token.key, str) and token.key
    assert token.user.pk == user.pk


def test_first_token_of_a_user_is_flagged_first(user):
    _, first = MultiToken.create_token(user)
    assert first is True


def test_second_token_of_a_user_is_not_flagged_first(user):
    MultiToken.create_token(user)
    _, first = MultiToken.create_token(user)
    assert first is False


def test_create_stores_one_hash_in_the_user_index_and_it_resolves(r, user):
    token, _ = MultiToken.create_token(user)
    members = r.zrange(index_key(r, user), 0, -1)
    assert members == [hashlib.sha256(token.key.encode()).digest()[:15]]
    assert r.exists(entry_key(r, user, token)) == 1
    assert MultiToken.get_user_from_token(token.key) == user


def test_only_the_hash_is_stored_never_the_raw_token(r, user):
    token, _ = MultiToken.create_token(user)
    raw = token.key.encode()
    keys = list(r.scan_iter())
    assert len(keys) == 2
    for key in keys:
        assert raw not in key
        if r.type(key) == b"string":
            assert raw not in r.get(key)
        else:
            assert all(raw not in m for m in r.zrange(key, 0, -1))


def test_second_hash_is_stored_beside_the_first_and_both_resolve(r, user):
    one, _ = MultiToken.create_token(user)
    two, _ = MultiToken.create_token(user)
    assert r.zcard(index_key(r, user)) == 2
    assert r.exists(entry_key(r, user, one), entry_key(r, user, two)) == 2
    assert MultiToken.get_user_from_token(one.key) == user
    assert MultiToken.get_user_from_token(two.key) == user


# --- get_user_from_token ----------------------------------------------------


def test_the_right_user_comes_back_for_the_right_token(user, user2):
    one, _ = MultiToken.create_token(user)
    two, _ = MultiToken.create_token(user2)
    assert MultiToken.get_user_from_token(one.key).pk == user.pk
    assert MultiToken.get_user_from_token(two.key).pk == user2.pk


def test_a_token_with_its_last_or_first_char_cut_is_rejected(user):
    token, _ = MultiToken.create_token(user)
    for wrong in (token.key[:-1], token.key[1:], "", "Token"):
        with pytest.raises(User.DoesNotExist):
            MultiToken.get_user_from_token(wrong)


def test_a_token_of_a_deleted_user_is_rejected(user):
    token, _ = MultiToken.create_token(user)
    user.delete()
    with pytest.raises(User.DoesNotExist):
        MultiToken.get_user_from_token(token.key)


# --- expire_token -----------------------------------------------------------


def test_expiring_the_only_token_empties_the_index_and_removes_the_hash(r, user):
    token, _ = MultiToken.create_token(user)
    assert MultiToken.expire_token(token) is None
    assert index_key(r, user) is None  # an empty index is deleted, like its list
    assert r.dbsize() == 0
    with pytest.raises(User.DoesNotExist):
        MultiToken.get_user_from_token(token.key)


def test_expiring_one_of_two_tokens_leaves_the_other_working(r, user):
    one, _ = MultiToken.create_token(user)
    two, _ = MultiToken.create_token(user)
    MultiToken.expire_token(one)
    assert r.zrange(index_key(r, user), 0, -1) == [hashlib.sha256(two.key.encode()).digest()[:15]]
    assert r.exists(entry_key(r, user, one)) == 0
    assert MultiToken.get_user_from_token(two.key) == user


def test_expire_token_accepts_the_key_as_well(user):
    token, _ = MultiToken.create_token(user)
    MultiToken.expire_token(token.key)
    with pytest.raises(User.DoesNotExist):
        MultiToken.get_user_from_token(token.key)


def test_expire_token_leaves_other_users_untouched(r, user, user2):
    mine, _ = MultiToken.create_token(user)
    theirs, _ = MultiToken.create_token(user2)
    MultiToken.expire_token(mine)
    assert r.zcard(index_key(r, user2)) == 1
    assert MultiToken.get_user_from_token(theirs.key) == user2


# --- expire_all_tokens ------------------------------------------------------


def test_expire_all_tokens_removes_every_token_of_the_user(r, user):
    tokens = [MultiToken.create_token(user)[0] for _ in range(3)]
    assert MultiToken.expire_all_tokens(user) == 3
    assert r.dbsize() == 0
    for t in tokens:
        with pytest.raises(User.DoesNotExist):
            MultiToken.get_user_from_token(t.key)


def test_expire_all_tokens_leaves_other_users_untouched(r, user, user2):
    MultiToken.create_token(user)
    theirs, _ = MultiToken.create_token(user2)
    MultiToken.expire_all_tokens(user)
    assert index_key(r, user) is None
    assert r.zcard(index_key(r, user2)) == 1
    assert MultiToken.get_user_from_token(theirs.key) == user2


def test_expire_all_tokens_of_a_user_without_tokens_does_not_crash(user):
    assert MultiToken.expire_all_tokens(user) == 0


# --- TTL: TIMEOUT, RESET_TOKEN_TTL_ON_USER_LOG_IN, OVERWRITE_NONE_TTL --------


def test_without_timeout_keys_never_expire(r, user):
    token, _ = MultiToken.create_token(user)
    assert ttl_of(r, index_key(r, user)) is None
    assert ttl_of(r, entry_key(r, user, token)) is None


def test_timeout_1000_gives_both_keys_a_ttl_of_about_1000(r, mtoken_conf, user):
    mtoken_conf(TIMEOUT=1000)
    token, _ = MultiToken.create_token(user)
    assert 995 <= ttl_of(r, index_key(r, user)) <= 1000
    assert 995 <= ttl_of(r, entry_key(r, user, token)) <= 1000


def seed_policy(mtoken_conf, **values):
    """The seed's settings, applied to the server, refreshing on every request."""
    mtoken_conf(APPLY_SERVER_CONFIG=True, REFRESH_INTERVAL=0, **values)
    get_client()  # the configs are written when the client is built


def test_reset_with_overwrite_none_ttl_gives_immortal_tokens_a_ttl(r, mtoken_conf, user):
    seed_policy(mtoken_conf, TIMEOUT=None)
    token, _ = MultiToken.create_token(user)
    assert ttl_of(r, entry_key(r, user, token)) is None
    seed_policy(mtoken_conf, TIMEOUT=1000, OVERWRITE_NONE_TTL=True)
    MultiToken.get_user_from_token(token.key)  # an authenticated request
    assert 995 <= ttl_of(r, entry_key(r, user, token)) <= 1000
    assert 995 <= ttl_of(r, index_key(r, user)) <= 1000


def test_reset_without_overwrite_none_ttl_keeps_immortal_tokens_immortal(r, mtoken_conf, user):
    seed_policy(mtoken_conf, TIMEOUT=None)
    token, _ = MultiToken.create_token(user)
    seed_policy(mtoken_conf, TIMEOUT=1000, OVERWRITE_NONE_TTL=False)
    MultiToken.get_user_from_token(token.key)
    assert ttl_of(r, entry_key(r, user, token)) is None
    assert ttl_of(r, index_key(r, user)) is None


def test_reset_extends_every_token_of_that_user_and_no_other(r, mtoken_conf, user, user2):
    seed_policy(mtoken_conf, TIMEOUT=500)
    mine, _ = MultiToken.create_token(user)
    my_other, _ = MultiToken.create_token(user)
    theirs, _ = MultiToken.create_token(user2)
    seed_policy(mtoken_conf, TIMEOUT=1000)
    MultiToken.get_user_from_token(mine.key)
    for t in (mine, my_other):
        assert 995 <= ttl_of(r, entry_key(r, user, t)) <= 1000
    assert 995 <= ttl_of(r, index_key(r, user)) <= 1000
    assert ttl_of(r, entry_key(r, user2, theirs)) <= 500
    assert ttl_of(r, index_key(r, user2)) <= 500


def test_no_reset_when_reset_token_ttl_on_user_log_in_is_false(r, mtoken_conf, user):
    seed_policy(mtoken_conf, TIMEOUT=500)
    token, _ = MultiToken.create_token(user)
    seed_policy(mtoken_conf, TIMEOUT=1000, RESET_TOKEN_TTL_ON_USER_LOG_IN=False)
    MultiToken.get_user_from_token(token.key)
    assert ttl_of(r, entry_key(r, user, token)) <= 500


def test_a_ttl_becomes_immortal_when_timeout_changes_to_none(r, mtoken_conf, user):
    seed_policy(mtoken_conf, TIMEOUT=1000)
    token, _ = MultiToken.create_token(user)
    assert ttl_of(r, entry_key(r, user, token)) is not None
    seed_policy(mtoken_conf, TIMEOUT=None)
    MultiToken.get_user_from_token(token.key)
    assert ttl_of(r, entry_key(r, user, token)) is None
    assert ttl_of(r, index_key(r, user)) is None


def test_a_ttl_becomes_2000_when_timeout_changes_to_2000(r, mtoken_conf, user):
    seed_policy(mtoken_conf, TIMEOUT=1000)
    token, _ = MultiToken.create_token(user)
    seed_policy(mtoken_conf, TIMEOUT=2000)
    MultiToken.get_user_from_token(token.key)
    assert 1995 <= ttl_of(r, entry_key(r, user, token)) <= 2000
    assert 1995 <= ttl_of(r, index_key(r, user)) <= 2000


# --- settings ---------------------------------------------------------------


def test_apply_server_config_writes_the_seed_settings_as_module_configs(r, mtoken_conf):
    seed_policy(
        mtoken_conf, TIMEOUT=300, RESET_TOKEN_TTL_ON_USER_LOG_IN=False, OVERWRITE_NONE_TTL=False
    )
    got = r.config_get("mtoken.*")
    assert got["mtoken.default-ttl"] == "300"
    assert got["mtoken.refresh-on-verify"] == "none"
    assert got["mtoken.refresh-persistent"] == "no"
    assert got["mtoken.refresh-interval"] == "0"
    seed_policy(mtoken_conf, TIMEOUT=None)
    got = r.config_get("mtoken.*")
    assert (got["mtoken.default-ttl"], got["mtoken.refresh-on-verify"]) == ("0", "user")
    assert got["mtoken.refresh-persistent"] == "yes"


def test_without_apply_server_config_the_server_config_is_left_alone(r, mtoken_conf, user):
    mtoken_conf(TIMEOUT=1000, RESET_TOKEN_TTL_ON_USER_LOG_IN=False)
    MultiToken.create_token(user)
    got = r.config_get("mtoken.*")
    assert (got["mtoken.default-ttl"], got["mtoken.refresh-on-verify"]) == ("0", "token")


def test_the_seeds_cache_alias_setting_is_refused_with_a_hint(mtoken_conf):
    mtoken_conf(REDIS_DB_NAME="tokens")
    with pytest.raises(ImproperlyConfigured, match="REDIS_URL"):
        mtoken_settings()


@pytest.mark.parametrize("timeout", [0, -5, "1000", 1.5])
def test_a_timeout_that_is_not_positive_seconds_or_none_is_refused(mtoken_conf, timeout):
    mtoken_conf(TIMEOUT=timeout)
    with pytest.raises(ImproperlyConfigured, match="TIMEOUT"):
        mtoken_settings()


def test_reset_mode_token_slides_only_the_token_presented(r, mtoken_conf, user):
    seed_policy(mtoken_conf, TIMEOUT=500)
    used, _ = MultiToken.create_token(user)
    idle, _ = MultiToken.create_token(user)
    seed_policy(mtoken_conf, TIMEOUT=1000, RESET_TOKEN_TTL_ON_USER_LOG_IN="token")
    assert r.config_get("mtoken.refresh-on-verify")["mtoken.refresh-on-verify"] == "token"
    MultiToken.get_user_from_token(used.key)
    assert 995 <= ttl_of(r, entry_key(r, user, used)) <= 1000
    assert ttl_of(r, entry_key(r, user, idle)) <= 500


def test_a_server_config_that_differs_from_the_settings_is_logged(mtoken_conf, caplog):
    mtoken_conf(RESET_TOKEN_TTL_ON_USER_LOG_IN=False)  # asks for "none"; the server has "token"
    with caplog.at_level("WARNING", logger="mtoken"):
        get_client()
    assert "mtoken.refresh-on-verify none but the server has token" in caplog.text
    caplog.clear()
    mtoken_conf(RESET_TOKEN_TTL_ON_USER_LOG_IN="token")
    with caplog.at_level("WARNING", logger="mtoken"):
        get_client()
    assert caplog.text == ""


def make_client_for_tests():
    """A REDIS_CLIENT_FACTORY, named by dotted path in the test below."""
    import os

    import redis

    return redis.Redis.from_url(os.environ["MTOKEN_TEST_FACTORY_URL"])


@pytest.mark.parametrize(
    "factory", ["tests.test_seed_behaviour.make_client_for_tests", make_client_for_tests]
)
def test_redis_client_factory_wins_over_redis_url(
    r, mtoken_conf, redis_server, user, monkeypatch, factory
):
    monkeypatch.setenv("MTOKEN_TEST_FACTORY_URL", redis_server.url)
    mtoken_conf(REDIS_URL="redis://127.0.0.1:1/0", REDIS_CLIENT_FACTORY=factory)
    token, _ = MultiToken.create_token(user)
    assert MultiToken.get_user_from_token(token.key) == user
    assert r.dbsize() == 2
