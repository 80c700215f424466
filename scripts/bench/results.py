"""From measurements to the results table's rows and the targets (issue 13):
one list of targets, read by the table, the targets table and the summary."""

import statistics

# (key, what, op, goal, unit). Ratios are medians over rounds of two runs
# made side by side; "floor.getname" is the module floor (floor/floor.c).
TARGETS = [
    ("verify_floor", "VERIFY hit vs the module floor (floor.getname), -P 16", ">=", 0.90, "×"),
    ("verify_hget", "VERIFY hit vs HGET, -P 16", ">=", 0.85, "×"),
    ("bad_get", "VERIFY bad checksum vs GET, -P 16", ">=", 1.00, "×"),
    ("create_lua", "CREATE vs the Lua baseline, -P 16", ">=", 4.00, "×"),
    ("expireall_lua", "EXPIREALL(100) vs the Lua baseline", ">=", 3.00, "×"),
    ("memory", "memory per token", "<=", 200, " bytes"),
    ("p99_hget", "VERIFY hit p99 latency vs HGET's, -P 1", "<=", 1.00, "×"),
]
GOALS = {key: (op, goal, unit) for key, _, op, goal, unit in TARGETS}


def paired(mine, ref):
    """Median over rounds of mine/ref in the same round: runs made side by
    side share the machine's load, so their ratio drifts less than either."""
    return statistics.median(a / b for a, b in zip(mine, ref))


def fmt(value, unit):
    return f"{value:.2f}×" if unit == "×" else f"{value:.0f}{unit}"


def goal_text(key):
    op, goal, unit = GOALS[key]
    return f"{'≥' if op == '>=' else '≤'} {fmt(goal, unit)}"


def met(key, value):
    op, goal, _ = GOALS[key]
    return value >= goal if op == ">=" else value <= goal


def verdict(key, value):
    return f"{goal_text(key)} — **{'met' if met(key, value) else 'missed'}**"


def rows_main(t, xa, mem):
    """The results table's rows (what, measured, reference, ratio, target)
    and the value of every target measured."""
    rows, results = [], {}

    def rate(r):
        return f"{r['rps']:,.0f} req/s ({r['usec']:.2f} µs)"

    def thr(label, mine, ref, pipeline, target=None):
        a, b = t[(mine, pipeline)], t[(ref, pipeline)]
        ratio = paired(a["all_rps"], b["all_rps"])
        goal = ""
        if target and pipeline == 16:
            results[target] = ratio
            goal = verdict(target, ratio)
        what = f"{label}, -P {pipeline}"
        rows.append((what, rate(a), f"{ref} {rate(b)}", f"{ratio:.2f}×", goal))

    floor = "floor.getname"
    for pipeline in (16, 1):
        thr("VERIFY hit", "VERIFY hit", floor, pipeline, "verify_floor")
        thr("VERIFY hit", "VERIFY hit", "HGET", pipeline, "verify_hget")
        thr("VERIFY hit", "VERIFY hit", "GET", pipeline)
        thr("VERIFY well-formed miss", "VERIFY miss", floor, pipeline)
        thr("VERIFY well-formed miss", "VERIFY miss", "GET", pipeline)
        thr("VERIFY bad checksum", "VERIFY bad checksum", floor, pipeline)
        thr("VERIFY bad checksum", "VERIFY bad checksum", "GET", pipeline, "bad_get")
        thr("VERIFY_RO hit", "VERIFY_RO hit", floor, pipeline)
        thr("VERIFY_RO hit", "VERIFY_RO hit", "HGET", pipeline)
        thr("floor.getname (module floor, name built from the argument)", floor, "GET", pipeline)
        thr("floor.get (module floor, key in the argument)", "floor.get", "GET", pipeline)
    for pipeline in (16, 1):
        thr("CREATE, random users", "CREATE", "Lua CREATE", pipeline, "create_lua")
        thr("CREATE, random users", "CREATE", "SET", pipeline)
    if xa:
        m, lua = xa["module"], xa["lua"]
        ratio = results["expireall_lua"] = paired(m["all_rps"], lua["all_rps"])
        rows.append((
            "EXPIREALL of a user with 100 tokens (pipelined)",
            f"{m['rps']:,.0f} calls/s ({m['usec']:.1f} µs)",
            f"Lua EXPIREALL {lua['rps']:,.0f} calls/s ({lua['usec']:.1f} µs)",
            f"{ratio:.2f}×",
            verdict("expireall_lua", ratio),
        ))
    if mem:
        mine = results["memory"] = mem["module"]["bytes"]
        rows.append((
            f"memory per token ({mem['desc']})",
            f"{mine:.0f} bytes",
            f"Lua layout {mem['lua']['bytes']:.0f} bytes",
            f"{mine / mem['lua']['bytes']:.2f}×",
            verdict("memory", mine),
        ))
    for mine, ref in (("VERIFY hit", "HGET"), ("VERIFY hit", floor), ("CREATE", "Lua CREATE")):
        a, b = t[(mine, 1)], t[(ref, 1)]
        p50 = paired(a["all_p50"], b["all_p50"])
        p99 = paired(a["all_p99"], b["all_p99"])
        goal = ""
        if (mine, ref) == ("VERIFY hit", "HGET"):
            results["p99_hget"] = p99
            goal = "p99 " + verdict("p99_hget", p99)
        rows.append((
            f"latency p50 / p99 of {mine}, -P 1",
            f"{a['p50']:.3f} / {a['p99']:.3f} ms",
            f"{ref} {b['p50']:.3f} / {b['p99']:.3f} ms",
            f"{p50:.2f}× / {p99:.2f}×",
            goal,
        ))
    return rows, results


def target_rows(results, mem_desc):
    """The targets table: (target, measured, goal, met or missed)."""
    rows = []
    for key, what, _, _, unit in TARGETS:
        if key not in results:
            continue
        if key == "memory":
            what = f"{what} ({mem_desc})"
        ok = met(key, results[key])
        rows.append((what, fmt(results[key], unit), goal_text(key), "met" if ok else "**missed**"))
    return rows


def summary(results, mem_desc):
    return "\n".join(
        f"  {'ok  ' if ok == 'met' else 'MISS'} {what}: {value} (target {goal})"
        for what, value, goal, ok in target_rows(results, mem_desc)
    )
