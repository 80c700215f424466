"""From measurements to the results table's rows and the targets."""

import statistics


def paired(mine, ref):
    """Median over rounds of mine/ref in the same round: runs made side by
    side share the machine's load, so their ratio drifts less than either."""
    return statistics.median(a / b for a, b in zip(mine, ref))


def verdict(ratio, op, goal):
    ok = ratio >= goal if op == ">=" else ratio <= goal
    sign = "≥" if op == ">=" else "≤"
    return f"{sign} {goal:.2f}× — **{'met' if ok else 'missed'}**", ok


def rows_main(t, xa, mem):
    rows = []  # (what, mtoken, reference, ratio, target)

    def rate(r):
        return f"{r['rps']:,.0f} req/s ({r['usec']:.2f} µs)"

    def thr(label, mine, ref, pipeline, target=None):
        a, b = t[(mine, pipeline)], t[(ref, pipeline)]
        ratio = paired(a["all_rps"], b["all_rps"])
        goal = verdict(ratio, *target)[0] if target else ""
        rows.append((f"{label}, -P {pipeline}", rate(a), f"{ref} {rate(b)}", f"{ratio:.2f}×", goal))
        return ratio

    results = {}
    for pipeline in (16, 1):
        tg = (">=", 0.90) if pipeline == 16 else None
        results[("verify", pipeline)] = thr("VERIFY hit", "VERIFY hit", "HGET", pipeline, tg)
        thr("VERIFY hit", "VERIFY hit", "GET", pipeline)
        thr("VERIFY well-formed miss", "VERIFY miss", "GET", pipeline)
        tg = (">=", 1.0) if pipeline == 16 else None
        results[("bad", pipeline)] = thr(
            "VERIFY bad checksum", "VERIFY bad checksum", "GET", pipeline, tg
        )
        thr("VERIFY_RO hit", "VERIFY_RO hit", "HGET", pipeline)
    for pipeline in (16, 1):
        tg = (">=", 4.0) if pipeline == 16 else None
        results[("create", pipeline)] = thr(
            "CREATE, random users", "CREATE", "Lua CREATE", pipeline, tg
        )
        thr("CREATE, random users", "CREATE", "SET", pipeline)
    if xa:
        m, lua = xa["module"], xa["lua"]
        ratio = paired(m["all_rps"], lua["all_rps"])
        rows.append((
            "EXPIREALL of a user with 100 tokens (pipelined)",
            f"{m['rps']:,.0f} calls/s ({m['usec']:.1f} µs)",
            f"Lua EXPIREALL {lua['rps']:,.0f} calls/s ({lua['usec']:.1f} µs)",
            f"{ratio:.2f}×",
            verdict(ratio, ">=", 3.0)[0],
        ))
        results["expireall"] = ratio
    if mem:
        ratio = mem["module"]["bytes"] / mem["lua"]["bytes"]
        rows.append((
            f"memory per token ({mem['desc']})",
            f"{mem['module']['bytes']:.0f} bytes",
            f"Lua layout {mem['lua']['bytes']:.0f} bytes",
            f"{ratio:.2f}×",
            verdict(ratio, "<=", 0.70)[0],
        ))
        results["memory"] = ratio
    for mine, ref in (("VERIFY hit", "HGET"), ("CREATE", "Lua CREATE")):
        a, b = t[(mine, 1)], t[(ref, 1)]
        rows.append((
            f"latency p50 / p99 of {mine}, -P 1",
            f"{a['p50']:.3f} / {a['p99']:.3f} ms",
            f"{ref} {b['p50']:.3f} / {b['p99']:.3f} ms",
            f"{a['p50'] / b['p50']:.2f}× / {a['p99'] / b['p99']:.2f}×",
            "",
        ))
    return rows, results


def summary(results):
    names = {
        ("verify", 16): "VERIFY hit vs HGET, -P 16",
        ("create", 16): "CREATE vs Lua baseline, -P 16",
        "expireall": "EXPIREALL(100) vs Lua",
        "memory": "bytes per token vs Lua layout",
        ("bad", 16): "VERIFY bad checksum vs GET, -P 16",
    }
    goals = {
        ("verify", 16): (">=", 0.90),
        ("create", 16): (">=", 4.0),
        "expireall": (">=", 3.0),
        "memory": ("<=", 0.70),
        ("bad", 16): (">=", 1.0),
    }
    lines = []
    for key, name in names.items():
        if key in results:
            text, ok = verdict(results[key], *goals[key])
            lines.append(f"  {'ok  ' if ok else 'MISS'} {name}: {results[key]:.2f}× (target {text.split(' —')[0]})")
    return "\n".join(lines)
