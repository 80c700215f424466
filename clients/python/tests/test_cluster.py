"""mtoken.Client through redis-py's RedisCluster on a live 3-node cluster with
the module on every node: redis-py routes each command by its first argument
(the user id, or the token, whose slot is its user's)."""

from __future__ import annotations

import pytest
from redis.cluster import ClusterNode, RedisCluster
from redis.crc import key_slot

import mtoken
from tests.conftest import DEFAULT_CONFIG

USERS = [f"user:{i}" for i in range(50)]


@pytest.fixture
def rc(cluster):
    conn = RedisCluster(startup_nodes=[ClusterNode("127.0.0.1", n.port) for n in cluster.nodes])
    yield conn
    for n in cluster.nodes:
        node = n.client()
        node.flushall()
        for name, value in DEFAULT_CONFIG.items():
            node.config_set(name, value)
        node.close()
    conn.close()


def keys_per_node(cluster):
    return [n.client().dbsize() for n in cluster.nodes]


def test_create_verify_expire_for_50_users_across_the_cluster(cluster, rc):
    c = mtoken.Client(rc)
    tokens = {}
    for user in USERS:
        first_token, first = c.create(user)
        second_token, second = c.create(user, ttl=3600, name="laptop")
        assert (first, second) == (True, False)
        tokens[user] = (first_token, second_token)

    # The users' slots cover every node, and every key landed somewhere.
    assert all(n > 0 for n in keys_per_node(cluster))
    assert sum(keys_per_node(cluster)) == len(USERS) * 3

    for user, (a, b) in tokens.items():
        assert key_slot(a.encode()) == key_slot(user.encode())
        assert c.verify(a) == user
        assert c.verify_ro(b) == user
        assert [d.name for d in c.list(user)] in ([None, "laptop"], ["laptop", None])

    # One device out for the even users, everything out for the odd ones.
    for i, user in enumerate(USERS):
        a, b = tokens[user]
        if i % 2 == 0:
            assert c.expire(a) is True
            assert c.verify(a) is None
            assert c.verify(b) == user
        else:
            assert c.expire_all(user) == 2
            assert c.verify(a) is None and c.verify(b) is None

    assert sum(keys_per_node(cluster)) == (len(USERS) // 2) * 2


def test_expire_all_except_and_revoke_route_by_user(rc):
    c = mtoken.Client(rc)
    for user in USERS[:10]:
        keep, _ = c.create(user)
        gone, _ = c.create(user)
        extra, _ = c.create(user, name="extra")
        assert c.revoke(user, mtoken.token_id(extra)) is True
        assert c.expire_all(user, except_token=keep) == 1
        assert c.verify(keep) == user
        assert c.verify(gone) is None
        assert [d.id for d in c.list(user)] == [mtoken.token_id(keep)]


def test_unknown_tokens_are_nil_on_whichever_node_they_route_to(rc):
    c = mtoken.Client(rc)
    token, _ = c.create("alice")
    c.expire(token)
    assert c.verify(token) is None
    assert c.verify("mt_not_a_token") is None
    assert c.expire(token) is False


def test_apply_server_config_reaches_every_node(cluster, rc):
    from mtoken.drf import apply_server_config
    from mtoken.drf.settings import MTokenSettings

    s = MTokenSettings({"TIMEOUT": 900, "RESET_TOKEN_TTL_ON_USER_LOG_IN": True})
    apply_server_config(mtoken.Client(rc), s)
    for n in cluster.nodes:
        got = n.client().config_get("mtoken.*")
        assert (got["mtoken.default-ttl"], got["mtoken.refresh-on-verify"]) == ("900", "user")


@pytest.mark.django_db
def test_multitoken_runs_on_a_cluster_with_redis_cluster_true(cluster, rc, settings):
    from django.contrib.auth import get_user_model

    from mtoken.drf import MultiToken

    settings.MTOKEN = {"REDIS_URL": cluster.nodes[0].url, "REDIS_CLUSTER": True}
    User = get_user_model()
    users = [User.objects.create_user(f"c{i}") for i in range(20)]
    tokens = [MultiToken.create_token(u)[0] for u in users]
    for u, t in zip(users, tokens):
        assert MultiToken.get_user_from_token(t.key) == u
    for u in users[::2]:
        assert MultiToken.expire_all_tokens(u) == 1
    for i, t in enumerate(tokens):
        if i % 2 == 0:
            with pytest.raises(User.DoesNotExist):
                MultiToken.get_user_from_token(t.key)
        else:
            assert MultiToken.get_user_from_token(t.key) == users[i]
