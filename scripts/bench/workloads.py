"""What is run: the read fixtures, the redis-benchmark cases, the Lua
baseline's calls and the users filled for EXPIREALL."""

import hashlib
import os
import secrets

from resp import ReplyError
from settings import FLOOR_ID, FLOOR_PREFIX, HERE, PAD, TTL


def load_scripts(conn):
    shas = {}
    for name in ("create", "expireall"):
        with open(os.path.join(HERE, name + ".lua")) as f:
            shas[name] = conn.cmd("SCRIPT", "LOAD", f.read()).decode()
    return shas


def read_fixtures(conn):
    """A live token, a well-formed unknown one and one with a bad checksum,
    checked to answer as their names say; the GET/HGET reference keys and
    the module floor's key (floor/floor.c)."""
    user = b"user:bench-verify"
    hit = conn.cmd("MTOKEN.CREATE", user, "TTL", TTL)[0]
    gone = conn.cmd("MTOKEN.CREATE", user, "TTL", TTL)[0]
    assert conn.cmd("MTOKEN.EXPIRE", gone) == 1
    pos = len(hit) - 20  # inside the secret: breaks the CRC32 check
    swap = b"b" if hit[pos : pos + 1] == b"a" else b"a"
    bad = hit[:pos] + swap + hit[pos + 1 :]
    # The value GET reads is as long as the entry's record; HGET reads one
    # field of a small hash: Redis's own floors for "one lookup". The
    # module floor's FLOOR.GETNAME reads the same value under a name it
    # builds from its argument, as long as an entry's name (so that Redis
    # embeds it in one allocation, as it does mtoken's).
    value = b"x" * (20 + len(user))
    conn.cmd("SET", "bench:get", value)
    conn.cmd("SET", FLOOR_PREFIX + FLOOR_ID, value)
    conn.cmd("HSET", "bench:hget", "user", user, "created", "1764000000000")
    before = conn.info("mtoken")
    assert conn.cmd("MTOKEN.VERIFY", hit) == user
    assert conn.cmd("MTOKEN.VERIFY_RO", hit) == user
    assert conn.cmd("MTOKEN.VERIFY", gone) is None
    assert conn.cmd("MTOKEN.VERIFY", bad) is None
    after = conn.info("mtoken")

    def grew(field):
        return int(after["mtoken_" + field]) - int(before["mtoken_" + field])

    assert (grew("verify_hits"), grew("verify_misses"), grew("verify_malformed")) == (
        2,
        1,
        1,
    ), "fixtures do not hit/miss/fail the checksum as intended"
    assert conn.cmd("HGET", "bench:hget", "user") == user
    assert conn.cmd("FLOOR.GET", "bench:get") == value
    assert conn.cmd("FLOOR.GETNAME", FLOOR_ID) == value
    return {"hit": hit.decode(), "gone": gone.decode(), "bad": bad.decode()}


def read_cases(conn):
    f = read_fixtures(conn)
    module = "RedisModuleCommandDispatcher"  # every module command's entry

    def case(name, args, counts, proc=module):
        return {"name": name, "args": args, "counts": counts, "proc": proc}

    # Each mtoken case runs right beside its references (the order flips
    # every other round), so that a ratio compares runs made under the same
    # load. `counts`: the counter every request of the run must add one to;
    # `proc`: the command's own function, for callgrind's inclusive cost.
    return [
        case("HGET", ["HGET", "bench:hget", "user"], "keyspace_hits", "hgetCommand"),
        case("VERIFY hit", ["MTOKEN.VERIFY", f["hit"]], "mtoken_verify_hits"),
        case("floor.getname", ["FLOOR.GETNAME", FLOOR_ID], "keyspace_hits"),
        case("VERIFY_RO hit", ["MTOKEN.VERIFY_RO", f["hit"]], "mtoken_verify_hits"),
        case("floor.get", ["FLOOR.GET", "bench:get"], "keyspace_hits"),
        case("GET", ["GET", "bench:get"], "keyspace_hits", "getCommand"),
        case("VERIFY bad checksum", ["MTOKEN.VERIFY", f["bad"]], "mtoken_verify_malformed"),
        case("VERIFY miss", ["MTOKEN.VERIFY", f["gone"]], "mtoken_verify_misses"),
    ]


def counter(conn, name):
    return int(conn.info("mtoken" if name.startswith("mtoken_") else "stats")[name])


def write_cases(shas, users):
    # redis-benchmark draws each __rand_int__ on its own: in the baseline's
    # run the token key, member and user id are independent random strings;
    # the index key has one draw, so both sides spread over `users` users.
    return [
        {
            "name": "SET",
            "args": ["SET", "bench:set:__rand_int____rand_int__", "x" * 30],
            "rand": users,
            "fresh": True,
            "proc": "setCommand",
        },
        {
            "name": "CREATE",
            "args": ["MTOKEN.CREATE", "user:__rand_int__", "TTL", str(TTL)],
            "rand": users,
            "fresh": True,
            "proc": "RedisModuleCommandDispatcher",
        },
        {
            "name": "Lua CREATE",
            "args": [
                "EVALSHA", shas["create"], "2",
                f"mtoken:{{user:__rand_int__}}:t:{PAD}__rand_int____rand_int__",
                "mtoken:{user:__rand_int__}:u:user",
                "user:__rand_int__",
                f"{PAD}__rand_int____rand_int__",
                str(TTL),
            ],
            "rand": users,
            "fresh": True,
            "proc": "evalShaCommand",
        },
    ]


def lua_create_args(sha, user, token_hash, ttl=TTL):
    return [
        "EVALSHA", sha, "2",
        f"mtoken:{{{user}}}:t:{token_hash}",
        f"mtoken:{{{user}}}:u:{user}",
        user, token_hash, ttl,
    ]


def client_token_hash():
    """What the baseline's client does per token: draw it, hash it."""
    token = secrets.token_urlsafe(32)
    return hashlib.sha256(token.encode()).hexdigest()


def fill_users(conn, shas, side, names, per):
    """Give each user `per` tokens (mtoken, or the baseline's layout) and
    return the EXPIREALL calls that log them all out."""
    if side == "module":
        fill = [["MTOKEN.CREATE", u, "TTL", TTL] for _ in range(per) for u in names]
        calls = [["MTOKEN.EXPIREALL", u] for u in names]
    else:
        fill = [
            lua_create_args(shas["create"], u, client_token_hash())
            for _ in range(per)
            for u in names
        ]
        calls = [
            ["EVALSHA", shas["expireall"], "1", f"mtoken:{{{u}}}:u:{u}", f"mtoken:{{{u}}}:t:"]
            for u in names
        ]
    bad = [r for r in conn.pipeline(fill) if isinstance(r, ReplyError)]
    if bad:
        raise SystemExit(f"EXPIREALL fill ({side}) failed: {bad[0]}")
    return calls


def expire_all_users(conn, side, calls, per):
    """All the EXPIREALL calls, pipelined; each must remove `per` tokens."""
    replies = conn.pipeline(calls, batch=len(calls))
    if replies != [per] * len(calls):
        raise SystemExit(f"EXPIREALL ({side}) did not remove {per} tokens per user")
