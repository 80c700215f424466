"""settings.MTOKEN: how each seed setting reaches the server, and that no
combination of settings (MTOKEN's, or the seed's left in place) behaves
differently from what it says without an ImproperlyConfigured at start-up
(the first get_client()) naming the setting or server config to change."""

from __future__ import annotations

import pytest
import redis
from django.contrib.auth import get_user_model
from django.core.exceptions import ImproperlyConfigured

from mtoken.drf import MultiToken, get_client, mtoken_settings
from mtoken.drf.settings import MTokenSettings

User = get_user_model()

pytestmark = pytest.mark.django_db

SEED_CONFIG = {  # what the settings table's defaults ask of the server
    "mtoken.default-ttl": "0",
    "mtoken.refresh-on-verify": "user",
    "mtoken.refresh-persistent": "yes",
    "mtoken.refresh-interval": "0",
}


def server_config(r):
    got = r.config_get("mtoken.*")
    return {k: got[k] for k in SEED_CONFIG}


def set_by_hand(r, **configs):
    for name, value in {**SEED_CONFIG, **configs}.items():
        r.config_set(name, value)


# --- APPLY_SERVER_CONFIG = True (the default) -------------------------------


def test_the_settings_table_alone_writes_the_four_module_configs(r, mtoken_conf):
    mtoken_conf(TIMEOUT=300, RESET_TOKEN_TTL_ON_USER_LOG_IN=False, OVERWRITE_NONE_TTL=False)
    get_client()
    assert server_config(r) == {
        "mtoken.default-ttl": "300",
        "mtoken.refresh-on-verify": "none",
        "mtoken.refresh-persistent": "no",
        "mtoken.refresh-interval": "0",
    }
    mtoken_conf(TIMEOUT=None)  # a redeploy with new settings
    get_client()
    assert server_config(r) == SEED_CONFIG


def test_refresh_interval_and_token_mode_are_written_when_given(r, mtoken_conf):
    mtoken_conf(RESET_TOKEN_TTL_ON_USER_LOG_IN="token", REFRESH_INTERVAL=60)
    get_client()
    got = server_config(r)
    assert (got["mtoken.refresh-on-verify"], got["mtoken.refresh-interval"]) == ("token", "60")


@pytest.fixture
def acl_user(r, redis_server):
    """A Redis user allowed everything but CONFIG; returns its REDIS_URL."""
    r.acl_setuser("app", enabled=True, passwords=["+pw"], keys=["*"], commands=["+@all", "-config"])
    yield f"redis://app:pw@127.0.0.1:{redis_server.port}/0"
    r.acl_deluser("app")


def test_a_server_that_refuses_config_set_is_a_start_up_error(mtoken_conf, acl_user):
    mtoken_conf(REDIS_URL=acl_user)
    fix = r"\+config\|set.*APPLY_SERVER_CONFIG'\] = False"
    with pytest.raises(ImproperlyConfigured, match=fix):
        get_client()
    with pytest.raises(ImproperlyConfigured):  # not cached: every use says so
        get_client()


def test_a_server_without_the_module_is_a_start_up_error(settings, bare_server):
    settings.MTOKEN = {"REDIS_URL": bare_server.url}
    with pytest.raises(ImproperlyConfigured, match="mtoken.default-ttl"):
        get_client()


# --- APPLY_SERVER_CONFIG = False: configs set by hand, checked --------------


def test_configs_set_by_hand_that_match_are_left_alone(r, mtoken_conf, user):
    set_by_hand(r, **{"mtoken.default-ttl": "1000"})
    mtoken_conf(TIMEOUT=1000, APPLY_SERVER_CONFIG=False)
    MultiToken.create_token(user)
    assert server_config(r)["mtoken.default-ttl"] == "1000"


@pytest.mark.parametrize(
    "settings_, config, wanted",
    [
        ({"TIMEOUT": 1000}, "mtoken.default-ttl is 0", "MTOKEN['TIMEOUT'] asks for 1000"),
        (
            {"RESET_TOKEN_TTL_ON_USER_LOG_IN": False},
            "mtoken.refresh-on-verify is user",
            "MTOKEN['RESET_TOKEN_TTL_ON_USER_LOG_IN'] asks for none",
        ),
        (
            {"OVERWRITE_NONE_TTL": False},
            "mtoken.refresh-persistent is yes",
            "MTOKEN['OVERWRITE_NONE_TTL'] asks for no",
        ),
        (
            {"REFRESH_INTERVAL": 60},
            "mtoken.refresh-interval is 0",
            "MTOKEN['REFRESH_INTERVAL'] asks for 60",
        ),
    ],
)
def test_each_config_that_differs_from_its_setting_is_a_start_up_error(
    r, mtoken_conf, settings_, config, wanted
):
    set_by_hand(r)
    mtoken_conf(APPLY_SERVER_CONFIG=False, **settings_)
    with pytest.raises(ImproperlyConfigured) as err:
        get_client()
    assert f"{config}, {wanted}" in str(err.value)
    assert server_config(r) == SEED_CONFIG  # nothing written


def test_the_module_defaults_are_not_the_seeds_and_the_error_says_how_to_fix_it(r, mtoken_conf):
    # The server as loaded with no configs: refresh the token presented, at
    # most once a minute. The seed's settings ask for more.
    mtoken_conf(TIMEOUT=1000, APPLY_SERVER_CONFIG=False)
    with pytest.raises(ImproperlyConfigured) as err:
        get_client()
    msg = str(err.value)
    for line in (
        "mtoken.default-ttl is 0, MTOKEN['TIMEOUT'] asks for 1000",
        "mtoken.refresh-on-verify is token, MTOKEN['RESET_TOKEN_TTL_ON_USER_LOG_IN'] asks for user",
        "mtoken.refresh-interval is 60, MTOKEN['REFRESH_INTERVAL'] asks for 0",
        "--loadmodule /path/to/libmtoken.so default-ttl 1000 refresh-on-verify user "
        "refresh-persistent yes refresh-interval 0",
    ):
        assert line in msg
    assert "refresh-persistent is" not in msg  # that one agrees


def test_a_timeout_changed_in_settings_but_not_on_the_server_is_a_start_up_error(
    r, mtoken_conf, user
):
    set_by_hand(r, **{"mtoken.default-ttl": "1000"})
    mtoken_conf(TIMEOUT=1000, APPLY_SERVER_CONFIG=False)
    MultiToken.create_token(user)
    mtoken_conf(TIMEOUT=2000, APPLY_SERVER_CONFIG=False)
    with pytest.raises(ImproperlyConfigured, match="mtoken.default-ttl is 1000"):
        MultiToken.create_token(user)


def test_a_server_that_refuses_config_get_is_a_start_up_error(r, mtoken_conf, acl_user):
    set_by_hand(r)
    mtoken_conf(REDIS_URL=acl_user, APPLY_SERVER_CONFIG=False)
    with pytest.raises(ImproperlyConfigured, match=r"\+config\|get"):
        get_client()


# --- the seed's own settings, left in place ---------------------------------


def test_the_seeds_cache_alias_setting_is_refused_with_a_hint(mtoken_conf):
    mtoken_conf(REDIS_DB_NAME="tokens")
    with pytest.raises(ImproperlyConfigured, match="REDIS_URL"):
        mtoken_settings()


def test_a_seed_cache_timeout_that_mtoken_would_ignore_is_an_error(settings, mtoken_conf):
    settings.CACHES = {
        "default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"},
        "tokens": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache", "TIMEOUT": 3600},
    }
    with pytest.raises(ImproperlyConfigured, match=r"set MTOKEN\['TIMEOUT'\] = 3600"):
        mtoken_settings()
    mtoken_conf(TIMEOUT=3600)  # the table's row: now it agrees
    assert mtoken_settings().TIMEOUT == 3600


def test_a_seed_cache_alias_without_redis_url_names_the_url_to_set(settings, redis_server):
    settings.CACHES = {
        "default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"},
        "sessions_and_tokens": {
            "BACKEND": "redis_cache.RedisCache",
            "LOCATION": "cache.internal:6380",
            "OPTIONS": {"DB": 2},
        },
    }
    settings.DJFORGE_REDIS_MULTITOKENS = {"REDIS_DB_NAME": "sessions_and_tokens"}
    settings.MTOKEN = {}
    with pytest.raises(ImproperlyConfigured, match="'redis://cache.internal:6380/2'"):
        mtoken_settings()
    settings.MTOKEN = {"REDIS_URL": redis_server.url}
    assert mtoken_settings().REDIS_URL == redis_server.url


@pytest.mark.parametrize("key", ["RESET_TOKEN_TTL_ON_USER_LOG_IN", "OVERWRITE_NONE_TTL"])
def test_a_seed_switch_that_mtoken_would_ignore_is_an_error(settings, mtoken_conf, key):
    settings.DJFORGE_REDIS_MULTITOKENS = {key: False}
    with pytest.raises(ImproperlyConfigured, match=rf"set MTOKEN\['{key}'\] = False"):
        mtoken_settings()
    mtoken_conf(**{key: False})
    assert getattr(mtoken_settings(), key) is False


def test_seed_settings_that_agree_with_mtoken_are_fine(settings, mtoken_conf):
    settings.DJFORGE_REDIS_MULTITOKENS = {"RESET_TOKEN_TTL_ON_USER_LOG_IN": True}
    settings.CACHES = {
        "default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"},
        "tokens": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache", "TIMEOUT": None},
    }
    assert mtoken_settings().TIMEOUT is None


# --- values -----------------------------------------------------------------


@pytest.mark.parametrize("timeout", [0, -5, "1000", 1.5])
def test_a_timeout_that_is_not_positive_seconds_or_none_is_refused(mtoken_conf, timeout):
    mtoken_conf(TIMEOUT=timeout)
    with pytest.raises(ImproperlyConfigured, match="TIMEOUT"):
        mtoken_settings()


def test_an_unknown_setting_is_refused(mtoken_conf):
    mtoken_conf(TIMOUT=5)
    with pytest.raises(ImproperlyConfigured, match="TIMOUT"):
        mtoken_settings()


def test_the_settings_accessor_follows_override_settings(settings, mtoken_conf):
    mtoken_conf(TIMEOUT=10)
    assert mtoken_settings().TIMEOUT == 10
    mtoken_conf(TIMEOUT=20)
    assert mtoken_settings().TIMEOUT == 20
    assert MTokenSettings({"TIMEOUT": 5}).server_config()["mtoken.default-ttl"] == "5"


def make_client_for_tests():
    """A REDIS_CLIENT_FACTORY, named by dotted path in the test below."""
    import os

    return redis.Redis.from_url(os.environ["MTOKEN_TEST_FACTORY_URL"])


@pytest.fixture
def user(mtoken_conf):
    return User.objects.create_user("tester", password="pw")


@pytest.mark.parametrize(
    "factory", ["tests.test_settings.make_client_for_tests", make_client_for_tests]
)
def test_redis_client_factory_wins_over_redis_url(
    r, mtoken_conf, redis_server, user, monkeypatch, factory
):
    monkeypatch.setenv("MTOKEN_TEST_FACTORY_URL", redis_server.url)
    mtoken_conf(REDIS_URL="redis://127.0.0.1:1/0", REDIS_CLIENT_FACTORY=factory)
    token, _ = MultiToken.create_token(user)
    assert MultiToken.get_user_from_token(token.key) == user
    assert r.dbsize() == 2
