"""The example project (examples/seed_app: an app written for the seed, with
only imports and settings changed) passes its own Django tests against the
live server with the module."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "seed_app"


def test_the_seed_app_passes_its_own_tests_on_mtoken(r, redis_server):
    env = {**os.environ, "MTOKEN_REDIS_URL": redis_server.url}
    env.pop("DJANGO_SETTINGS_MODULE", None)
    res = subprocess.run(
        [sys.executable, "manage.py", "test", "--noinput", "-v", "2"],
        cwd=EXAMPLE,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    out = res.stdout + res.stderr
    assert res.returncode == 0, out
    assert "Ran 6 tests" in out and "OK" in out, out
    assert r.dbsize() == 0  # its tearDown logged every user out
