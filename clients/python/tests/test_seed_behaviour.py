"""The seed's own test list (djforge-redis-multitokens), through
mtoken.drf.MultiToken on a live server with the module, under each way the
migration guide (README.md, "Migrating from djforge-redis-multitokens")
documents to configure it:

- ``settings_table``: settings.MTOKEN holds the guide's settings table, row
  by row, and nothing else (the package writes the server configs);
- ``server_configs_by_hand``: the server configs set as the guide's load line
  says, and ``APPLY_SERVER_CONFIG = False`` (the package checks them).

Every test here runs under both. Where the seed inspected its cache (a
user's pickled hash list, one key per hash), these tests inspect the
module's keys: the user index (a sorted set of token digests) and one entry
per token, both in the user's slot. Where the seed mocked its settings, they
use Django's override_settings (pytest-django's ``settings``). Where the
seed called ``reset_tokens_ttl``, they make an authenticated request: that
is what called it.
"""

from __future__ import annotations

import hashlib
import time

import pytest
from django.contrib.auth import get_user_model
from rest_framework.test import APIClient

from mtoken.drf import MultiToken, get_client
from tests.servers import wait_until

User = get_user_model()

pytestmark = pytest.mark.django_db

# The guide's load line: each seed setting's module config, written by hand.
REFRESH_ON_VERIFY = {True: "user", False: "none"}


@pytest.fixture(params=["settings_table", "server_configs_by_hand"])
def seed(request, settings, r, redis_server):
    """Configure mtoken the way the guide says, from the seed's settings
    (TIMEOUT, RESET_TOKEN_TTL_ON_USER_LOG_IN, OVERWRITE_NONE_TTL); call the
    returned function again to change them, as a redeploy would."""

    def configure(TIMEOUT=None, RESET_TOKEN_TTL_ON_USER_LOG_IN=True, OVERWRITE_NONE_TTL=True):
        table = {
            "REDIS_URL": redis_server.url,
            "TIMEOUT": TIMEOUT,
            "RESET_TOKEN_TTL_ON_USER_LOG_IN": RESET_TOKEN_TTL_ON_USER_LOG_IN,
            "OVERWRITE_NONE_TTL": OVERWRITE_NONE_TTL,
        }
        if request.param == "server_configs_by_hand":
            r.config_set("mtoken.default-ttl", TIMEOUT or 0)
            refresh = REFRESH_ON_VERIFY[RESET_TOKEN_TTL_ON_USER_LOG_IN]
            r.config_set("mtoken.refresh-on-verify", refresh)
            r.config_set("mtoken.refresh-persistent", "yes" if OVERWRITE_NONE_TTL else "no")
            r.config_set("mtoken.refresh-interval", 0)
            table["APPLY_SERVER_CONFIG"] = False
        settings.MTOKEN = table
        get_client()  # start-up: configs applied, or checked

    configure()
    return configure


@pytest.fixture
def user(seed):
    return User.objects.create_user("tester", password="pw")


@pytest.fixture
def user2(seed):
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


def authenticated_request(token):
    """What triggered the seed's reset_tokens_ttl: a request that
    CachedTokenAuthentication lets in."""
    c = APIClient()
    c.credentials(HTTP_AUTHORIZATION=f"Token {token.key}")
    assert c.get("/me/").status_code == 200


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


def test_get_user_from_token_renews_nothing(r, seed, user):
    seed(TIMEOUT=500)
    token, _ = MultiToken.create_token(user)
    seed(TIMEOUT=1000)
    r.config_resetstat()
    assert MultiToken.get_user_from_token(token.key) == user
    assert ttl_of(r, entry_key(r, user, token)) <= 500
    assert "cmdstat_mtoken.verify" not in r.info("commandstats")  # VERIFY_RO only


# --- TTL: TIMEOUT, RESET_TOKEN_TTL_ON_USER_LOG_IN, OVERWRITE_NONE_TTL --------


def test_without_timeout_keys_never_expire(r, user):
    token, _ = MultiToken.create_token(user)
    assert ttl_of(r, index_key(r, user)) is None
    assert ttl_of(r, entry_key(r, user, token)) is None
    assert MultiToken.ttl(token) is None


def test_timeout_1000_gives_both_keys_a_ttl_of_about_1000(r, seed, user):
    seed(TIMEOUT=1000)
    token, _ = MultiToken.create_token(user)
    assert 995 <= ttl_of(r, index_key(r, user)) <= 1000
    assert 995 <= ttl_of(r, entry_key(r, user, token)) <= 1000
    assert 995 <= MultiToken.ttl(token) <= 1000


def test_reset_with_overwrite_none_ttl_gives_immortal_tokens_a_ttl(r, seed, user):
    token, _ = MultiToken.create_token(user)
    assert ttl_of(r, entry_key(r, user, token)) is None
    seed(TIMEOUT=1000, OVERWRITE_NONE_TTL=True)
    authenticated_request(token)
    assert 995 <= ttl_of(r, entry_key(r, user, token)) <= 1000
    assert 995 <= ttl_of(r, index_key(r, user)) <= 1000


def test_reset_without_overwrite_none_ttl_keeps_immortal_tokens_immortal(r, seed, user):
    token, _ = MultiToken.create_token(user)
    seed(TIMEOUT=1000, OVERWRITE_NONE_TTL=False)
    authenticated_request(token)
    assert ttl_of(r, entry_key(r, user, token)) is None
    assert ttl_of(r, index_key(r, user)) is None


def test_immortal_tokens_stay_immortal_when_timeout_is_none(r, user):
    token, _ = MultiToken.create_token(user)
    authenticated_request(token)
    assert ttl_of(r, entry_key(r, user, token)) is None
    assert ttl_of(r, index_key(r, user)) is None


def test_reset_extends_every_token_of_that_user_and_no_other(r, seed, user, user2):
    seed(TIMEOUT=500)
    mine, _ = MultiToken.create_token(user)
    my_other, _ = MultiToken.create_token(user)
    theirs, _ = MultiToken.create_token(user2)
    seed(TIMEOUT=1000)
    authenticated_request(mine)
    for t in (mine, my_other):
        assert 995 <= ttl_of(r, entry_key(r, user, t)) <= 1000
    assert 995 <= ttl_of(r, index_key(r, user)) <= 1000
    assert ttl_of(r, entry_key(r, user2, theirs)) <= 500
    assert ttl_of(r, index_key(r, user2)) <= 500


def test_no_reset_when_reset_token_ttl_on_user_log_in_is_false(r, seed, user):
    seed(TIMEOUT=500)
    token, _ = MultiToken.create_token(user)
    seed(TIMEOUT=1000, RESET_TOKEN_TTL_ON_USER_LOG_IN=False)
    authenticated_request(token)
    assert ttl_of(r, entry_key(r, user, token)) <= 500


def test_a_ttl_becomes_immortal_when_timeout_changes_to_none(r, seed, user):
    seed(TIMEOUT=1000)
    token, _ = MultiToken.create_token(user)
    assert ttl_of(r, entry_key(r, user, token)) is not None
    seed(TIMEOUT=None)
    authenticated_request(token)
    assert ttl_of(r, entry_key(r, user, token)) is None
    assert ttl_of(r, index_key(r, user)) is None


def test_a_ttl_becomes_2000_when_timeout_changes_to_2000(r, seed, user):
    seed(TIMEOUT=1000)
    token, _ = MultiToken.create_token(user)
    seed(TIMEOUT=2000)
    authenticated_request(token)
    assert 1995 <= ttl_of(r, entry_key(r, user, token)) <= 2000
    assert 1995 <= ttl_of(r, index_key(r, user)) <= 2000


def refreshes(r):
    return r.info("mtoken")["mtoken_refreshes"]


def test_every_authenticated_request_renews_as_in_the_seed(r, seed, user):
    # The module's own refresh-interval (60 s) would renew once a minute.
    seed(TIMEOUT=1000)
    token, _ = MultiToken.create_token(user)
    for _ in range(3):
        before, at = refreshes(r), time.time()
        # A renewal moves the expiry by the time passed: let a few ms pass.
        wait_until("the clock to move", lambda: time.time() > at + 0.005)
        authenticated_request(token)
        assert refreshes(r) > before


def test_ttl_of_a_token_that_is_not_live_is_0(user):
    token, _ = MultiToken.create_token(user)
    MultiToken.expire_token(token)
    assert MultiToken.ttl(token) == 0
    assert MultiToken.ttl("mt_not_a_token") == 0
