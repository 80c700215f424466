#!/usr/bin/env python3
"""mtoken's performance harness (`make bench`, `scripts/bench.sh`).

One redis-server with the release module; in it, alternating module and
reference runs, redis-benchmark measures req/s and latency, a small driver
measures EXPIREALL of 100 tokens, and used_memory gives bytes per token.
A second server under `valgrind --tool=callgrind` counts instructions per
command. The results go to docs/PERFORMANCE.md as ratios to the reference.

The Lua baseline (create.lua, expireall.lua beside this file) is what a team
without the module would write: the client draws the token and hashes it, one
EVALSHA keeps the entry and the user's index atomic, in mtoken's key layout.

Standard library only (resp.py speaks just enough RESP2). The parts:
settings.py (paths, run sizes), resp.py, server.py (the processes),
workloads.py (fixtures and cases), measure.py (the timed runs), callgrind.py,
results.py (ratios and targets), report.py (docs/PERFORMANCE.md); this file
only parses the arguments and runs them in order.
"""

import argparse
import os
import shutil
import sys
import time

from callgrind import callgrind_phases
from measure import expireall, memory, throughput
from report import machine, section_callgrind, section_main, write_doc
from results import rows_main, summary
from server import Server, build_floor
from settings import DOC, FULL, MODULE, QUICK, ROOT, WORK, log
from workloads import load_scripts


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("mode", nargs="?", default="all", choices=["all", "main", "callgrind"])
    ap.add_argument("--quick", action="store_true", help="small counts, one round")
    ap.add_argument("--rounds", type=int, help="rounds of alternating runs (default 5)")
    ap.add_argument("--command", default=None, help=argparse.SUPPRESS)
    args = ap.parse_args()
    p = dict(QUICK if args.quick else FULL)
    if args.rounds:
        p["rounds"] = args.rounds
    command = args.command or "scripts/bench.sh " + " ".join(sys.argv[1:])
    for tool in ("redis-server", "redis-benchmark", "redis-cli", "cc"):
        if not shutil.which(tool):
            raise SystemExit(f"{tool} is missing: run scripts/install-deps.sh --bench")
    if not os.path.exists(MODULE):
        raise SystemExit("build first: cargo build --release")
    started = time.time()
    os.makedirs(WORK, exist_ok=True)
    build_floor()
    info = machine()
    measured = {}
    if args.mode in ("all", "main"):
        srv = Server("server")
        try:
            shas = load_scripts(srv.conn)
            log("throughput and latency (redis-benchmark):")
            t = throughput(srv, shas, p)
            log("EXPIREALL:")
            xa = expireall(srv, shas, p)
            log(f"memory ({p['mem_tokens']:,} tokens over {p['mem_users']:,} users):")
            mem = memory(srv, shas, p)
            mem["desc"] = f"{p['mem_tokens']:,} tokens over {p['mem_users']:,} users"
        finally:
            srv.stop()
        measured["main"] = (t, xa, mem)
    if args.mode in ("all", "callgrind"):
        log("instructions per command (callgrind):")
        cg = callgrind_phases(p["cg_n"])
        if cg:
            measured["callgrind"] = cg
    took = time.time() - started
    info["took"] = (
        f"the bench took {took // 60:.0f} min {took % 60:.0f} s"
        f" ({'all sections' if args.mode == 'all' else 'this section only'},"
        " release build not counted)"
    )
    sections = {}
    if "main" in measured:
        t, xa, mem = measured["main"]
        sections["main"] = section_main(info, p, command, t, xa, mem)
    if "callgrind" in measured:
        sections["callgrind"] = section_callgrind(info, command, measured["callgrind"], p["cg_n"])
    write_doc(sections)
    if "main" in sections:
        print(sections["main"].split("\n\n### Every measurement")[0])
        print()
        print("Targets:")
        print(summary(rows_main(t, xa, mem)[1], mem["desc"]))
    if "callgrind" in sections:
        print()
        print(sections["callgrind"].split("\n\nVERIFY hit, Ir per request")[0])
    print(f"\nwritten to {os.path.relpath(DOC, ROOT)}; {info['took']}")

if __name__ == "__main__":
    main()
