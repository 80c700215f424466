"""A typed wrapper of the mtoken module's commands (README.md, "Command reference").

One method per command; arguments and replies are converted, nothing is
cached, and every call is one round trip (``device``/``ttl``: two). The
wrapper works with a plain ``redis.Redis`` and with
``redis.cluster.RedisCluster``: every mtoken command declares its first
argument as its key (first key 1, last key 1, step 1), so redis-py's cluster
client finds the slot from ``COMMAND`` like it does for ``GET``, and keeps its
own MOVED / ASK / TRYAGAIN handling. A token's slot is its user's slot by
construction, so ``verify(token)`` reaches the node that holds the user's
keys. Argument building and reply parsing live in ``_protocol`` and are
shared with ``mtoken.AsyncClient``.
"""

from __future__ import annotations

import builtins
from collections.abc import Iterable
from typing import Any

from . import _protocol as p
from ._protocol import Device, ModuleNotLoaded, Seconds, Token, UserId, token_id

__all__ = ["Client", "Device", "ModuleNotLoaded", "token_id"]


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

    def _run(self, op: p.Op) -> Any:
        return p.run(op, self.redis.execute_command)

    def create(
        self,
        user_id: UserId,
        ttl: Seconds | None = None,
        name: str | None = None,
        scopes: Iterable[str] | None = None,
    ) -> tuple[str, bool]:
        """A new token for ``user_id``: ``(token, first)``.

        ``ttl``: seconds (or a timedelta); 0 = never expires; None = the
        server's ``mtoken.default-ttl``, which the token then follows when a
        refresh slides it. ``scopes``: the only scopes the token holds (at
        most 16 names of ``A-Z a-z 0-9 _ . : / -``); None = every scope.
        ``first`` is True when the user had no live token.
        """
        return self._run(p.create(user_id, ttl, name, scopes))

    create_token = create

    def verify(self, token: Token, scope: str | None = None) -> Any:
        """The user id of a live token, or None (unknown, expired, revoked,
        malformed, or without ``scope`` when one is given). May slide
        expiries, per ``mtoken.refresh-on-verify``."""
        return self._run(p.verify(token, self.decode, scope))

    def verify_ro(self, token: Token, scope: str | None = None) -> Any:
        """Like ``verify`` but never writes: no expiry slides, and it works
        on read-only replicas."""
        return self._run(p.verify_ro(token, self.decode, scope))

    def rotate(self, token: Token, grace: Seconds | None = None) -> str | None:
        """A new token for the device holding ``token`` (same id, name,
        scopes; fresh TTL), or None. The old token keeps working for
        ``grace`` seconds (None: the server's 30); presented later, it logs
        the device out (reuse detection)."""
        return self._run(p.rotate(token, grace))

    def channel(self, user_id: UserId) -> str:
        """The pub/sub channel of the user's logout events (``mtoken.events``)."""
        return self._run(p.channel(user_id))

    def expire(self, token: Token) -> bool:
        """Log one device out. True if the token was live."""
        return self._run(p.expire(token))

    def expire_all(self, user_id: UserId, except_token: Token | None = None) -> int:
        """Log the user out everywhere (except the device holding
        ``except_token``). Returns how many tokens were removed."""
        return self._run(p.expire_all(user_id, except_token))

    def list(self, user_id: UserId) -> builtins.list[Device]:
        """The user's live tokens, oldest first."""
        return self._run(p.list_devices(user_id))

    def revoke(self, user_id: UserId, id: str) -> bool:
        """Log out the device that ``list`` showed with this ``id``. False if
        the user has no such live token."""
        return self._run(p.revoke(user_id, id))

    def device(self, token: Token) -> Device | None:
        """The ``Device`` of a token you hold, or None if it is not live.
        Writes nothing (``VERIFY_RO`` + ``LIST``)."""
        return self._run(p.device(token))

    def ttl(self, token: Token) -> int | None:
        """Seconds the token has left; None if it never expires; 0 if it is
        not live (unknown, expired, revoked, malformed). Writes nothing."""
        d = self.device(token)
        return 0 if d is None else d.ttl()
