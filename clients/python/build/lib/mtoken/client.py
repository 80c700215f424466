"""A typed wrapper of the mtoken module's commands (SPEC.md, "Commands").

One method per command; arguments and replies are converted, nothing is
cached, and every call is one round trip. The wrapper works with a plain
``redis.Redis`` and with ``redis.cluster.RedisCluster``: every mtoken command
declares its first argument as its key (first key 1, last key 1, step 1), so
redis-py's cluster client finds the slot from ``COMMAND`` like it does for
``GET``, and keeps its own MOVED / ASK / TRYAGAIN handling. A token's slot is
its user's slot by construction, so ``verify(token)`` reaches the node that
holds the user's keys.
"""

from __future__ import annotations

import builtins
import datetime as _dt
import hashlib
from dataclasses import dataclass
from typing import Any, Union

from redis.exceptions import RedisError

UserId = Union[str, bytes, int]
Token = Union[str, bytes]
Seconds = Union[int, _dt.timedelta]

__all__ = ["Client", "Device", "ModuleNotLoaded", "token_id"]


class ModuleNotLoaded(RedisError):
    """The server does not know the mtoken commands: load the module with
    ``redis-server --loadmodule /path/to/libmtoken.so``."""


@dataclass(frozen=True)
class Device:
    """One live token of a user, as ``MTOKEN.LIST`` shows it.

    - ``id``: the token's public id (30 hex chars, from its hash; not a
      secret). Pass it to ``Client.revoke``. ``token_id(token)`` gives the id
      of a token you hold.
    - ``name``: the label given at ``create``, or None.
    - ``created``, ``last_used``: timezone-aware UTC datetimes (millisecond
      precision). ``last_used`` moves at most once per
      ``mtoken.refresh-interval``.
    - ``expires``: timezone-aware UTC datetime, or None for a token that
      never expires.
    """

    id: str
    name: str | None
    created: _dt.datetime
    last_used: _dt.datetime
    expires: _dt.datetime | None


def token_id(token: Token) -> str:
    """The id ``MTOKEN.LIST`` shows for ``token`` (hex of the first 15 bytes
    of its SHA-256), computed locally."""
    raw = token.encode() if isinstance(token, str) else bytes(token)
    return hashlib.sha256(raw).digest()[:15].hex()


def _user_arg(user_id: UserId) -> bytes:
    if isinstance(user_id, bool):
        raise TypeError("a user id is a str, bytes or int, not a bool")
    if isinstance(user_id, int):
        return str(user_id).encode()
    if isinstance(user_id, str):
        return user_id.encode()
    if isinstance(user_id, (bytes, bytearray, memoryview)):
        return bytes(user_id)
    raise TypeError(f"a user id is a str, bytes or int, not {type(user_id).__name__}")


def _token_arg(token: Token) -> bytes:
    if isinstance(token, str):
        return token.encode()
    if isinstance(token, (bytes, bytearray, memoryview)):
        return bytes(token)
    raise TypeError(f"a token is a str or bytes, not {type(token).__name__}")


def _seconds(ttl: Seconds) -> int:
    if isinstance(ttl, _dt.timedelta):
        ttl = int(ttl.total_seconds())
    if isinstance(ttl, bool) or not isinstance(ttl, int) or ttl < 0:
        raise ValueError("ttl is a whole number of seconds, 0 or more (0: never expires)")
    return ttl


def _text(value: Any) -> Any:
    return value.decode() if isinstance(value, bytes) else value


def _when(ms: Any) -> _dt.datetime | None:
    ms = int(ms)
    if ms < 0:
        return None
    return _dt.datetime.fromtimestamp(ms / 1000, tz=_dt.timezone.utc)


def _fields(entry: Any) -> dict:
    """A LIST entry: a map under RESP3, a flat [k, v, k, v, ...] under RESP2."""
    if isinstance(entry, dict):
        pairs = entry.items()
    else:
        pairs = zip(entry[0::2], entry[1::2])
    return {_text(k): v for k, v in pairs}


def _unknown_command(err: Exception) -> bool:
    msg = str(err).lower()
    return "unknown command" in msg or "doesn't exist in redis commands" in msg


class Client:
    """The mtoken commands on a redis-py client.

    ``redis_client`` is a ``redis.Redis`` or a ``redis.cluster.RedisCluster``
    (either RESP2 or RESP3, with or without ``decode_responses``).

    User ids go to the server as bytes: str as UTF-8, int in decimal. User
    ids come back as str (UTF-8); pass ``decode=False`` to get bytes instead,
    for user ids that are not UTF-8 text.
    """

    def __init__(self, redis_client: Any, *, decode: bool = True) -> None:
        self.redis = redis_client
        self.decode = decode

    def _call(self, *args: Any) -> Any:
        try:
            return self.redis.execute_command(*args)
        except RedisError as err:
            if _unknown_command(err):
                raise ModuleNotLoaded(
                    f"{args[0]} is unknown to the server: is the mtoken module loaded? ({err})"
                ) from err
            raise

    def _user_out(self, value: Any) -> Any:
        if value is None:
            return None
        if self.decode:
            return _text(value)
        return value.encode() if isinstance(value, str) else value

    def create(
        self,
        user_id: UserId,
        ttl: Seconds | None = None,
        name: str | None = None,
    ) -> tuple[str, bool]:
        """A new token for ``user_id``: ``(token, first)``.

        ``ttl``: seconds (or a timedelta); 0 = never expires; None = the
        server's ``mtoken.default-ttl``, which the token then follows when a
        refresh slides it. ``first`` is True when the user had no live token.
        """
        args: list[Any] = ["MTOKEN.CREATE", _user_arg(user_id)]
        if ttl is not None:
            args += ["TTL", _seconds(ttl)]
        if name is not None:
            args += ["NAME", name]
        token, first = self._call(*args)
        return _text(token), bool(int(first))

    def verify(self, token: Token) -> Any:
        """The user id of a live token, or None (unknown, expired, revoked or
        malformed). May slide expiries, per ``mtoken.refresh-on-verify``."""
        return self._user_out(self._call("MTOKEN.VERIFY", _token_arg(token)))

    def verify_ro(self, token: Token) -> Any:
        """Like ``verify`` but never writes: works on read-only replicas."""
        return self._user_out(self._call("MTOKEN.VERIFY_RO", _token_arg(token)))

    def expire(self, token: Token) -> bool:
        """Log one device out. True if the token was live."""
        return bool(int(self._call("MTOKEN.EXPIRE", _token_arg(token))))

    def expire_all(self, user_id: UserId, except_token: Token | None = None) -> int:
        """Log the user out everywhere (except the device holding
        ``except_token``). Returns how many tokens were removed."""
        args: list[Any] = ["MTOKEN.EXPIREALL", _user_arg(user_id)]
        if except_token is not None:
            args += ["EXCEPT", _token_arg(except_token)]
        return int(self._call(*args))

    def list(self, user_id: UserId) -> builtins.list[Device]:
        """The user's live tokens, oldest first."""
        devices = []
        for entry in self._call("MTOKEN.LIST", _user_arg(user_id)) or []:
            f = _fields(entry)
            devices.append(
                Device(
                    id=_text(f["id"]),
                    name=_text(f.get("name")),
                    created=_when(f["created"]),
                    last_used=_when(f["last_used"]),
                    expires=_when(f["expires"]),
                )
            )
        return devices

    def revoke(self, user_id: UserId, id: str) -> bool:
        """Log out the device that ``list`` showed with this ``id``. False if
        the user has no such live token."""
        return bool(int(self._call("MTOKEN.REVOKE", _user_arg(user_id), id)))
