"""The processes: a redis-server with the modules (optionally under
callgrind), redis-benchmark, redis-cli --pipe, and what the server reports
about a run."""

import csv
import glob
import json
import os
import re
import shutil
import subprocess
import time

from resp import Conn, encode, free_port
from settings import CLIENTS, FLOOR, FLOOR_SRC, MODULE, ROOT, WORK, log


def module_header_dir():
    """The directory of the redismodule.h that the redis-module crate ships
    (src/include/ of the version in Cargo.lock)."""
    meta = subprocess.run(
        ["cargo", "metadata", "--format-version", "1", "--locked"],
        cwd=ROOT, capture_output=True, text=True,
    )
    if meta.returncode == 0:
        for pkg in json.loads(meta.stdout)["packages"]:
            if pkg["name"] == "redis-module":
                found = os.path.join(os.path.dirname(pkg["manifest_path"]), "src", "include")
                if os.path.exists(os.path.join(found, "redismodule.h")):
                    return found
    home = os.environ.get("CARGO_HOME", os.path.expanduser("~/.cargo"))
    found = sorted(glob.glob(os.path.join(home, "registry/src/*/redis-module-*/src/include")))
    if not found:
        raise SystemExit("redismodule.h not found: run `cargo build --release` first")
    return found[-1]


def build_floor():
    """Compile the module floor (floor/floor.c) if it is older than its source."""
    if os.path.exists(FLOOR) and os.path.getmtime(FLOOR) >= os.path.getmtime(FLOOR_SRC):
        return
    os.makedirs(WORK, exist_ok=True)
    cmd = ["cc", "-O2", "-Wall", "-shared", "-fPIC"]
    cmd += ["-I", module_header_dir(), "-o", FLOOR, FLOOR_SRC]
    log("building the module floor: " + " ".join(cmd))
    subprocess.run(cmd, check=True)


class Server:
    """A redis-server with the release module and the module floor,
    optionally under callgrind."""

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
            "--loadmodule", FLOOR,
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
