"""Where things are, how big a run is, and the log line: shared by the bench modules."""

import os
import sys


ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
HERE = os.path.dirname(os.path.abspath(__file__))
MODULE = os.path.join(ROOT, "target", "release", "libmtoken.so")
WORK = os.path.join(ROOT, "target", "bench")
DOC = os.path.join(ROOT, "docs", "PERFORMANCE.md")
# The module floor (floor/floor.c), built by the bench into WORK.
FLOOR_SRC = os.path.join(HERE, "floor", "floor.c")
FLOOR = os.path.join(WORK, "floor.so")
FLOOR_PREFIX = "floor:{bench}:t:"  # as PREFIX in floor.c
FLOOR_ID = "0123456789abcde"  # + the prefix: 31 bytes, as an entry's name

CLIENTS = 50
TTL = 86400  # every token in every benchmark has a TTL, as most deployments do
PAD = "a" * 40  # + two 12-digit __rand_int__ = a 64-char "sha256 hex" for the baseline

# Full run sizes (3-7 minutes on 2 cores, by the CPU); --quick divides them.
FULL = dict(
    rounds=5,
    n_read16=1_500_000,
    n_read1=100_000,
    n_write16=200_000,
    n_write1=100_000,
    users_rand=100_000,
    expireall_users=2000,
    expireall_tokens=100,
    mem_tokens=1_000_000,
    mem_users=100_000,
    cg_n=20_000,
)
QUICK = dict(
    rounds=1,
    n_read16=100_000,
    n_read1=10_000,
    n_write16=20_000,
    n_write1=10_000,
    users_rand=100_000,
    expireall_users=100,
    expireall_tokens=100,
    mem_tokens=100_000,
    mem_users=10_000,
    cg_n=5_000,
)


def log(msg):
    print(msg, file=sys.stderr, flush=True)
