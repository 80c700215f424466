"""Drive each cluster client through the same mtoken workload on a live
3-master cluster and count, on the servers, the redirects it caused.

    routing.py --ports P1,P2,P3        (run.sh starts the cluster and calls this)

Runs, per client:

- routing: N users × (CREATE, VERIFY, VERIFY_RO, LIST, one of EXPIRE /
  REVOKE / EXPIREALL, VERIFY again) with every reply checked.
- wrong-node: for M users, a VERIFY deliberately sent to a node that does not
  own the user's slot; the client must follow the MOVED (exactly M redirects).
- reshard: `redis-cli --cluster reshard` of the slots of the users in use,
  while the client verifies their tokens and creates and expires more; every
  call must succeed and every live token must keep verifying.

Redirects are counted by the servers: before each run every node gets
CONFIG RESETSTAT, after it the nodes' `INFO errorstats` counters
errorstat_MOVED / errorstat_ASK / errorstat_TRYAGAIN are summed. (Redis 7.0
counts a redirect there and as `rejected_calls` in INFO commandstats; the two
are cross-checked.)

Clients: redis-py RedisCluster (sync) and redis.asyncio.cluster.RedisCluster
in this process; node-redis and ioredis in routing.mjs (a child process that
speaks JSON lines); redis-cli -c as one process per call.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import json
import os
import re
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from typing import Any, Callable

import redis
from redis.asyncio.cluster import ClusterNode as AsyncClusterNode
from redis.asyncio.cluster import RedisCluster as AsyncRedisCluster
from redis.cluster import ClusterNode, RedisCluster
from redis.crc import key_slot

HERE = os.path.dirname(os.path.abspath(__file__))
N_USERS = 100  # routing run: 6 calls per user
N_WRONG = 20  # wrong-node run: deliberate wrong-node VERIFYs
RESHARD_SLOTS = 300  # slots moved in each reshard run
RESHARD_USERS = 40  # users whose slots are among those moved
TRYAGAIN_RETRIES = 200  # application-level retries of a TRYAGAIN the client surfaced
TRYAGAIN_DELAY = 0.01  # seconds between them (bounded: 2 s in all)
# A client that picks a node without looking at the key hits the right one
# one time in three on a 3-master cluster: about 67 redirects per 100 calls.
NAIVE_RANGE = (0.45, 0.85)


# ---------------------------------------------------------------- the cluster


class Cluster:
    def __init__(self, ports: list[int]):
        self.ports = ports
        self.conns = {p: redis.Redis(host="127.0.0.1", port=p, decode_responses=True) for p in ports}

    def reset(self) -> None:
        for c in self.conns.values():
            c.flushall()
            c.config_resetstat()

    def counters(self) -> dict[str, int]:
        total = {"MOVED": 0, "ASK": 0, "TRYAGAIN": 0, "rejected_calls": 0, "calls": 0}
        for c in self.conns.values():
            errs = c.info("errorstats")
            for kind in ("MOVED", "ASK", "TRYAGAIN"):
                total[kind] += int(errs.get(f"errorstat_{kind}", {}).get("count", 0))
            for name, stat in c.info("commandstats").items():
                if name.startswith("cmdstat_mtoken."):
                    total["calls"] += int(stat["calls"])
                    total["rejected_calls"] += int(stat.get("rejected_calls", 0))
        return total

    def slot_map(self, port: int) -> list[int]:
        owner = [0] * 16384
        for start, end, master, *_ in self.conns[port].execute_command("CLUSTER", "SLOTS"):
            for s in range(int(start), int(end) + 1):
                owner[s] = int(master[1])
        return owner

    def wait_stable(self, limit: float = 30.0) -> list[int]:
        """Bounded polling until every node says cluster_state:ok and all
        agree on the owner of every slot; returns that map."""
        deadline = time.monotonic() + limit
        while True:
            try:
                maps = [self.slot_map(p) for p in self.ports]
                ok = all(c.cluster("info")["cluster_state"] == "ok" for c in self.conns.values())
                if ok and 0 not in maps[0] and all(m == maps[0] for m in maps):
                    return maps[0]
            except redis.RedisError:
                pass
            if time.monotonic() > deadline:
                raise TimeoutError("cluster did not settle")
            time.sleep(0.05)

    def node_ids(self) -> dict[int, str]:
        return {p: c.execute_command("CLUSTER", "MYID") for p, c in self.conns.items()}

    def close(self) -> None:
        for c in self.conns.values():
            c.close()


def users_in(prefix: str, n: int, want: Callable[[int], bool]) -> list[str]:
    out, i = [], 0
    while len(out) < n:
        u = f"{prefix}{i}"
        if want(key_slot(u.encode())):
            out.append(u)
        i += 1
    return out


def decoy_for(owner: list[int], port: int) -> str:
    """A key whose slot is served by `port`: a node-redis/ioredis routing key
    that sends a command to that node."""
    i = 0
    while owner[key_slot(f"decoy:{i}".encode())] != port:
        i += 1
    return f"decoy:{i}"


def token_id(token: str) -> str:
    """MTOKEN.LIST's id: the first 15 bytes of SHA-256(token), hex."""
    return hashlib.sha256(token.encode()).digest()[:15].hex()


# ---------------------------------------------------------------- workloads
#
# A driver is `call(args, route) -> reply`, where `route` names the node the
# call is deliberately sent to (None: let the client route it). Replies are
# normalised: str, int, None, list. An error reply raises ClientError.


class ClientError(Exception):
    pass


@dataclass
class Result:
    calls: int = 0
    errors: list[str] = field(default_factory=list)
    tryagain_retries: int = 0  # TRYAGAIN the client surfaced and we retried
    known_failures: int = 0  # calls that failed the documented way (node-redis, wrong key)

    def fail(self, what: str) -> None:
        if len(self.errors) < 20:
            self.errors.append(what)
        else:
            self.errors.append("…")


def retrying(call: Callable[..., Any], res: Result) -> Callable[..., Any]:
    """Counts calls; retries (bounded) a TRYAGAIN the client let through."""

    def wrapped(args: list[str], route: int | None = None) -> Any:
        res.calls += 1
        for attempt in range(TRYAGAIN_RETRIES + 1):
            try:
                return call(args, route)
            except ClientError as e:
                if not str(e).startswith("TRYAGAIN") or attempt == TRYAGAIN_RETRIES:
                    raise
                res.tryagain_retries += 1
                time.sleep(TRYAGAIN_DELAY)

    return wrapped


def expect(res: Result, what: str, got: Any, want: Any) -> None:
    if got != want:
        res.fail(f"{what}: got {got!r}, want {want!r}")


def routing_workload(call: Callable[..., Any], users: list[str], res: Result) -> None:
    for i, u in enumerate(users):
        try:
            args = ["MTOKEN.CREATE", u, "NAME", f"dev{i}"] + (["TTL", "3600"] if i % 2 else [])
            created = call(args)
            token, first = created[0], created[1]
            expect(res, f"CREATE {u} first", first, 1)
            expect(res, f"VERIFY {u}", call(["MTOKEN.VERIFY", token]), u)
            expect(res, f"VERIFY_RO {u}", call(["MTOKEN.VERIFY_RO", token]), u)
            expect(res, f"LIST {u}", list_ids(call(["MTOKEN.LIST", u])), [token_id(token)])
            if i % 3 == 0:
                expect(res, f"EXPIRE {u}", call(["MTOKEN.EXPIRE", token]), 1)
            elif i % 3 == 1:
                expect(res, f"REVOKE {u}", call(["MTOKEN.REVOKE", u, token_id(token)]), 1)
            else:
                expect(res, f"EXPIREALL {u}", call(["MTOKEN.EXPIREALL", u]), 1)
            expect(res, f"VERIFY {u} after logout", call(["MTOKEN.VERIFY", token]), None)
        except (ClientError, redis.RedisError, OSError) as e:
            res.fail(f"{u}: {type(e).__name__}: {e}")


def list_ids(reply: Any) -> list[str]:
    out = []
    for entry in reply or []:
        if isinstance(entry, dict):
            out.append(entry["id"])
        else:
            flat = list(entry)
            out.append(flat[flat.index("id") + 1])
    return out


def wrong_node_workload(
    call: Callable[..., Any], users: list[str], wrong: dict[str, int], res: Result
) -> dict[str, str]:
    tokens = {}
    for u in users:
        try:
            tokens[u] = call(["MTOKEN.CREATE", u])[0]
        except (ClientError, redis.RedisError, OSError) as e:
            res.fail(f"CREATE {u}: {e}")
    for u, t in tokens.items():
        try:
            expect(res, f"VERIFY {u} via {wrong[u]}", call(["MTOKEN.VERIFY", t], wrong[u]), u)
        except (ClientError, redis.RedisError, OSError) as e:
            res.fail(f"VERIFY {u} via {wrong[u]}: {e}")
    return tokens


class ReshardTraffic:
    """Before: one token per user. During (until `stop`): VERIFY every
    user's token, and every 5th user a CREATE + VERIFY + EXPIRE of a second
    token. After: every token verifies; EXPIREALL removes exactly 1."""

    def __init__(self, call: Callable[..., Any], users: list[str], res: Result):
        self.call, self.users, self.res = call, users, res
        self.tokens: dict[str, str] = {}
        self.stop = threading.Event()
        self.sweeps = 0

    def setup(self) -> None:
        for u in self.users:
            self.tokens[u] = self.call(["MTOKEN.CREATE", u])[0]

    def one(self, i: int, u: str) -> None:
        res, call = self.res, self.call
        try:
            expect(res, f"VERIFY {u}", call(["MTOKEN.VERIFY", self.tokens[u]]), u)
            if i % 5 == 0:
                extra = call(["MTOKEN.CREATE", u, "TTL", "600"])[0]
                expect(res, f"VERIFY extra {u}", call(["MTOKEN.VERIFY", extra]), u)
                expect(res, f"EXPIRE extra {u}", call(["MTOKEN.EXPIRE", extra]), 1)
        except (ClientError, redis.RedisError, OSError) as e:
            res.fail(f"{u}: {type(e).__name__}: {e}")

    def run(self) -> None:
        while not self.stop.is_set():
            for i, u in enumerate(self.users):
                self.one(i, u)
            self.sweeps += 1

    def finish(self) -> None:
        for u in self.users:
            try:
                expect(self.res, f"final VERIFY {u}", self.call(["MTOKEN.VERIFY", self.tokens[u]]), u)
                expect(self.res, f"final EXPIREALL {u}", self.call(["MTOKEN.EXPIREALL", u]), 1)
            except (ClientError, redis.RedisError, OSError) as e:
                self.res.fail(f"final {u}: {e}")


# ---------------------------------------------------------------- drivers


def norm(reply: Any) -> Any:
    if isinstance(reply, bytes):
        return reply.decode()
    if isinstance(reply, (list, tuple)):
        return [norm(x) for x in reply]
    if isinstance(reply, dict):
        return {norm(k): norm(v) for k, v in reply.items()}
    return reply


class RedisPySync:
    name = "redis-py RedisCluster"
    how = "rc.execute_command('MTOKEN.VERIFY', token)"

    def __init__(self, ports: list[int]):
        self.rc = RedisCluster(startup_nodes=[ClusterNode("127.0.0.1", p) for p in ports])

    def call(self, args: list[str], route: int | None = None) -> Any:
        kw = {}
        if route is not None:
            kw["target_nodes"] = self.rc.get_node("127.0.0.1", route)
        try:
            return norm(self.rc.execute_command(*args, **kw))
        except redis.ResponseError as e:
            raise ClientError(str(e)) from None

    def close(self) -> None:
        self.rc.close()


class RedisPyAsync:
    """redis.asyncio.cluster.RedisCluster, driven from a private event loop
    thread so the shared (synchronous) workloads can call it."""

    name = "redis-py asyncio RedisCluster"
    how = "await rc.execute_command('MTOKEN.VERIFY', token)"

    def __init__(self, ports: list[int]):
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()

        async def make():
            rc = AsyncRedisCluster(startup_nodes=[AsyncClusterNode("127.0.0.1", p) for p in ports])
            await rc.initialize()
            return rc

        self.rc = self._run(make())

    def _run(self, coro: Any) -> Any:
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout=60)

    def call(self, args: list[str], route: int | None = None) -> Any:
        kw = {}
        if route is not None:
            kw["target_nodes"] = self.rc.get_node("127.0.0.1", route)
        try:
            return norm(self._run(self.rc.execute_command(*args, **kw)))
        except redis.ResponseError as e:
            raise ClientError(str(e)) from None

    def close(self) -> None:
        self._run(self.rc.aclose())
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)
        self.loop.close()


_CLI_LINE = re.compile(r'^\s*(?:\d+\)\s+)*(.*)$')


def parse_cli(out: str) -> Any:
    """redis-cli --no-raw output of one reply → str/int/None/list (flat:
    LIST's nested arrays come back as one flat list of fields)."""
    lines = [ln for ln in out.splitlines() if not ln.startswith("-> Redirected")]
    if not lines:
        raise ClientError(f"no output: {out!r}")
    if lines[0].startswith("(error) "):
        raise ClientError(lines[0][len("(error) "):])
    values = [scalar(_CLI_LINE.match(ln).group(1)) for ln in lines]
    if lines[0] == "(empty array)":
        return []
    if re.match(r"^\s*1\)", lines[0]):
        if re.match(r"^\s*1\)\s+1\)", lines[0]):  # array of arrays: split at each top "N) 1)"
            groups: list[list[Any]] = []
            for ln, v in zip(lines, values):
                if re.match(r"^\d+\)\s+1\)", ln):
                    groups.append([])
                groups[-1].append(v)
            return groups
        return values
    return values[0]


def scalar(s: str) -> Any:
    if s == "(nil)":
        return None
    if s.startswith("(integer) "):
        return int(s[len("(integer) "):])
    if s.startswith('"') and s.endswith('"'):
        return s[1:-1]
    return s


class RedisCli:
    """One `redis-cli -c` process per call. Naive: always connect to the
    same node. Routed: connect to the owner of `CLUSTER KEYSLOT <first
    argument>` in a `CLUSTER SLOTS` map re-read at most once a second
    (redis-cli prints "-> Redirected" in interactive mode only, so a script
    cannot tell that its map went stale)."""

    def __init__(self, cluster: Cluster, routed: bool):
        self.cluster, self.routed = cluster, routed
        self.name = "redis-cli -c" + (" to the slot's node" if routed else " to a fixed node")
        self.how = (
            "redis-cli -c -p $(owner of CLUSTER KEYSLOT <arg1>) MTOKEN.VERIFY <token>"
            if routed
            else "redis-cli -c -p <any node> MTOKEN.VERIFY <token>"
        )
        self.owner = cluster.slot_map(cluster.ports[0])
        self.owner_read = time.monotonic()

    def _cli(self, port: int, args: list[str]) -> str:
        p = subprocess.run(
            ["redis-cli", "-c", "--no-raw", "-p", str(port), *args],
            capture_output=True, text=True, timeout=10,
        )
        if p.returncode != 0:
            raise ClientError(f"redis-cli exited {p.returncode}: {p.stderr.strip()}")
        return p.stdout

    def call(self, args: list[str], route: int | None = None) -> Any:
        if route is not None:
            port = route
        elif self.routed:
            if time.monotonic() - self.owner_read > 1.0:
                self.owner = self.cluster.slot_map(self.cluster.ports[0])
                self.owner_read = time.monotonic()
            slot = int(self._cli(self.cluster.ports[0], ["CLUSTER", "KEYSLOT", args[1]]).split()[-1])
            port = self.owner[slot]
        else:
            port = self.cluster.ports[0]
        return parse_cli(self._cli(port, args))

    def close(self) -> None:
        pass


class NodeDriver:
    """routing.mjs as a child process: one JSON request per line on stdin,
    one JSON reply per line on stdout. The whole workload runs in Node (so
    its calls are Node client calls); Python only sends the plan."""

    def __init__(self, client: str, ports: list[int]):
        self.client = client
        self.proc = subprocess.Popen(
            ["node", os.path.join(HERE, "routing.mjs"), client, ",".join(map(str, ports))],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, bufsize=1,
        )
        hello = self.recv(60)
        self.name, self.how, self.version = hello["name"], hello["how"], hello["version"]

    def check(self, reply: dict) -> dict:
        if "fatal" in reply:
            raise RuntimeError(f"routing.mjs {self.client}: {reply['fatal']}")
        return reply

    def send(self, msg: dict) -> None:
        assert self.proc.stdin
        self.proc.stdin.write(json.dumps(msg) + "\n")
        self.proc.stdin.flush()

    def recv(self, timeout: float) -> dict:
        box: list[str] = []
        t = threading.Thread(target=lambda: box.append(self.proc.stdout.readline()), daemon=True)
        t.start()
        t.join(timeout)
        if not box or not box[0]:
            self.proc.kill()
            raise RuntimeError(f"{self.client}: no reply from routing.mjs within {timeout}s")
        reply = json.loads(box[0])
        if "fatal" in reply:
            raise RuntimeError(f"routing.mjs {self.client}: {reply['fatal']}")
        return reply

    def close(self) -> None:
        try:
            self.send({"op": "quit"})
            self.proc.wait(10)
        except (OSError, subprocess.TimeoutExpired, ValueError):
            self.proc.kill()
            self.proc.wait(10)


def node_result(reply: dict) -> Result:
    return Result(calls=reply["calls"], errors=reply["errors"], tryagain_retries=reply["tryagain_retries"])


# ---------------------------------------------------------------- runs


@dataclass
class Row:
    client: str
    run: str
    how: str
    res: Result
    server: dict[str, int]
    want: str  # what the redirect count must be
    ok: bool = True
    why: str = ""


def check_row(row: Row, lo: float | None, hi: float | None) -> Row:
    redirects = row.server["MOVED"] + row.server["ASK"]
    problems = []
    if row.res.errors:
        problems.append(f"{len(row.res.errors)} errors: {row.res.errors[:5]}")
    if row.server["MOVED"] + row.server["ASK"] != row.server["rejected_calls"]:
        problems.append(
            f"errorstats MOVED+ASK {redirects} != commandstats rejected_calls {row.server['rejected_calls']}"
        )
    if lo is not None and redirects < lo:
        problems.append(f"{redirects} redirects, expected at least {lo:g}")
    if hi is not None and redirects > hi:
        problems.append(f"{redirects} redirects, expected at most {hi:g}")
    row.ok = not problems
    row.why = "; ".join(problems)
    return row


def measure(cluster: Cluster, fn: Callable[[], Result]) -> tuple[Result, dict[str, int]]:
    cluster.reset()
    res = fn()
    return res, cluster.counters()


def run_routing(cluster: Cluster, drv: Any, naive: bool, tag: str) -> Row:
    users = [f"{tag}:user:{i}" for i in range(N_USERS)]

    def go() -> Result:
        if isinstance(drv, NodeDriver):
            drv.send({"op": "routing", "users": users})
            return node_result(drv.recv(120))
        res = Result()
        routing_workload(retrying(drv.call, res), users, res)
        return res

    res, server = measure(cluster, go)
    if naive:
        lo, hi = NAIVE_RANGE[0] * res.calls, NAIVE_RANGE[1] * res.calls
        want = f"{NAIVE_RANGE[0]:.0%}-{NAIVE_RANGE[1]:.0%} of calls"
    else:
        lo, hi, want = 0, 0, "0"
    return check_row(Row(drv.name, "routing", drv.how, res, server, want), lo, hi)


def run_wrong_node(cluster: Cluster, drv: Any, tag: str) -> Row:
    owner = cluster.wait_stable()
    users = [f"{tag}:wrong:{i}" for i in range(N_WRONG)]
    wrong = {}
    for u in users:
        right = owner[key_slot(u.encode())]
        wrong[u] = next(p for p in cluster.ports if p != right)

    def go() -> Result:
        if isinstance(drv, NodeDriver):
            plan = [{"user": u, "port": wrong[u], "decoy": decoy_for(owner, wrong[u])} for u in users]
            drv.send({"op": "wrong", "plan": plan})
            return node_result(drv.recv(120))
        res = Result()
        wrong_node_workload(retrying(drv.call, res), users, wrong, res)
        return res

    res, server = measure(cluster, go)
    if isinstance(drv, NodeDriver) and drv.client == "node-redis":
        # node-redis answers a MOVED by re-reading the slot map and routing
        # again by the key it was given, not to the node the MOVED names: a
        # routing key of another node's slot is never corrected. Known and
        # asserted: every such call fails after 1 + 16 redirects.
        want = N_WRONG * 17
        known = [e for e in res.errors if "Too many Cluster redirections" in e]
        if len(known) == N_WRONG == len(res.errors):
            res.errors = []
            res.known_failures = N_WRONG
        row = Row(drv.name, "wrong node", drv.how, res, server, f"{want}; known: not followed")
        return check_row(row, want, want)
    return check_row(Row(drv.name, "wrong node", drv.how, res, server, str(N_WRONG)), N_WRONG, N_WRONG)


class Resharder:
    """Alternates the direction: node k → node k+1 (mod 3), the first
    RESHARD_SLOTS slots of the source (the ones redis-cli moves first)."""

    def __init__(self, cluster: Cluster):
        self.cluster, self.k = cluster, 0
        self.ids = cluster.node_ids()

    def plan(self) -> tuple[int, int, set[int]]:
        owner = self.cluster.wait_stable()
        src = self.cluster.ports[self.k % 3]
        dst = self.cluster.ports[(self.k + 1) % 3]
        self.k += 1
        slots = [s for s in range(16384) if owner[s] == src][:RESHARD_SLOTS]
        return src, dst, set(slots)

    def start(self, src: int, dst: int) -> subprocess.Popen:
        return subprocess.Popen(
            [
                "redis-cli", "--cluster", "reshard", f"127.0.0.1:{src}",
                "--cluster-from", self.ids[src], "--cluster-to", self.ids[dst],
                "--cluster-slots", str(RESHARD_SLOTS), "--cluster-pipeline", "10",
                "--cluster-yes",
            ],
            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        )


def finish_reshard(proc: subprocess.Popen, cluster: Cluster, src: int, dst: int, slots: set[int]) -> str:
    try:
        out, _ = proc.communicate(timeout=120)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.communicate()
        return "reshard timed out after 120 s"
    if proc.returncode != 0 or "[ERR]" in out or "BUSYKEY" in out:
        tail = "\n".join(ln for ln in out.splitlines() if not ln.startswith("Moving slot"))[-2000:]
        return f"reshard failed ({proc.returncode}): {tail}"
    owner = cluster.wait_stable()
    if any(owner[s] != dst for s in slots):
        return f"after the reshard some of the {len(slots)} slots are not on {dst}"
    return ""


def run_reshard(cluster: Cluster, drv: Any, resharder: Resharder, tag: str) -> Row:
    src, dst, slots = resharder.plan()
    users = users_in(f"{tag}:resh:", RESHARD_USERS, lambda s: s in slots)
    err = ""
    sweeps = 0

    def go() -> Result:
        nonlocal err, sweeps
        if isinstance(drv, NodeDriver):
            drv.send({"op": "reshard", "users": users})
            ready = drv.recv(120)
            if ready.get("error"):
                return node_result(ready)
            proc = resharder.start(src, dst)
            err = finish_reshard(proc, cluster, src, dst, slots)
            drv.send({"op": "stop"})
            reply = drv.recv(120)
            sweeps = reply["sweeps"]
            return node_result(reply)
        res = Result()
        traffic = ReshardTraffic(retrying(drv.call, res), users, res)
        try:
            traffic.setup()
        except (ClientError, redis.RedisError, OSError) as e:
            res.fail(f"setup: {e}")
            return res
        t = threading.Thread(target=traffic.run, daemon=True)
        t.start()
        try:
            proc = resharder.start(src, dst)
            err = finish_reshard(proc, cluster, src, dst, slots)
        finally:
            traffic.stop.set()
            t.join(120)
        if t.is_alive():
            res.fail("traffic thread did not stop within 120 s")
        traffic.finish()
        sweeps = traffic.sweeps
        return res

    res, server = measure(cluster, go)
    if err:
        res.fail(err)
    if sweeps < 1:
        res.fail("no full traffic sweep ran while the slots moved")
    row = Row(drv.name, "reshard", drv.how, res, server, ">= 1 (any)")
    # At least one redirect: the client crossed the move (its map was stale).
    return check_row(row, 1, None)


# ---------------------------------------------------------------- main


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--ports", required=True)
    ap.add_argument("--json", help="also write the rows here")
    a = ap.parse_args()
    ports = [int(p) for p in a.ports.split(",")]
    cluster = Cluster(ports)
    cluster.wait_stable()
    resharder = Resharder(cluster)
    rows: list[Row] = []
    started = time.monotonic()

    # (driver factory, naive?, also run wrong-node and reshard?)
    plan: list[tuple[str, Callable[[], Any], bool, bool]] = [
        ("pysync", lambda: RedisPySync(ports), False, True),
        ("pyasync", lambda: RedisPyAsync(ports), False, True),
        ("noderedis", lambda: NodeDriver("node-redis", ports), False, True),
        ("iocall", lambda: NodeDriver("ioredis-call", ports), True, False),
        ("iokeyed", lambda: NodeDriver("ioredis-keyed", ports), False, True),
        ("clifixed", lambda: RedisCli(cluster, routed=False), True, False),
        ("clirouted", lambda: RedisCli(cluster, routed=True), False, True),
    ]
    print(f"# redis-py {redis.__version__}, {subprocess.run(['redis-server', '--version'], capture_output=True, text=True, timeout=10).stdout.strip()}", file=sys.stderr)
    for tag, make, naive, full in plan:
        t0 = time.monotonic()
        drv = make()
        try:
            rows.append(run_routing(cluster, drv, naive, tag))
            if full:
                rows.append(run_wrong_node(cluster, drv, tag))
                rows.append(run_reshard(cluster, drv, resharder, tag))
        except Exception as e:  # a driver that broke: one failed row, keep going
            rows.append(Row(drv.name, "(crashed)", drv.how, Result(errors=[repr(e)]), {}, "", False, repr(e)))
        finally:
            drv.close()
        version = f" ({drv.version})" if isinstance(drv, NodeDriver) else ""
        print(f"# {drv.name}{version}: {time.monotonic() - t0:.1f} s", file=sys.stderr)

    print(f"\n{'client':<36} {'run':<10} {'calls':>5} {'MOVED':>5} {'ASK':>4} {'per 100':>7} "
          f"{'TRYAGAIN':>8} {'retried':>7} {'errors':>6}  expected redirects")
    for r in rows:
        redirects = r.server.get("MOVED", 0) + r.server.get("ASK", 0)
        per100 = 100 * redirects / r.res.calls if r.res.calls else 0
        print(f"{r.client:<36} {r.run:<10} {r.res.calls:>5} {r.server.get('MOVED', 0):>5} "
              f"{r.server.get('ASK', 0):>4} {per100:>7.1f} "
              f"{r.server.get('TRYAGAIN', 0):>8} {r.res.tryagain_retries:>7} {len(r.res.errors):>6}  "
              f"{r.want}{'' if r.ok else '  FAIL: ' + r.why}")
    failed = [r for r in rows if not r.ok]
    print(f"\nclient-routing: {len(rows) - len(failed)} passed, {len(failed)} failed "
          f"({time.monotonic() - started:.0f} s)")
    if a.json:
        with open(a.json, "w") as f:
            json.dump([{"client": r.client, "run": r.run, "how": r.how, "calls": r.res.calls,
                        "server": r.server, "tryagain_retries": r.res.tryagain_retries,
                        "errors": r.res.errors, "ok": r.ok} for r in rows], f, indent=1)
    cluster.close()
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
