"""``settings.MTOKEN`` and the one shared ``mtoken.Client`` built from it.

The seed kept its policy in two places (the cache alias's ``TIMEOUT`` and
``DJFORGE_REDIS_MULTITOKENS``); here it is one dict. The expiry policy
(``TIMEOUT``, ``RESET_TOKEN_TTL_ON_USER_LOG_IN``, ``OVERWRITE_NONE_TTL``,
``REFRESH_INTERVAL``) is carried out by the Redis server, through four
module configs. When the client is built, the package either writes them
(``APPLY_SERVER_CONFIG = True``, the default) or reads them and refuses to
run if they differ (``False``: the configs are set by hand). Either way no
setting is silently ignored; nor are the seed's own settings, if left in
place (see ``_check_seed_settings``). README.md, "Migrating", has the table.
"""

from __future__ import annotations

import threading
from typing import Any

from django.conf import settings as django_settings
from django.core.exceptions import ImproperlyConfigured
from django.core.signals import setting_changed
from django.utils.module_loading import import_string
from redis.exceptions import RedisError

from .._protocol import text as _text
from ..client import Client

DEFAULTS: dict[str, Any] = {
    # Where the module runs. REDIS_CLIENT_FACTORY (a callable or its dotted
    # path, called with no arguments) wins over REDIS_URL.
    "REDIS_URL": "redis://localhost:6379/0",
    "REDIS_CLUSTER": False,
    "REDIS_CLIENT_FACTORY": None,
    # Token lifetime in seconds; None = never expires (the seed's TIMEOUT).
    # → mtoken.default-ttl; tokens follow it, so a change reaches them at
    # their next refresh, as in the seed.
    "TIMEOUT": None,
    # The seed's refresh switches → mtoken.refresh-on-verify and
    # mtoken.refresh-persistent. RESET_TOKEN_TTL_ON_USER_LOG_IN may also be
    # "token" (slide only the token presented).
    "RESET_TOKEN_TTL_ON_USER_LOG_IN": True,
    "OVERWRITE_NONE_TTL": True,
    # → mtoken.refresh-interval: seconds between two refreshes of one token.
    # 0 = every authenticated request, as the seed did.
    "REFRESH_INTERVAL": 0,
    # True: CONFIG SET the four configs above when the client is built.
    # False: CONFIG GET them and raise ImproperlyConfigured if they differ.
    "APPLY_SERVER_CONFIG": True,
    # The word before the token in the Authorization header.
    "KEYWORD": "Token",
    # The Redis that mtoken.drf.testing.MTokenTestRunner points tests at.
    "TEST_REDIS_URL": None,
}

# RESET_TOKEN_TTL_ON_USER_LOG_IN → mtoken.refresh-on-verify. True slides all
# the user's tokens (the seed); "token" slides only the one presented, so an
# idle stolen token still runs out while other devices stay active.
_REFRESH_MODES = {True: "user", False: "none", "user": "user", "token": "token", "none": "none"}

# The setting behind each module config, for error messages.
_SETTING_OF = {
    "mtoken.default-ttl": "TIMEOUT",
    "mtoken.refresh-on-verify": "RESET_TOKEN_TTL_ON_USER_LOG_IN",
    "mtoken.refresh-persistent": "OVERWRITE_NONE_TTL",
    "mtoken.refresh-interval": "REFRESH_INTERVAL",
}

_SEED_ONLY = {
    "REDIS_DB_NAME": "mtoken talks to Redis itself: set MTOKEN['REDIS_URL'] "
    "(or REDIS_CLIENT_FACTORY) instead of naming a Django cache alias",
}


def _seconds_or_none(name: str, value: Any, minimum: int) -> None:
    if value is None:
        return
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise ImproperlyConfigured(
            f"MTOKEN['{name}'] is a whole number of seconds, {minimum} or more"
            + (", or None for tokens that never expire" if name == "TIMEOUT" else "")
        )


def _cache_url(cache: dict) -> str:
    """The REDIS_URL a seed cache alias (django-redis-cache) pointed at."""
    location = cache.get("LOCATION", "localhost:6379")
    if isinstance(location, (list, tuple)):
        location = location[0]
    if "://" in str(location):
        return str(location)
    db = (cache.get("OPTIONS") or {}).get("DB", 0)
    return f"redis://{location}/{db}"


def _check_seed_settings(user: dict[str, Any], values: dict[str, Any]) -> None:
    """The seed's settings, if still present (the seed installed beside
    mtoken during a transition, or a half-done move), must not say something
    MTOKEN silently overrides: a key MTOKEN leaves to its default must agree
    with the seed's value for it."""
    seed = getattr(django_settings, "DJFORGE_REDIS_MULTITOKENS", None) or {}
    for key in ("RESET_TOKEN_TTL_ON_USER_LOG_IN", "OVERWRITE_NONE_TTL"):
        if key in seed and key not in user and seed[key] != values[key]:
            raise ImproperlyConfigured(
                f"DJFORGE_REDIS_MULTITOKENS['{key}'] is {seed[key]!r}, but mtoken reads "
                f"only MTOKEN, where {key} defaults to {values[key]!r}: "
                f"set MTOKEN['{key}'] = {seed[key]!r}"
            )
    alias = seed.get("REDIS_DB_NAME", "tokens")
    cache = (getattr(django_settings, "CACHES", None) or {}).get(alias)
    if cache is None:
        return
    # The seed read CACHES[alias].get('TIMEOUT', None): absent = never expire.
    cache_timeout = cache.get("TIMEOUT")
    if "TIMEOUT" not in user and cache_timeout != values["TIMEOUT"]:
        raise ImproperlyConfigured(
            f"CACHES['{alias}']['TIMEOUT'] is {cache_timeout!r}, but mtoken reads only "
            f"MTOKEN, where TIMEOUT defaults to None (never expire): "
            f"set MTOKEN['TIMEOUT'] = {cache_timeout!r}"
        )
    if "REDIS_URL" not in user and user.get("REDIS_CLIENT_FACTORY") is None:
        raise ImproperlyConfigured(
            f"CACHES['{alias}'] names the seed's Redis, but mtoken reads only MTOKEN, "
            f"where REDIS_URL defaults to {DEFAULTS['REDIS_URL']}: set "
            f"MTOKEN['REDIS_URL'] (for that cache: {_cache_url(cache)!r})"
        )


class MTokenSettings:
    """Attribute access to ``settings.MTOKEN`` over ``DEFAULTS``, checked.

    ``MTokenSettings()`` reads Django's settings (and checks the seed's, if
    left in place); ``MTokenSettings({...})`` takes the dict given."""

    def __init__(self, user: dict[str, Any] | None = None) -> None:
        from_django = user is None
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
        _seconds_or_none("TIMEOUT", self._values["TIMEOUT"], 1)
        if self._values["REFRESH_INTERVAL"] is None:
            raise ImproperlyConfigured(
                "MTOKEN['REFRESH_INTERVAL'] is a number of seconds (0: every request, "
                "as the seed; the module's own default is 60)"
            )
        _seconds_or_none("REFRESH_INTERVAL", self._values["REFRESH_INTERVAL"], 0)
        if from_django:
            _check_seed_settings(user, self._values)

    def __getattr__(self, name: str) -> Any:
        try:
            return self._values[name]
        except KeyError:
            raise AttributeError(name) from None

    def server_config(self) -> dict[str, str]:
        """The module configs that carry out these settings, as CONFIG GET
        shows them."""
        return {
            "mtoken.default-ttl": str(self.TIMEOUT or 0),
            "mtoken.refresh-on-verify": _REFRESH_MODES[self.RESET_TOKEN_TTL_ON_USER_LOG_IN],
            "mtoken.refresh-persistent": "yes" if self.OVERWRITE_NONE_TTL else "no",
            "mtoken.refresh-interval": str(self.REFRESH_INTERVAL),
        }

    def loadmodule_line(self) -> str:
        """The server's load line that sets the same configs by hand."""
        args = " ".join(
            f"{k.split('.', 1)[1]} {v}" for k, v in self.server_config().items()
        )
        return f"--loadmodule /path/to/libmtoken.so {args}"


_lock = threading.RLock()
_state: dict[str, Any] = {}


def mtoken_settings() -> MTokenSettings:
    """The checked ``settings.MTOKEN`` (defaults filled in). Rebuilt after a
    change of ``settings.MTOKEN`` (``override_settings(MTOKEN=...)``)."""
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


def _nodes(r: Any) -> list[Any]:
    """Every node CONFIG must reach: all of a cluster's, or the one server."""
    if hasattr(r, "get_nodes"):  # RedisCluster: CONFIG would reach one node only
        return list(r.get_nodes())
    return [None]


def apply_server_config(client: Client, s: MTokenSettings | None = None) -> None:
    """CONFIG SET the module configs from ``s`` on every node the client
    reaches (all primaries and replicas of a cluster). Raises RedisError."""
    s = s or mtoken_settings()
    r = client.redis
    for node in _nodes(r):
        for name, value in s.server_config().items():
            if node is None:
                r.config_set(name, value)
            else:
                r.config_set(name, value, target_nodes=node)


def check_server_config(client: Client, s: MTokenSettings | None = None) -> list[str]:
    """One line per module config, on any node, that differs from what
    ``s`` asks for (empty: the server carries out the settings). Raises
    RedisError if CONFIG GET is refused."""
    s = s or mtoken_settings()
    r = client.redis
    differ = []
    for node in _nodes(r):
        if node is None:
            got = r.config_get("mtoken.*")
        else:
            got = r.config_get("mtoken.*", target_nodes=node)
        got = {_text(k): _text(v) for k, v in got.items()}
        where = "" if node is None else f" on {node.name}"
        for name, value in s.server_config().items():
            if got.get(name) != value:
                differ.append(
                    f"{name} is {got.get(name, '(missing: is the module loaded?)')}{where}, "
                    f"MTOKEN['{_SETTING_OF[name]}'] asks for {value}"
                )
    return differ


def _prepare_server(client: Client, s: MTokenSettings) -> None:
    how = (
        f"set them on the server by hand (redis.conf or `{s.loadmodule_line()}`, "
        f"or CONFIG SET) and MTOKEN['APPLY_SERVER_CONFIG'] = False"
    )
    if s.APPLY_SERVER_CONFIG:
        try:
            apply_server_config(client, s)
        except RedisError as err:
            raise ImproperlyConfigured(
                f"mtoken: could not CONFIG SET the module configs ({err}). Grant the "
                f"Redis user +config|set and load the module, or {how}"
            ) from err
        return
    try:
        differ = check_server_config(client, s)
    except RedisError as err:
        raise ImproperlyConfigured(
            f"mtoken: could not CONFIG GET mtoken.* to check the server against "
            f"settings.MTOKEN ({err}). Grant the Redis user +config|get, or set "
            f"MTOKEN['APPLY_SERVER_CONFIG'] = True"
        ) from err
    if differ:
        raise ImproperlyConfigured(
            "mtoken: the Redis server does not carry out settings.MTOKEN "
            "(APPLY_SERVER_CONFIG is False, so the package does not set it):\n  "
            + "\n  ".join(differ)
            + "\nChange the server (`CONFIG SET <name> <value>`, and redis.conf or the load "
            f"line: `{s.loadmodule_line()}`), or change those MTOKEN settings, or set "
            "MTOKEN['APPLY_SERVER_CONFIG'] = True"
        )


def get_client() -> Client:
    """The process-wide ``mtoken.Client`` for ``settings.MTOKEN``, built on
    first use: the server configs are then applied, or checked
    (``ImproperlyConfigured`` if they differ; raised again on every call
    until fixed)."""
    with _lock:
        client = _state.get("client")
        if client is None:
            s = mtoken_settings()
            client = Client(_build_redis(s))
            _prepare_server(client, s)
            _state["client"] = client
        return client


def reset() -> None:
    """Forget the settings and the client (they are rebuilt on next use)."""
    with _lock:
        _state.clear()


def _on_setting_changed(*, setting: str, **kwargs: Any) -> None:
    if setting in ("MTOKEN", "CACHES", "DJFORGE_REDIS_MULTITOKENS"):
        reset()


setting_changed.connect(_on_setting_changed)
