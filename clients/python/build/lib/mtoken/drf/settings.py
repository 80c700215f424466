"""``settings.MTOKEN`` and the one shared ``mtoken.Client`` built from it.

The seed kept its policy in two places (the cache alias's ``TIMEOUT`` and
``DJFORGE_REDIS_MULTITOKENS``); here it is one dict. The refresh policy
(``RESET_TOKEN_TTL_ON_USER_LOG_IN``, ``OVERWRITE_NONE_TTL``) is the Redis
server's config, shared by every client of that server: this package writes
it only when ``APPLY_SERVER_CONFIG`` is True. See README.md.
"""

from __future__ import annotations

import logging
import threading
from typing import Any

from django.conf import settings as django_settings
from django.core.exceptions import ImproperlyConfigured
from django.core.signals import setting_changed
from django.utils.module_loading import import_string
from redis.exceptions import RedisError

from ..client import Client, _text

DEFAULTS: dict[str, Any] = {
    # Where the module runs. REDIS_CLIENT_FACTORY (a callable or its dotted
    # path, called with no arguments) wins over REDIS_URL.
    "REDIS_URL": "redis://localhost:6379/0",
    "REDIS_CLUSTER": False,
    "REDIS_CLIENT_FACTORY": None,
    # Token lifetime in seconds; None = never expires (the seed's TIMEOUT).
    "TIMEOUT": None,
    # The seed's refresh switches; they take effect through the server's
    # mtoken.refresh-on-verify / mtoken.refresh-persistent configs.
    # RESET_TOKEN_TTL_ON_USER_LOG_IN may also be "token" (slide only the
    # token presented).
    "RESET_TOKEN_TTL_ON_USER_LOG_IN": True,
    "OVERWRITE_NONE_TTL": True,
    # Write the configs above (and default-ttl) to the server with CONFIG SET.
    "APPLY_SERVER_CONFIG": False,
    # Seconds between two refreshes of one token (mtoken.refresh-interval);
    # None = leave the server's (60). Applied only with APPLY_SERVER_CONFIG.
    "REFRESH_INTERVAL": None,
    # The word before the token in the Authorization header.
    "KEYWORD": "Token",
}

# RESET_TOKEN_TTL_ON_USER_LOG_IN → mtoken.refresh-on-verify. True slides all
# the user's tokens (the seed); "token" slides only the one presented, so an
# idle stolen token still runs out while other devices stay active.
_REFRESH_MODES = {True: "user", False: "none", "user": "user", "token": "token", "none": "none"}

_SEED_ONLY = {
    "REDIS_DB_NAME": "mtoken talks to Redis itself: set MTOKEN['REDIS_URL'] "
    "(or REDIS_CLIENT_FACTORY) instead of naming a Django cache alias",
}


class MTokenSettings:
    """Attribute access to ``settings.MTOKEN`` over ``DEFAULTS``, checked."""

    def __init__(self, user: dict[str, Any] | None = None) -> None:
        if user is None:
            user = getattr(django_settings, "MTOKEN", {}) or {}
        for key in user:
            if key in _SEED_ONLY:
                raise ImproperlyConfigured(f"MTOKEN['{key}']: {_SEED_ONLY[key]}")
            if key not in DEFAULTS:
                known = ", ".join(sorted(DEFAULTS))
                raise ImproperlyConfigured(f"MTOKEN['{key}'] is not a setting (known: {known})")
        self._values = {**DEFAULTS, **user}
        mode = self._values["RESET_TOKEN_TTL_ON_USER_LOG_IN"]
        if not isinstance(mode, (bool, str)) or mode not in _REFRESH_MODES:
            raise ImproperlyConfigured(
                "MTOKEN['RESET_TOKEN_TTL_ON_USER_LOG_IN'] is True (\"user\"), "
                'False ("none") or "token"'
            )
        timeout = self._values["TIMEOUT"]
        if timeout is not None and (
            isinstance(timeout, bool) or not isinstance(timeout, int) or timeout <= 0
        ):
            raise ImproperlyConfigured(
                "MTOKEN['TIMEOUT'] is a number of seconds above 0, "
                "or None for tokens that never expire"
            )

        interval = self._values["REFRESH_INTERVAL"]
        if interval is not None and (
            isinstance(interval, bool) or not isinstance(interval, int) or interval < 0
        ):
            raise ImproperlyConfigured(
                "MTOKEN['REFRESH_INTERVAL'] is a number of seconds, 0 or more, or None"
            )

    def __getattr__(self, name: str) -> Any:
        try:
            return self._values[name]
        except KeyError:
            raise AttributeError(name) from None

    def server_config(self) -> dict[str, Any]:
        """The module configs that reproduce the seed's settings."""
        cfg: dict[str, Any] = {
            "mtoken.default-ttl": self.TIMEOUT or 0,
            "mtoken.refresh-on-verify": _REFRESH_MODES[self.RESET_TOKEN_TTL_ON_USER_LOG_IN],
            "mtoken.refresh-persistent": "yes" if self.OVERWRITE_NONE_TTL else "no",
        }
        if self.REFRESH_INTERVAL is not None:
            cfg["mtoken.refresh-interval"] = self.REFRESH_INTERVAL
        return cfg

    def create_ttl(self) -> int | None:
        """The TTL argument of MTOKEN.CREATE.

        With APPLY_SERVER_CONFIG the server's default-ttl is TIMEOUT and
        tokens are created without TTL, so they follow it: a later change of
        TIMEOUT reaches existing tokens at their next refresh, as in the seed.
        Otherwise each token carries TIMEOUT itself (0: never expires).
        """
        if self.APPLY_SERVER_CONFIG:
            return None
        return self.TIMEOUT or 0


log = logging.getLogger("mtoken")
_lock = threading.Lock()
_state: dict[str, Any] = {}


def mtoken_settings() -> MTokenSettings:
    with _lock:
        if "settings" not in _state:
            _state["settings"] = MTokenSettings()
        return _state["settings"]


def _build_redis(s: MTokenSettings) -> Any:
    factory = s.REDIS_CLIENT_FACTORY
    if factory is not None:
        if isinstance(factory, str):
            factory = import_string(factory)
        return factory()
    if s.REDIS_CLUSTER:
        from redis.cluster import RedisCluster

        return RedisCluster.from_url(s.REDIS_URL)
    import redis

    return redis.Redis.from_url(s.REDIS_URL)


def apply_server_config(client: Client, s: MTokenSettings | None = None) -> None:
    """CONFIG SET the module configs from ``s`` on every node the client
    reaches (all primaries and replicas of a cluster)."""
    s = s or mtoken_settings()
    r = client.redis
    for name, value in s.server_config().items():
        if hasattr(r, "get_nodes"):  # RedisCluster: CONFIG SET would reach one node only
            r.config_set(name, value, target_nodes=r.get_nodes())
        else:
            r.config_set(name, value)


def check_server_config(client: Client, s: MTokenSettings | None = None) -> list[str]:
    """The module configs that differ from what ``s`` asks for, each logged
    as a warning. A server that refuses CONFIG GET (ACL) is not checked."""
    s = s or mtoken_settings()
    wanted = s.server_config()
    del wanted["mtoken.default-ttl"]  # tokens carry TIMEOUT themselves
    try:
        got = client.redis.config_get("mtoken.*")
    except RedisError:
        return []
    got = {_text(k): _text(v) for k, v in got.items()}
    differ = []
    for name, value in wanted.items():
        if name in got and got[name] != str(value):
            differ.append(name)
            log.warning(
                "settings.MTOKEN asks for %s %s but the server has %s: set it on the "
                "server, or MTOKEN['APPLY_SERVER_CONFIG'] = True",
                name,
                value,
                got[name],
            )
    return differ


def get_client() -> Client:
    """The process-wide ``mtoken.Client`` for ``settings.MTOKEN``, built on
    first use (and the server configs applied then, when asked for)."""
    s = mtoken_settings()
    with _lock:
        client = _state.get("client")
        if client is None:
            client = Client(_build_redis(s))
            if s.APPLY_SERVER_CONFIG:
                apply_server_config(client, s)
            else:
                check_server_config(client, s)
            _state["client"] = client
        return client


def reset() -> None:
    """Forget the settings and the client (they are rebuilt on next use)."""
    with _lock:
        _state.clear()


def _on_setting_changed(*, setting: str, **kwargs: Any) -> None:
    if setting == "MTOKEN":
        reset()


setting_changed.connect(_on_setting_changed)
