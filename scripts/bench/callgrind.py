"""Instructions per command: a second server under valgrind --tool=callgrind,
one dump per workload, read with callgrind_annotate."""

import os
import re
import shutil
import subprocess
import time

from server import Server, redis_benchmark
from settings import log
from workloads import expire_all_users, fill_users, load_scripts, read_cases, write_cases


def callgrind_phases(n):
    """Instructions per request (whole server) and inside the command's own
    function, one callgrind dump per workload."""
    if not (shutil.which("valgrind") and shutil.which("callgrind_control")):
        log("valgrind is not installed: skipping the instruction counts")
        return None
    srv = Server("callgrind", callgrind=True)
    conn = srv.conn
    try:
        shas = load_scripts(conn)
        # The read cases (and their fixtures), then the write cases; CREATE
        # and the baseline add to the keys the reads left.
        phases = read_cases(conn) + write_cases(shas, 100_000)
        results = {}
        for i, case in enumerate(phases):
            name, proc = case["name"], case["proc"]
            subprocess.run(["callgrind_control", "-z", str(srv.proc.pid)], capture_output=True)
            redis_benchmark(srv.port, case["args"], n, 16, case.get("rand"))
            dump = dump_callgrind(srv, f"phase{i}")
            results[name] = summarize_dump(dump, n, proc)
            log(
                f"  callgrind {name:<20} {results[name]['total']:>9,.0f} Ir/request"
                f"  {results[name]['command']:>9,.0f} Ir in {proc}"
                f"  {results[name]['allocs']:5.1f} allocations,"
                f" {results[name]['frees']:5.1f} frees/request"
            )
        # EXPIREALL of 100 tokens: fill, zero the counters, expire, dump.
        per, users = 100, 50
        for side in ("module", "lua"):
            names = [f"cg:{side}:{i}" for i in range(users)]
            calls = fill_users(conn, shas, side, names, per)
            proc = "RedisModuleCommandDispatcher" if side == "module" else "evalShaCommand"
            subprocess.run(["callgrind_control", "-z", str(srv.proc.pid)], capture_output=True)
            expire_all_users(conn, side, calls, per)
            dump = dump_callgrind(srv, f"expireall-{side}")
            name = "EXPIREALL(100)" if side == "module" else "Lua EXPIREALL(100)"
            results[name] = summarize_dump(dump, users, proc)
            log(
                f"  callgrind {name:<20} {results[name]['total']:>9,.0f} Ir/request"
                f"  {results[name]['allocs']:5.1f} allocations,"
                f" {results[name]['frees']:5.1f} frees/request"
            )
    finally:
        srv.stop()
    return results


def dump_callgrind(srv, label):
    before = set(os.listdir(srv.dir))
    subprocess.run(["callgrind_control", "-d", label, str(srv.proc.pid)], capture_output=True)
    for _ in range(200):
        new = [f for f in set(os.listdir(srv.dir)) - before if f.startswith("callgrind.out")]
        if new:
            path = os.path.join(srv.dir, new[0])
            time.sleep(0.2)  # let valgrind finish writing it
            return path
        time.sleep(0.1)
    raise SystemExit("callgrind_control produced no dump")


ANNOTATE_LINE = re.compile(r"^\s*([\d,]+)\s+\(\s*[\d.]+%\)\s+(\S.*)$")


def annotate(path, inclusive):
    out = subprocess.run(
        ["callgrind_annotate", "--threshold=100", "--auto=no",
         f"--inclusive={'yes' if inclusive else 'no'}", path],
        capture_output=True, text=True, check=True,
    ).stdout
    costs = {}
    for line in out.splitlines():
        m = ANNOTATE_LINE.match(line)
        if not m or "PROGRAM TOTALS" in line:
            continue
        ir = int(m.group(1).replace(",", ""))
        where = re.sub(r"\s+\[[^\]]*\]$", "", m.group(2))
        # `file:function`: group the lines inlined from other files.
        func = where.split(":", 1)[1] if ":" in where else where
        costs[func] = costs.get(func, 0) + ir if not inclusive else max(costs.get(func, 0), ir)
    return costs


# The allocator's entry points that hand out a block: Redis's zmalloc and
# zcalloc call malloc or calloc once per block, and so do RM_Alloc and a
# module's Rust allocator (which goes through RM_Alloc); Lua's allocator asks
# with realloc (from NULL, or to resize). jemalloc's names, unprefixed as in
# Debian's build, or with the je_ prefix of Redis's bundled jemalloc.
# (malloc_usable_size is no count of blocks: zmalloc calls it once per
# allocation and zfree once per free.)
ALLOC_FUNCS = {"malloc", "calloc", "realloc", "je_malloc", "je_calloc", "je_realloc"}
FREE_FUNCS = {"free", "je_free"}
NAMED = re.compile(r"^c?fn=\((\d+)\)(?: (.*))?$")


def call_counts(path, names):
    """Calls to each function in `names`, summed over every caller: the
    `calls=` lines that follow a `cfn=` in the dump (names are given once,
    with their id, then by id alone)."""
    ids, counts, callee = {}, dict.fromkeys(names, 0), None
    with open(path, errors="replace") as f:
        for line in f:
            if line.startswith(("fn=", "cfn=")):
                m = NAMED.match(line.rstrip("\n"))
                if m and m.group(2):
                    ids[m.group(1)] = m.group(2)
                if line.startswith("cfn="):
                    callee = ids.get(m.group(1)) if m else None
            elif line.startswith("calls=") and callee in counts:
                counts[callee] += int(line[6:].split()[0])
    return counts


def summarize_dump(path, n, proc):
    with open(path, errors="replace") as f:
        text = f.read()
    total = int(re.search(r"^summary:\s*(\d+)", text, re.M).group(1))
    incl = annotate(path, inclusive=True)
    self_cost = annotate(path, inclusive=False)
    # A dump taken mid-run charges the frames still on the stack (main,
    # aeMain, ...) with everything as "self": leave those out.
    real = {f: ir for f, ir in self_cost.items() if ir < 0.9 * total}
    top = sorted(real.items(), key=lambda kv: -kv[1])[:15]
    # Where the module's part goes: its own functions and the Redis module
    # API calls they make, inclusive, below the command's entry point.
    command = incl.get(proc, 0)
    parts = {
        f: ir
        for f, ir in incl.items()
        if (f.startswith("mtoken::") or f.startswith("RM_")) and ir < 0.95 * command
        and "{{closure}}" not in f
    }
    parts_top = sorted(parts.items(), key=lambda kv: -kv[1])[:12]
    calls = call_counts(path, ALLOC_FUNCS | FREE_FUNCS)
    return {
        "allocs": sum(calls[f] for f in ALLOC_FUNCS) / n,
        "frees": sum(calls[f] for f in FREE_FUNCS) / n,
        "total": total / n,
        "command": command / n,
        "top": [(f, ir / n) for f, ir in top],
        "parts": [(f, ir / n) for f, ir in parts_top],
    }
