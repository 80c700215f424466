"""The processes: a redis-server with the modules (optionally under
callgrind), redis-benchmark, redis-cli --pipe, and what the server reports
about a run."""

import csv
import os
import re
import shutil
import subprocess
import time

from resp import Conn, encode, free_port
from settings import CLIENTS, MODULE, WORK


class Server:
    """A redis-server with the release module, optionally under callgrind."""

    def __init__(self, name, callgrind=False):
        self.port = free_port()
        self.dir = os.path.join(WORK, name)
        shutil.rmtree(self.dir, ignore_errors=True)
        os.makedirs(self.dir)
        argv = [
            "redis-server",
            "--port", str(self.port),
            "--bind", "127.0.0.1",
            "--save", "",
            "--appendonly", "no",
            "--dir", self.dir,
            "--logfile", os.path.join(self.dir, "redis.log"),
            "--loadmodule", MODULE,
        ]
        if callgrind:
            argv = [
                "valgrind",
                "--tool=callgrind",
                "--callgrind-out-file=" + os.path.join(self.dir, "callgrind.out.%p"),
            ] + argv
        self.stderr = open(os.path.join(self.dir, "stderr.log"), "w")
        self.proc = subprocess.Popen(
            argv, cwd=self.dir, stdout=subprocess.DEVNULL, stderr=self.stderr
        )
        deadline = time.time() + (120 if callgrind else 20)
        while True:
            try:
                self.conn = Conn(self.port)
                if self.conn.cmd("PING") == "PONG":
                    break
            except (OSError, ConnectionError):
                pass
            if self.proc.poll() is not None or time.time() > deadline:
                raise SystemExit(f"redis-server did not start; see {self.dir}")
            time.sleep(0.2)

    def stop(self):
        try:
            self.conn.sock.sendall(encode(["SHUTDOWN", "NOSAVE"]))
        except OSError:
            pass
        try:
            self.proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self.stderr.close()


def redis_benchmark(port, args, n, pipeline, rand=None):
    cmd = ["redis-benchmark", "-p", str(port), "-c", str(CLIENTS), "-n", str(n)]
    cmd += ["-P", str(pipeline), "--csv"]
    if rand:
        cmd += ["-r", str(rand)]
    out = subprocess.run(cmd + args, capture_output=True, text=True, check=True)
    rows = list(csv.reader(out.stdout.strip().splitlines()))
    head, row = rows[0], rows[-1]
    res = dict(zip(head, row))
    return {
        "rps": float(res["rps"]),
        "p50": float(res["p50_latency_ms"]),
        "p99": float(res["p99_latency_ms"]),
    }


def stat_key(args):
    """The INFO commandstats entry of a command."""
    return "cmdstat_" + args[0].lower()


def usec_per_call(conn, args):
    stats = conn.info("commandstats").get(stat_key(args), "")
    m = re.search(r"usec_per_call=([\d.]+)", stats)
    return float(m.group(1)) if m else float("nan")


def cpu_seconds(pid):
    """User + system CPU time a process has used so far."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def pipe_load(port, commands):
    """Stream RESP commands into `redis-cli --pipe`; every reply must be OK."""
    cli = subprocess.Popen(
        ["redis-cli", "-p", str(port), "--pipe"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    chunk = []
    for c in commands:
        chunk.append(encode(c))
        if len(chunk) == 10000:
            cli.stdin.write(b"".join(chunk))
            chunk = []
    cli.stdin.write(b"".join(chunk))
    cli.stdin.close()
    out = cli.stdout.read().decode()
    cli.wait()
    m = re.search(r"errors: (\d+), replies: (\d+)", out)
    if cli.returncode != 0 or not m or m.group(1) != "0":
        raise SystemExit(f"redis-cli --pipe load failed: {out}")
    return int(m.group(2))
