"""What both clients share: argument building and reply parsing for every
mtoken command, with no I/O.

Each operation is a generator: it yields the command's arguments, receives
the raw reply, and returns the parsed value. ``mtoken.Client`` drives it with
``execute_command``, ``mtoken.AsyncClient`` with ``await execute_command``;
an operation that needs two commands (``device``) yields twice. So the two
clients cannot drift apart: neither builds an argument nor parses a reply.
"""

from __future__ import annotations

import datetime as _dt
import hashlib
import math
from collections.abc import Generator
from dataclasses import dataclass
from typing import Any, Optional, Union

from redis.exceptions import RedisError

UserId = Union[str, bytes, int]
Token = Union[str, bytes]
Seconds = Union[int, _dt.timedelta]

# An operation: yields a command (a list of arguments), is sent its reply.
Op = Generator[list, Any, Any]


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
    - ``scopes``: the token's scopes, or None for a token created without
      scopes (it holds every scope).
    """

    id: str
    name: Optional[str]
    created: _dt.datetime
    last_used: _dt.datetime
    expires: Optional[_dt.datetime]
    scopes: Optional[tuple[str, ...]] = None

    def ttl(self, now: Optional[_dt.datetime] = None) -> Optional[int]:
        """Whole seconds left (rounded up, so a live token is never 0), or
        None for a token that never expires."""
        if self.expires is None:
            return None
        now = now or _dt.datetime.now(_dt.timezone.utc)
        return max(0, math.ceil((self.expires - now).total_seconds()))


def token_id(token: Token) -> str:
    """The id ``MTOKEN.LIST`` shows for ``token`` (hex of the first 15 bytes
    of its SHA-256, the module's digest), computed locally."""
    return hashlib.sha256(token_arg(token)).digest()[:15].hex()


def user_arg(user_id: UserId) -> bytes:
    if isinstance(user_id, bool):
        raise TypeError("a user id is a str, bytes or int, not a bool")
    if isinstance(user_id, int):
        return str(user_id).encode()
    if isinstance(user_id, str):
        return user_id.encode()
    if isinstance(user_id, (bytes, bytearray, memoryview)):
        return bytes(user_id)
    raise TypeError(f"a user id is a str, bytes or int, not {type(user_id).__name__}")


def token_arg(token: Token) -> bytes:
    if isinstance(token, str):
        return token.encode()
    if isinstance(token, (bytes, bytearray, memoryview)):
        return bytes(token)
    raise TypeError(f"a token is a str or bytes, not {type(token).__name__}")


def seconds(ttl: Seconds) -> int:
    if isinstance(ttl, _dt.timedelta):
        ttl = int(ttl.total_seconds())
    if isinstance(ttl, bool) or not isinstance(ttl, int) or ttl < 0:
        raise ValueError("ttl is a whole number of seconds, 0 or more (0: never expires)")
    return ttl


def text(value: Any) -> Any:
    return value.decode() if isinstance(value, bytes) else value


def _when(ms: Any) -> Optional[_dt.datetime]:
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
    return {text(k): v for k, v in pairs}


def _device(entry: Any) -> Device:
    f = _fields(entry)
    return Device(
        id=text(f["id"]),
        name=text(f.get("name")),
        created=_when(f["created"]),
        last_used=_when(f["last_used"]),
        expires=_when(f["expires"]),
        scopes=None if f.get("scopes") is None else tuple(text(x) for x in f["scopes"]),
    )


def unknown_command(err: Exception) -> bool:
    msg = str(err).lower()
    return "unknown command" in msg or "doesn't exist in redis commands" in msg


def module_not_loaded(args: list, err: Exception) -> ModuleNotLoaded:
    return ModuleNotLoaded(
        f"{args[0]} is unknown to the server: is the mtoken module loaded? ({err})"
    )


def user_out(value: Any, decode: bool) -> Any:
    if value is None:
        return None
    if decode:
        return text(value)
    return value.encode() if isinstance(value, str) else value


# --- one generator per operation --------------------------------------------


def scope_list(scopes: Any) -> list:
    if scopes is None:
        return []
    if isinstance(scopes, (str, bytes)):
        raise TypeError("scopes is a list of names, e.g. ['orders:read'], not one string")
    return list(scopes)


def create(
    user_id: UserId,
    ttl: Optional[Seconds],
    name: Optional[str],
    scopes: Any = None,
) -> Op:
    args: list = ["MTOKEN.CREATE", user_arg(user_id)]
    if ttl is not None:
        args += ["TTL", seconds(ttl)]
    if name is not None:
        args += ["NAME", name]
    for scope in scope_list(scopes):
        args += ["SCOPE", scope]
    token, first = yield args
    return text(token), bool(int(first))


def _scoped(args: list, scope: Optional[str]) -> list:
    return args if scope is None else args + ["SCOPE", scope]


def verify(token: Token, decode: bool, scope: Optional[str] = None) -> Op:
    return user_out((yield _scoped(["MTOKEN.VERIFY", token_arg(token)], scope)), decode)


def verify_ro(token: Token, decode: bool, scope: Optional[str] = None) -> Op:
    return user_out((yield _scoped(["MTOKEN.VERIFY_RO", token_arg(token)], scope)), decode)


def rotate(token: Token, grace: Optional[Seconds]) -> Op:
    args: list = ["MTOKEN.ROTATE", token_arg(token)]
    if grace is not None:
        args += ["GRACE", seconds(grace)]
    new = yield args
    return None if new is None else text(new)


def channel(user_id: UserId) -> Op:
    return text((yield ["MTOKEN.CHANNEL", user_arg(user_id)]))


def expire(token: Token) -> Op:
    return bool(int((yield ["MTOKEN.EXPIRE", token_arg(token)])))


def expire_all(user_id: UserId, except_token: Optional[Token]) -> Op:
    args: list = ["MTOKEN.EXPIREALL", user_arg(user_id)]
    if except_token is not None:
        args += ["EXCEPT", token_arg(except_token)]
    return int((yield args))


def list_devices(user_id: UserId) -> Op:
    return [_device(e) for e in (yield ["MTOKEN.LIST", user_arg(user_id)]) or []]


def revoke(user_id: UserId, id: str) -> Op:
    return bool(int((yield ["MTOKEN.REVOKE", user_arg(user_id), id])))


def device(token: Token) -> Op:
    """The ``Device`` of a live token, or None: ``VERIFY_RO`` (which never
    writes, so reading a token's expiry does not slide it) and then the
    user's ``LIST``. The module has no one-token read; this costs two round
    trips and O(N) for a user with N tokens."""
    user = yield ["MTOKEN.VERIFY_RO", token_arg(token)]
    if user is None:
        return None
    wanted = token_id(token)
    entries = yield ["MTOKEN.LIST", user_arg(user)]
    for entry in entries or []:
        d = _device(entry)
        if d.id == wanted:
            return d
    return None  # expired or revoked between the two commands


def run(op: Op, execute: Any) -> Any:
    """Drive ``op`` with a blocking ``execute(*args)``."""
    try:
        args = next(op)
        while True:
            try:
                reply = execute(*args)
            except RedisError as err:
                if unknown_command(err):
                    raise module_not_loaded(args, err) from err
                raise
            args = op.send(reply)
    except StopIteration as done:
        return done.value


async def run_async(op: Op, execute: Any) -> Any:
    """Drive ``op`` with an ``async execute(*args)``."""
    try:
        args = next(op)
        while True:
            try:
                reply = await execute(*args)
            except RedisError as err:
                if unknown_command(err):
                    raise module_not_loaded(args, err) from err
                raise
            args = op.send(reply)
    except StopIteration as done:
        return done.value
