"""mtoken.AsyncClient on redis.asyncio against the live servers: standalone
over RESP2, RESP3 and decoded replies, and a 3-node cluster. Each test runs
its coroutine with asyncio.run (no plugin needed)."""

from __future__ import annotations

import asyncio
import datetime as dt
import inspect

import pytest
import redis
import redis.asyncio as aredis
from redis.asyncio.cluster import ClusterNode, RedisCluster

import mtoken
from tests.conftest import DEFAULT_CONFIG

RESP3 = int(redis.__version__.split(".")[0]) >= 5  # redis-py 4.x speaks RESP2 only
needs_resp3 = pytest.mark.skipif(not RESP3, reason="redis-py < 5")


@pytest.mark.parametrize(
    "options",
    [
        pytest.param({"protocol": 2}, id="resp2", marks=needs_resp3),
        pytest.param({"protocol": 3}, id="resp3", marks=needs_resp3),
        pytest.param({"decode_responses": True}, id="decoded"),
    ],
)
def test_every_command_on_a_standalone_server(r, redis_server, options):
    async def scenario():
        conn = aredis.Redis(host="127.0.0.1", port=redis_server.port, **options)
        c = mtoken.AsyncClient(conn)
        try:
            phone, first = await c.create("alice", ttl=100, name="phone")
            laptop, again = await c.create(42)
            tablet, _ = await c.create(42, ttl=dt.timedelta(seconds=50))
            assert (first, again) == (True, True)
            assert await c.verify(phone) == "alice"
            assert await c.verify_ro(laptop) == "42"
            assert await c.verify(phone[:-1]) is None
            (d,) = await c.list("alice")
            assert (d.id, d.name) == (mtoken.token_id(phone), "phone")
            assert d.expires is not None and d.created.tzinfo is not None
            assert 95 <= await c.ttl(phone) <= 100
            assert await c.ttl(laptop) is None
            assert (await c.device(tablet)).id == mtoken.token_id(tablet)
            assert await c.revoke(42, mtoken.token_id(tablet)) is True
            assert await c.expire(phone) is True
            assert await c.expire(phone) is False
            assert await c.ttl(phone) == 0
            other, _ = await c.create(42)
            assert await c.expire_all(42, except_token=laptop) == 1
            assert await c.verify(other) is None
            assert await c.expire_all(42) == 1
        finally:
            await conn.aclose() if hasattr(conn, "aclose") else await conn.close()

    asyncio.run(scenario())
    assert r.dbsize() == 0


def test_binary_user_ids_come_back_as_bytes_with_decode_false(r, redis_server):
    async def scenario():
        conn = aredis.Redis(host="127.0.0.1", port=redis_server.port)
        c = mtoken.AsyncClient(conn, decode=False)
        token, _ = await c.create(b"\x00bin\xff")
        assert await c.verify(token) == b"\x00bin\xff"
        assert (await c.device(token)).id == mtoken.token_id(token)
        await conn.aclose() if hasattr(conn, "aclose") else await conn.close()

    asyncio.run(scenario())


def test_a_server_without_the_module_raises_module_not_loaded(bare_server):
    async def scenario():
        conn = aredis.Redis(host="127.0.0.1", port=bare_server.port)
        with pytest.raises(mtoken.ModuleNotLoaded, match="mtoken module"):
            await mtoken.AsyncClient(conn).create("alice")
        await conn.aclose() if hasattr(conn, "aclose") else await conn.close()

    asyncio.run(scenario())


@pytest.fixture
def clean_cluster(cluster):
    yield cluster
    for n in cluster.nodes:
        node = n.client()
        node.flushall()
        for name, value in DEFAULT_CONFIG.items():
            node.config_set(name, value)
        node.close()


@pytest.mark.parametrize(
    "options",
    [
        pytest.param({"protocol": 2}, id="resp2", marks=needs_resp3),
        pytest.param({"protocol": 3}, id="resp3", marks=needs_resp3),
    ],
)
def test_the_cluster_routes_each_user_and_token_to_its_node(clean_cluster, options):
    users = [f"user:{i}" for i in range(30)]

    async def scenario():
        rc = RedisCluster(
            startup_nodes=[ClusterNode("127.0.0.1", n.port) for n in clean_cluster.nodes],
            **options,
        )
        c = mtoken.AsyncClient(rc)
        try:
            tokens = {u: (await c.create(u, name="laptop"))[0] for u in users}
            for u, t in tokens.items():
                assert await c.verify(t) == u
                assert [d.name for d in await c.list(u)] == ["laptop"]
                assert await c.ttl(t) is None
            for u in users[::2]:
                assert await c.expire_all(u) == 1
            for i, (u, t) in enumerate(tokens.items()):
                assert await c.verify_ro(t) == (None if i % 2 == 0 else u)
        finally:
            await rc.aclose() if hasattr(rc, "aclose") else await rc.close()

    asyncio.run(scenario())
    per_node = [n.client().dbsize() for n in clean_cluster.nodes]
    assert all(k > 0 for k in per_node) and sum(per_node) == len(users) // 2 * 2


def test_both_clients_offer_the_same_methods_with_the_same_arguments():
    def public(cls):
        return {
            name: inspect.signature(f)
            for name, f in vars(cls).items()
            if callable(f) and not name.startswith("_")
        }

    sync, aio = public(mtoken.Client), public(mtoken.AsyncClient)
    assert sync.keys() == aio.keys()
    for name in sync:
        assert list(sync[name].parameters) == list(aio[name].parameters), name
        assert inspect.iscoroutinefunction(getattr(mtoken.AsyncClient, name)), name
