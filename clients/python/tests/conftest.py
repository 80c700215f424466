"""Fixtures: a live redis-server with the module (one per session, emptied and
reset to the module's default configs around every test), a server without
the module, a 3-node cluster, and `settings.MTOKEN` pointed at the server."""

from __future__ import annotations

import pytest

import mtoken
from tests.servers import RedisCluster3, RedisServer, module_path

# The module's defaults (docs/DESIGN.md, "Expiry and refresh"); every test starts from these.
DEFAULT_CONFIG = {
    "mtoken.default-ttl": "0",
    "mtoken.refresh-on-verify": "token",
    "mtoken.refresh-persistent": "yes",
    "mtoken.refresh-interval": "60",
    "mtoken.max-lifetime": "0",
    "mtoken.max-tokens-per-user": "0",
    "mtoken.events": "off",
    "mtoken.rotation-reuse-window": "604800",
}


def reset_server(r) -> None:
    r.flushall()
    for name, value in DEFAULT_CONFIG.items():
        r.config_set(name, value)


@pytest.fixture(scope="session")
def redis_server():
    srv = RedisServer(module=module_path())
    yield srv
    srv.stop()


@pytest.fixture(scope="session")
def bare_server():
    """A redis-server without the module."""
    srv = RedisServer(module=None, tag="bare")
    yield srv
    srv.stop()


@pytest.fixture(scope="session")
def cluster():
    c = RedisCluster3(module_path())
    yield c
    c.stop()


@pytest.fixture
def r(redis_server):
    conn = redis_server.client()
    reset_server(conn)
    yield conn
    reset_server(conn)
    conn.close()


@pytest.fixture
def client(r):
    return mtoken.Client(r)


@pytest.fixture
def mtoken_conf(settings, r, redis_server):
    """Point `settings.MTOKEN` at the test server; call the returned function
    with more MTOKEN keys to change them (the shared client is rebuilt)."""

    def configure(**values):
        settings.MTOKEN = {"REDIS_URL": redis_server.url, **values}

    configure()
    return configure
