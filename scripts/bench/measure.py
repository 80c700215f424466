"""The timed measurements on one server: redis-benchmark rounds,
EXPIREALL and memory per token."""

import statistics
import time

from server import cpu_seconds, pipe_load, redis_benchmark, usec_per_call
from settings import TTL, log
from workloads import (
    client_token_hash,
    counter,
    expire_all_users,
    fill_users,
    lua_create_args,
    read_cases,
    write_cases,
)


def run_case(srv, case, n, pipeline):
    """One redis-benchmark run; refuses a run in which any call failed.
    Also notes how busy the server was: near 100% it is the bottleneck,
    well below it the single-threaded redis-benchmark is."""
    conn = srv.conn
    if case.get("fresh"):
        conn.cmd("FLUSHALL", "SYNC")
    conn.cmd("CONFIG", "RESETSTAT")
    counted = counter(conn, case["counts"]) if "counts" in case else 0
    cpu0, t0 = cpu_seconds(srv.proc.pid), time.perf_counter()
    res = redis_benchmark(srv.port, case["args"], n, pipeline, case.get("rand"))
    res["cpu"] = 100 * (cpu_seconds(srv.proc.pid) - cpu0) / (time.perf_counter() - t0)
    errors = conn.info("errorstats")
    if errors:
        raise SystemExit(f"{case['name']}: the server answered errors: {errors}")
    # A read run must have read what its name says, every time...
    if "counts" in case and counter(conn, case["counts"]) - counted != n:
        raise SystemExit(f"{case['name']}: not every request counted as {case['counts']}")
    # ...and a write run must have written: one key per request at least (CREATE
    # and the baseline also make index keys; a few SET keys may repeat).
    if case.get("fresh") and conn.cmd("DBSIZE") < 0.99 * n:
        raise SystemExit(f"{case['name']}: fewer keys than requests after the run")
    res["usec"] = usec_per_call(conn, case["args"])
    return res


def throughput(srv, shas, p):
    """Median req/s, latency and server µs/call of every case, alternating."""
    conn = srv.conn
    reads = read_cases(conn)
    runs = {}  # (name, pipeline) -> [result per round]
    plan = [(reads, p["n_read16"], p["n_read1"])]
    plan.append((write_cases(shas, p["users_rand"]), p["n_write16"], p["n_write1"]))
    for rnd in range(p["rounds"]):
        if rnd > 0:
            # The write runs emptied the keyspace: new read fixtures.
            reads[:] = read_cases(conn)
        for cases, n16, n1 in plan:
            # Reverse the order every other round: drift hits both sides.
            order = cases if rnd % 2 == 0 else cases[::-1]
            for pipeline, n in ((16, n16), (1, n1)):
                for case in order:
                    res = run_case(srv, case, n, pipeline)
                    runs.setdefault((case["name"], pipeline), []).append(res)
                    log(
                        f"  round {rnd + 1} -P {pipeline:<2} {case['name']:<20}"
                        f" {res['rps']:>11,.0f} req/s  {res['usec']:6.2f} µs/call"
                        f"  p50 {res['p50']:.3f} p99 {res['p99']:.3f} ms"
                        f"  server CPU {res['cpu']:3.0f}%"
                    )
    conn.cmd("FLUSHALL", "SYNC")
    med = {}
    for key, rs in runs.items():
        med[key] = {f: statistics.median(r[f] for r in rs) for f in rs[0]}
        for f in ("rps", "cpu", "p50", "p99"):
            med[key]["all_" + f] = [r[f] for r in rs]
    return med


def expireall(srv, shas, p):
    """EXPIREALL of users holding `expireall_tokens` tokens each, module vs
    Lua: fill (not timed), then time only the pipelined EXPIREALL calls."""
    conn = srv.conn
    users, per = p["expireall_users"], p["expireall_tokens"]
    rounds = {"module": [], "lua": []}
    for rnd in range(p["rounds"]):
        for side in ("module", "lua") if rnd % 2 == 0 else ("lua", "module"):
            conn.cmd("FLUSHALL", "SYNC")
            names = [f"xa:{rnd}:{i}" for i in range(users)]
            calls = fill_users(conn, shas, side, names, per)
            if conn.cmd("DBSIZE") != users * (per + 1):
                raise SystemExit("EXPIREALL fill left an unexpected number of keys")
            conn.cmd("CONFIG", "RESETSTAT")
            t0 = time.perf_counter()
            expire_all_users(conn, side, calls, per)
            elapsed = time.perf_counter() - t0
            if conn.cmd("DBSIZE") != 0:
                raise SystemExit(f"EXPIREALL ({side}) left keys behind")
            res = {"rps": users / elapsed, "usec": usec_per_call(conn, calls[0])}
            rounds[side].append(res)
            log(
                f"  round {rnd + 1} EXPIREALL({per}) {side:<6}"
                f" {res['rps']:>9,.0f} calls/s  {res['usec']:7.1f} µs/call"
            )
    return {
        side: {
            "rps": statistics.median(r["rps"] for r in rs),
            "usec": statistics.median(r["usec"] for r in rs),
            "all_rps": [r["rps"] for r in rs],
        }
        for side, rs in rounds.items()
    }


def settled_used_memory(conn):
    """used_memory once incremental rehashing has finished: two reads 0.3 s
    apart within 0.01% (our own INFO replies move it by a few bytes)."""
    last = None
    for _ in range(100):
        now = int(conn.info("memory")["used_memory"])
        if last is not None and abs(now - last) <= now / 10000:
            return now
        last = now
        time.sleep(0.3)
    return last


def memory(srv, shas, p):
    """used_memory delta per token: N tokens over U users, module vs Lua."""
    conn = srv.conn
    n, users = p["mem_tokens"], p["mem_users"]
    out = {}
    for side in ("module", "lua"):
        conn.cmd("FLUSHALL", "SYNC")
        before = settled_used_memory(conn)
        names = [f"user:{i}" for i in range(users)]
        if side == "module":
            cmds = (["MTOKEN.CREATE", names[i % users], "TTL", TTL] for i in range(n))
        else:
            cmds = (
                lua_create_args(shas["create"], names[i % users], client_token_hash())
                for i in range(n)
            )
        t0 = time.perf_counter()
        pipe_load(srv.port, cmds)
        took = time.perf_counter() - t0
        keys = conn.cmd("DBSIZE")
        if keys != n + users:
            raise SystemExit(f"memory load ({side}): {keys} keys, want {n + users}")
        after = settled_used_memory(conn)
        out[side] = {"bytes": (after - before) / n, "load_s": took}
        log(f"  memory {side:<6} {out[side]['bytes']:.1f} bytes/token (load {took:.0f} s)")
    conn.cmd("FLUSHALL", "SYNC")
    return out
