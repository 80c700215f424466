"""docs/PERFORMANCE.md: the machine, the sections in Markdown, and the
rewrite that keeps a section this run did not produce."""

import datetime
import os
import platform
import re
import statistics
import subprocess

from results import rows_main, target_rows
from settings import CLIENTS, DOC, ROOT, TTL


def machine():
    cpu = "unknown CPU"
    try:
        for line in open("/proc/cpuinfo"):
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    mem = ""
    try:
        kb = int(open("/proc/meminfo").readline().split()[1])
        mem = f", {kb / 1024 / 1024:.0f} GiB RAM"
    except (OSError, ValueError, IndexError):
        pass
    redis = subprocess.run(["redis-server", "--version"], capture_output=True, text=True)
    rustc = subprocess.run(["rustc", "--version"], capture_output=True, text=True)
    commit = subprocess.run(
        ["git", "-C", ROOT, "describe", "--always", "--dirty"], capture_output=True, text=True
    )
    return {
        "machine": f"{cpu}, {os.cpu_count()} cores{mem}, {platform.system()} {platform.release()}",
        "redis": redis.stdout.strip(),
        "rustc": rustc.stdout.strip(),
        "commit": commit.stdout.strip() or "unknown",
        "load": load_now(),
        "date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
    }


def load_now():
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


def table(header, rows):
    out = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    out += ["| " + " | ".join(r) + " |" for r in rows]
    return "\n".join(out)


def section_main(info, p, command, t, xa, mem):
    rows, results = rows_main(t, xa, mem)
    lines = [
        "## Results",
        "",
        f"- Machine: {info['machine']}; load average at start {info['load']}",
        f"- Redis: {info['redis']}",
        f"- Module: commit {info['commit']}, {info['rustc']}, `cargo build --release`;"
        " module floor `scripts/bench/floor/floor.c`, `cc -O2 -shared -fPIC`, loaded"
        " into the same server",
        f"- Command: `{command}`, {info['date']}; {info['took']}",
        f"- redis-benchmark, {CLIENTS} clients, median of {p['rounds']} alternating"
        f" rounds; n = {p['n_read16']:,} (reads, -P 16), {p['n_read1']:,} (reads, -P 1),"
        f" {p['n_write16']:,} (writes, -P 16), {p['n_write1']:,} (writes, -P 1);"
        f" random users from {p['users_rand']:,}; every token has TTL {TTL} s.",
        "- Ratio = measured / reference, the median over rounds of the ratio of two"
        " runs made side by side (req/s shown: the medians); for memory and"
        " latency lower is better.",
        "  In brackets: the server's own time per call (`INFO commandstats`"
        " usec_per_call), without network and parsing; Redis times each call"
        " with a microsecond clock, so below 1 µs these are rough.",
        f"- Load average when the results were written: {load_now()} (other"
        " work on the machine moves the absolute numbers; alternating runs and"
        " medians keep the ratios steadier).",
        "",
        "### Targets",
        "",
        table(["target", "measured", "goal", "result"], target_rows(results, mem["desc"])),
        "",
        "### Every measurement",
        "",
        table(["measurement", "measured", "reference", "ratio", "target"], rows),
        "",
        "Every round, in req/s, and how busy the server was (median CPU of the"
        " redis-server process during the run: near 100% the server is the"
        " bottleneck; below, the single-threaded redis-benchmark, sharing the"
        " 2 cores, is, and the ratio understates the server-side difference):",
        "",
        "<details><summary>Every round</summary>",
        "",
        table(
            ["case", "-P", "req/s, each round", "server CPU"],
            [
                (
                    name,
                    str(pl),
                    ", ".join(f"{x:,.0f}" for x in r["all_rps"]),
                    f"{statistics.median(r['all_cpu']):.0f}%",
                )
                for (name, pl), r in sorted(t.items(), key=lambda kv: (-kv[0][1], kv[0][0]))
            ]
            + (
                [(f"EXPIREALL(100) {s}", "—",
                  ", ".join(f"{x:,.0f}" for x in xa[s]["all_rps"]), "")
                 for s in ("module", "lua")]
                if xa
                else []
            ),
        ),
        "",
        "</details>",
    ]
    return "\n".join(lines)


def section_callgrind(info, command, cg, n):
    def row(name, *refs):
        r = cg[name]
        ratio = ", ".join(f"{r['total'] / cg[ref]['total']:.2f}× {ref}" for ref in refs)
        return (name, f"{r['total']:,.0f}", f"{r['command']:,.0f}", f"{r['allocs']:,.1f}", ratio)

    floor = "floor.getname"
    rows = [
        row("HGET"),
        row("GET"),
        row("floor.get", "GET"),
        row(floor, "GET"),
        row("VERIFY hit", "HGET", floor),
        row("VERIFY miss", "GET", floor),
        row("VERIFY bad checksum", "GET"),
        row("VERIFY_RO hit", "HGET", floor),
        row("SET"),
        row("CREATE", "Lua CREATE"),
        row("Lua CREATE"),
        row("EXPIREALL(100)", "Lua EXPIREALL(100)"),
        row("Lua EXPIREALL(100)"),
    ]
    lines = [
        "## Instructions per command (callgrind)",
        "",
        f"`valgrind --tool=callgrind` on the same redis-server and module"
        f" ({info['date']}, commit {info['commit']}, `{command}`): {n:,} requests"
        " per workload (redis-benchmark -P 16, 50 clients; EXPIREALL: 50 users of"
        " 100 tokens, pipelined), counters zeroed before and dumped after each"
        " workload with `callgrind_control`. Instruction counts repeat to within"
        " about 1% from run to run; they are not times (a cache miss costs one"
        " instruction here, a hundred cycles on the machine).",
        "",
        "Valgrind hides the CPU's SHA extensions, so `sha2` runs its portable"
        " code here: about 3,500 instructions per SHA-256 that the real server,"
        " on a CPU with SHA-NI, does in a few hundred.",
        "",
        table(
            [
                "workload",
                "Ir per request (whole server)",
                "Ir in the command",
                "allocations per request",
                "ratio (Ir, whole server)",
            ],
            rows,
        ),
        "",
        "\"Ir in the command\" is the inclusive cost of the command's own function"
        " (`RedisModuleCommandDispatcher` for mtoken and the module floor,"
        " `hgetCommand`, `getCommand`, `setCommand`, `evalShaCommand`); the rest of"
        " a request is Redis's networking, parsing, lookup of the command and its"
        " statistics. \"Allocations per request\" counts the calls to jemalloc's"
        " `malloc`, `calloc` and `realloc` in the whole server (every"
        " `zmalloc`/`zcalloc`, the module API's `RM_Alloc` and the Rust allocator,"
        " which goes through it; Lua's allocator uses `realloc`), divided by the"
        " requests (the 50 benchmark connections add about 0.1). A GET costs"
        " three, two of them the objects of its two arguments: Redis's floor.",
        "",
    ]
    for name in ("VERIFY hit", "CREATE", "EXPIREALL(100)"):
        top, parts = cg[name]["top"], cg[name]["parts"]
        rows = [
            (
                f"{top[i][1]:,.0f}" if i < len(top) else "",
                f"`{top[i][0]}`" if i < len(top) else "",
                f"{parts[i][1]:,.0f}" if i < len(parts) else "",
                f"`{parts[i][0]}`" if i < len(parts) else "",
            )
            for i in range(max(len(top), len(parts)))
        ]
        lines += [
            f"{name}, Ir per request: the top functions by their own cost, and"
            " the module's functions and module-API calls by inclusive cost:",
            "",
            table(["self", "function", "inclusive", "module part"], rows),
            "",
        ]
    return "\n".join(lines).rstrip()


HEADER = """# Performance

Written by `scripts/bench.sh` (`make bench`); do not edit by hand. Ratios, not
absolute numbers, are the results: the absolute ones move with the machine and
with whatever else runs on it.

## What is measured

- **VERIFY** (hit, well-formed miss, bad checksum) and **VERIFY_RO** on one
  token, beside `GET` and `HGET` of an existing key, Redis's own floor for
  "one lookup", and beside the **module floor**: the best any module can do.
  The hit path writes at most once per `refresh-interval` (60 s).
- The **module floor** is `scripts/bench/floor/floor.c`, a C module the bench
  compiles (`cc -shared -fPIC`, against the `redismodule.h` of the
  `redis-module` crate) and loads into the same server as mtoken.
  `FLOOR.GET key` opens its argument with `RedisModule_OpenKey` and replies the
  string value (`RedisModule_StringDMA`, `ReplyWithStringBuffer`);
  `FLOOR.GETNAME id` first builds the key name `floor:{bench}:t:<id>` with
  `RedisModule_CreateString` (31 bytes, as long as a token entry's name), as
  mtoken builds `mtoken:{tag}:t:<digest>` from the token, then does the same.
  Both read a value as long as an entry's record. FLOOR.GETNAME is what
  VERIFY's targets compare with.
- **CREATE** for random users (`user:__rand_int__`), beside `SET` of a new
  key and beside the **Lua baseline** `scripts/bench/create.lua`: the same job
  as a team without the module would do it. Its client draws the token and
  computes SHA-256; one `EVALSHA` sets the entry (`user|created`, with `PXAT`)
  and, atomically, prunes and adds to the user's sorted-set index and sets the
  index's TTL, in mtoken's key layout (`mtoken:{user}:t:<sha256 hex>`,
  `mtoken:{user}:u:<user>`). redis-benchmark cannot hash per request, so the
  baseline is given ready-made 64-char hashes (`aaaa…` + two `__rand_int__`):
  it does not pay for hashing, nor for drawing the token, which mtoken does in
  the server. Each CREATE-type run starts from an empty keyspace.
- **EXPIREALL** of a user with 100 tokens, beside `scripts/bench/expireall.lua`
  (reads the index, deletes all entries with one `DEL`, then the index). The
  users are filled first (untimed, mtoken with MTOKEN.CREATE, the baseline with
  its own script); then only the EXPIREALL calls are timed, all pipelined on
  one connection.
- **Memory**: `used_memory` after minus before, divided by tokens, for tokens
  spread evenly over users, loaded with `redis-cli --pipe`: once with
  MTOKEN.CREATE, once with the baseline's layout (client-side random token,
  SHA-256 hex), each on an emptied server, read after rehashing settles.
- **Latency**: p50 / p99 of redis-benchmark at 50 clients, one request in
  flight per client (`-P 1`).

Re-run: `make bench` (everything, release build included; the Results say
how long the last run took), or `scripts/bench.sh main` /
`scripts/bench.sh callgrind`; `--quick` for a smoke run with small counts.
The targets (issue 13) are medians over rounds of the ratio of two runs made
side by side in the same server, except memory (bytes per token at 1M tokens
over 100k users).

Reading the numbers: at `-P 16` a fast command (GET, HGET) can leave the
server partly idle, because the single-threaded redis-benchmark shares the two
cores with it; the "server CPU" column of the round details shows which side
was the bottleneck. The instruction counts below have no such noise.
"""

MARK = {
    "main": ("<!-- bench:main -->", "<!-- /bench:main -->"),
    "callgrind": ("<!-- bench:callgrind -->", "<!-- /bench:callgrind -->"),
}


def write_doc(sections):
    """Rewrite the doc, keeping a section this run did not produce and what
    follows the last one (results written by hand or by big_user.py)."""
    old = open(DOC).read() if os.path.exists(DOC) else ""
    parts = [HEADER]
    for key in ("main", "callgrind"):
        start, end = MARK[key]
        body = sections.get(key)
        if body is None:
            m = re.search(re.escape(start) + r"\n(.*?)\n" + re.escape(end), old, re.S)
            body = m.group(1) if m else f"_Not run yet: `scripts/bench.sh {key}`._"
        parts.append(f"{start}\n{body}\n{end}\n")
    tail = old.split(MARK["callgrind"][1] + "\n", 1)
    if len(tail) == 2 and tail[1].strip():
        parts.append(tail[1].lstrip("\n"))
    os.makedirs(os.path.dirname(DOC), exist_ok=True)
    with open(DOC, "w") as f:
        f.write("\n".join(parts))
