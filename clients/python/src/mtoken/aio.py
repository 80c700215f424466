"""``mtoken.AsyncClient``: the mtoken commands on ``redis.asyncio`` (a
``redis.asyncio.Redis`` or ``redis.asyncio.cluster.RedisCluster``), for
async Django views, Channels consumers and other asyncio code.

Same methods, arguments and results as ``mtoken.Client``, awaited. Both
clients run the same operations from ``_protocol``: only the I/O differs.
"""

from __future__ import annotations

import builtins
from collections.abc import Iterable
from typing import Any

from . import _protocol as p
from ._protocol import Device, Seconds, Token, UserId

__all__ = ["AsyncClient"]


class AsyncClient:
    """The mtoken commands on a ``redis.asyncio`` client (RESP2 or RESP3,
    with or without ``decode_responses``). See ``mtoken.Client``."""

    def __init__(self, redis_client: Any, *, decode: bool = True) -> None:
        self.redis = redis_client
        self.decode = decode

    async def _run(self, op: p.Op) -> Any:
        return await p.run_async(op, self.redis.execute_command)

    async def create(
        self,
        user_id: UserId,
        ttl: Seconds | None = None,
        name: str | None = None,
        scopes: Iterable[str] | None = None,
    ) -> tuple[str, bool]:
        return await self._run(p.create(user_id, ttl, name, scopes))

    create_token = create

    async def verify(self, token: Token, scope: str | None = None) -> Any:
        return await self._run(p.verify(token, self.decode, scope))

    async def verify_ro(self, token: Token, scope: str | None = None) -> Any:
        return await self._run(p.verify_ro(token, self.decode, scope))

    async def rotate(self, token: Token, grace: Seconds | None = None) -> str | None:
        return await self._run(p.rotate(token, grace))

    async def channel(self, user_id: UserId) -> str:
        return await self._run(p.channel(user_id))

    async def expire(self, token: Token) -> bool:
        return await self._run(p.expire(token))

    async def expire_all(self, user_id: UserId, except_token: Token | None = None) -> int:
        return await self._run(p.expire_all(user_id, except_token))

    async def list(self, user_id: UserId) -> builtins.list[Device]:
        return await self._run(p.list_devices(user_id))

    async def revoke(self, user_id: UserId, id: str) -> bool:
        return await self._run(p.revoke(user_id, id))

    async def device(self, token: Token) -> Device | None:
        return await self._run(p.device(token))

    async def ttl(self, token: Token) -> int | None:
        d = await self.device(token)
        return 0 if d is None else d.ttl()
