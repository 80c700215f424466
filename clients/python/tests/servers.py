"""Real redis-servers for the tests: one with the mtoken module, one without,
and a 3-node Redis Cluster with the module on every node. Each listens on a
free loopback port, keeps its files in a temp dir, and is killed after."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Callable

import redis

REPO = Path(__file__).resolve().parents[3]


def module_path() -> str:
    path = os.environ.get("MTOKEN_MODULE") or str(REPO / "target" / "debug" / "libmtoken.so")
    if not os.path.exists(path):
        raise RuntimeError(
            f"mtoken module not found at {path}: run `cargo build` or set MTOKEN_MODULE"
        )
    return os.path.abspath(path)


def free_port() -> int:
    # A cluster node also listens on port + 10000: keep both in range.
    while True:
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        if port + 10000 < 65536:
            return port


def wait_until(what: str, check: Callable[[], bool], timeout: float = 10.0) -> None:
    """Bounded polling: `check` until it holds, or fail after `timeout`."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            if check():
                return
        except (redis.RedisError, OSError):
            pass
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out waiting for {what}")
        time.sleep(0.02)


class RedisServer:
    def __init__(self, *, module: str | None, extra: Sequence[str] = (), tag: str = "srv"):
        self.port = free_port()
        self.dir = tempfile.mkdtemp(prefix=f"mtoken-py-{tag}-")
        self.log = os.path.join(self.dir, "redis.log")
        cmd: list[str] = [
            "redis-server",
            "--port",
            str(self.port),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--appendonly",
            "no",
            "--dir",
            self.dir,
            "--logfile",
            self.log,
        ]
        if module:
            cmd += ["--loadmodule", module]
        cmd += list(extra)
        self.proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)
        try:
            wait_until(f"redis-server on {self.port}", self._up)
        except TimeoutError:
            self.stop()
            raise RuntimeError(f"redis-server did not start:\n{self.log_tail()}") from None

    def _up(self) -> bool:
        if self.proc.poll() is not None:
            raise TimeoutError(f"redis-server exited:\n{self.log_tail()}")
        return self.client().ping()

    def client(self, **kw) -> redis.Redis:
        return redis.Redis(host="127.0.0.1", port=self.port, **kw)

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def log_tail(self) -> str:
        try:
            with open(self.log) as f:
                return "".join(f.readlines()[-20:])
        except OSError:
            return "(no log)"

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)
        shutil.rmtree(self.dir, ignore_errors=True)


class RedisCluster3:
    """Three primaries, no replicas, the module on each."""

    def __init__(self, module: str):
        self.nodes: list[RedisServer] = []
        try:
            for i in range(3):
                self.nodes.append(
                    RedisServer(
                        module=module,
                        tag=f"cluster{i}",
                        extra=[
                            "--cluster-enabled",
                            "yes",
                            "--cluster-config-file",
                            f"nodes-{i}.conf",
                            "--cluster-node-timeout",
                            "5000",
                        ],
                    )
                )
            subprocess.run(
                ["redis-cli", "--cluster", "create"]
                + [f"127.0.0.1:{n.port}" for n in self.nodes]
                + ["--cluster-replicas", "0", "--cluster-yes"],
                check=True,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.PIPE,
                timeout=60,
            )
            for n in self.nodes:
                wait_until(
                    f"cluster_state:ok on {n.port}",
                    lambda n=n: n.client().cluster("info")["cluster_state"] == "ok",
                    timeout=30,
                )
        except BaseException:
            self.stop()
            raise

    def stop(self) -> None:
        for n in self.nodes:
            n.stop()
