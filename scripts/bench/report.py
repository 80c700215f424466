"""docs/PERFORMANCE.md: the machine, the sections in Markdown, and the
rewrite that keeps a section this run did not produce."""

import datetime
import os
import platform
import re
import statistics
import subprocess

from results import rows_main
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
    rows, _ = rows_main(t, xa, mem)
    lines = [
        "## Results",
        "",
        f"- Machine: {info['machine']}; load average at start {info['load']}",
        f"- Redis: {info['redis']}",
        f"- Module: commit {info['commit']}, {info['rustc']}, `cargo build --release`",
        f"- Command: `{command}`, {info['date']}",
        f"- redis-benchmark, {CLIENTS} clients, median of {p['rounds']} alternating"
        f" rounds; n = {p['n_read16']:,} (reads, -P 16), {p['n_read1']:,} (reads, -P 1),"
        f" {p['n_write16']:,} (writes, -P 16), {p['n_write1']:,} (writes, -P 1);"
        f" random users from {p['users_rand']:,}; every token has TTL {TTL} s.",
        "- Ratio = mtoken / reference, the median over rounds of the ratio of two"
        " runs made side by side (req/s shown: the medians); for memory and"
        " latency lower is better.",
        "  In brackets: the server's own time per call (`INFO commandstats`"
        " usec_per_call), without network and parsing; Redis times each call"
        " with a microsecond clock, so below 1 µs these are rough.",
        f"- Load average when the results were written: {load_now()} (other"
        " work on the machine moves the absolute numbers; alternating runs and"
        " medians keep the ratios steadier).",
        "",
        table(["measurement", "mtoken", "reference", "ratio", "target"], rows),
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
    def row(name, ref):
        r = cg[name]
        ratio = f"{r['total'] / cg[ref]['total']:.2f}× {ref}" if ref else ""
        return (name, f"{r['total']:,.0f}", f"{r['command']:,.0f}", ratio)

    rows = [
        row("HGET", None),
        row("GET", None),
        row("VERIFY hit", "HGET"),
        row("VERIFY miss", "GET"),
        row("VERIFY bad checksum", "GET"),
        row("VERIFY_RO hit", "HGET"),
        row("SET", None),
        row("CREATE", "Lua CREATE"),
        row("Lua CREATE", None),
        row("EXPIREALL(100)", "Lua EXPIREALL(100)"),
        row("Lua EXPIREALL(100)", None),
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
            ["workload", "Ir per request (whole server)", "Ir in the command", "ratio"],
            rows,
        ),
        "",
        "\"Ir in the command\" is the inclusive cost of the command's own function"
        " (`RedisModuleCommandDispatcher` for mtoken, `hgetCommand`, `getCommand`,"
        " `setCommand`, `evalShaCommand`); the rest of a request is Redis's"
        " networking, parsing, lookup of the command and its statistics.",
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
  "one lookup". The hit path writes at most once per `refresh-interval` (60 s).
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

Re-run: `make bench` (everything: about 5 minutes on 2 cores from a fresh
clone, release build included), or `scripts/bench.sh main` /
`scripts/bench.sh callgrind`; `--quick` for a smoke run with small counts.

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
    """Rewrite the doc, keeping a section this run did not produce."""
    old = open(DOC).read() if os.path.exists(DOC) else ""
    parts = [HEADER]
    for key in ("main", "callgrind"):
        start, end = MARK[key]
        body = sections.get(key)
        if body is None:
            m = re.search(re.escape(start) + r"\n(.*?)\n" + re.escape(end), old, re.S)
            body = m.group(1) if m else f"_Not run yet: `scripts/bench.sh {key}`._"
        parts.append(f"{start}\n{body}\n{end}\n")
    os.makedirs(os.path.dirname(DOC), exist_ok=True)
    with open(DOC, "w") as f:
        f.write("\n".join(parts))
