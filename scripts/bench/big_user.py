#!/usr/bin/env python3
"""Cost of one command for a user with many tokens (docs/PERFORMANCE.md,
"One user with many tokens").

    python3 scripts/bench/big_user.py [--so target/release/libmtoken.so] [N ...]

For each N (default 100000 500000): a master with a replica, both with the
module; one user gets N tokens; then, per operation, the server's own time
per call (INFO commandstats) and the bytes it replicated (master_repl_offset),
and whether the replica stayed connected without a full resync. Prints a
markdown table.
"""
import argparse
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time


def encode(args):
    out = [b"*%d\r\n" % len(args)]
    for a in args:
        a = a if isinstance(a, bytes) else str(a).encode()
        out.append(b"$%d\r\n%s\r\n" % (len(a), a))
    return b"".join(out)


class Conn:
    def __init__(self, port):
        self.s = socket.create_connection(("127.0.0.1", port), timeout=120)
        self.f = self.s.makefile("rb")

    def send(self, *args):
        self.s.sendall(encode(args))

    def read(self):
        line = self.f.readline()
        kind, rest = line[:1], line[1:-2]
        if kind in (b"+", b"-"):
            return rest.decode()
        if kind == b":":
            return int(rest)
        if kind == b"$":
            n = int(rest)
            if n < 0:
                return None
            data = self.f.read(n + 2)[:-2]
            return data
        if kind == b"*":
            n = int(rest)
            return None if n < 0 else [self.read() for _ in range(n)]
        raise RuntimeError("bad reply %r" % line)

    def cmd(self, *args):
        self.send(*args)
        return self.read()


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def start(so, extra, workdir):
    port = free_port()
    d = tempfile.mkdtemp(dir=workdir)
    p = subprocess.Popen(
        ["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--save", "",
         "--dir", d, "--logfile", os.path.join(d, "log"), *extra, "--loadmodule", so],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 10
    while True:
        try:
            c = Conn(port)
            if c.cmd("PING") == "PONG":
                return p, port, c
        except OSError:
            pass
        if time.time() > deadline:
            p.kill()
            sys.exit("redis-server did not start")
        time.sleep(0.02)


def info(c, section, name):
    for line in c.cmd("INFO", section).decode().splitlines():
        if line.startswith(name + ":"):
            return line.split(":", 1)[1]
    return None


def usec_per_call(c, cmd):
    raw = info(c, "commandstats", "cmdstat_" + cmd)
    if raw is None:
        return None
    fields = dict(kv.split("=") for kv in raw.split(","))
    return float(fields["usec_per_call"])


def measure(m, cmd, calls):
    """Run calls (lists of args), return (max µs per call, bytes per call)."""
    m.cmd("CONFIG", "RESETSTAT")
    worst, bytes_most = 0.0, 0
    for args in calls:
        before = int(info(m, "replication", "master_repl_offset"))
        m.cmd("CONFIG", "RESETSTAT")
        m.cmd(*args)
        worst = max(worst, usec_per_call(m, cmd) or 0.0)
        bytes_most = max(bytes_most, int(info(m, "replication", "master_repl_offset")) - before)
    return worst, bytes_most


def fill(m, user, n):
    tokens = []
    for start_at in range(0, n, 2000):
        k = min(2000, n - start_at)
        m.s.sendall(b"".join(encode(["MTOKEN.CREATE", user, "TTL", "3600"]) for _ in range(k)))
        tokens.extend(m.read()[0] for _ in range(k))
    return tokens


def run(so, n, workdir):
    mp, mport, m = start(so, ["--repl-diskless-sync-delay", "0"], workdir)
    rp, _, r = start(so, ["--replicaof", "127.0.0.1", str(mport)], workdir)
    try:
        while info(r, "replication", "master_link_status") != "up":
            time.sleep(0.05)
        t0 = time.time()
        tokens = fill(m, "whale", n)
        fill_s = time.time() - t0
        m.cmd("WAIT", 1, 60000)
        rows = []
        m.cmd("CONFIG", "SET", "mtoken.refresh-interval", "0")
        sample = tokens[:: max(1, n // 100)][:100]
        for mode in ("token", "user"):
            m.cmd("CONFIG", "SET", "mtoken.refresh-on-verify", mode)
            us, b = measure(m, "mtoken.verify", [["MTOKEN.VERIFY", t] for t in sample])
            rows.append(("VERIFY, due refresh, `%s` mode (worst of %d)" % (mode, len(sample)), us, b))
        us, b = measure(m, "mtoken.list", [["MTOKEN.LIST", "whale"]])
        rows.append(("LIST", us, b))
        m.cmd("CONFIG", "SET", "mtoken.max-tokens-per-user", str(n))
        us, b = measure(m, "mtoken.create", [["MTOKEN.CREATE", "whale"]])
        rows.append(("CREATE at the per-user limit (evicts the oldest)", us, b))
        m.cmd("CONFIG", "SET", "mtoken.max-tokens-per-user", "0")
        us, b = measure(m, "mtoken.expireall", [["MTOKEN.EXPIREALL", "whale"]])
        rows.append(("EXPIREALL", us, b))
        m.cmd("WAIT", 1, 60000)
        connected = info(m, "replication", "connected_slaves") == "1"
        in_step = info(m, "replication", "master_repl_offset") == info(r, "replication", "master_repl_offset")
        return fill_s, rows, connected and in_step
    finally:
        for p in (rp, mp):
            p.kill()
            p.wait()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--so", default="target/release/libmtoken.so")
    ap.add_argument("n", nargs="*", type=int, default=[100_000, 500_000])
    a = ap.parse_args()
    so = os.path.abspath(a.so)
    workdir = tempfile.mkdtemp(prefix="mtoken-big-user-")
    try:
        version = subprocess.run(["redis-server", "--version"], capture_output=True, text=True).stdout.strip()
        print("%s; module %s\n" % (version, so))
        print("| tokens of the user | operation | server time per call (ms) | bytes replicated |")
        print("|---|---|---|---|")
        for n in a.n:
            fill_s, rows, ok = run(so, n, workdir)
            for name, us, b in rows:
                print("| %d | %s | %.2f | %d |" % (n, name, us / 1000.0, b))
            print("| %d | (filled in %.1f s; replica connected and in step after all: %s) | | |" % (n, fill_s, "yes" if ok else "NO"))
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    main()
