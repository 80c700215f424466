"""The example project (examples/seed_app: an app written for the seed, with
only imports and settings changed, plus the package's endpoints) passes its
own Django tests against the live server with the module, in a Redis
database of their own: the users of the runserver database stay logged in."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import mtoken

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "seed_app"


def test_the_seed_app_passes_its_own_tests_in_its_own_database(r, redis_server):
    # The runserver database (db 0) already has logged-in users 1 and 2: the
    # pks the test run's users get too, and whose tokens its tearDown expires.
    live = mtoken.Client(r)
    real = [live.create(pk)[0] for pk in (1, 2)]
    created = r.info("mtoken")["mtoken_tokens_created"]

    env = {
        **os.environ,
        "MTOKEN_REDIS_URL": f"redis://127.0.0.1:{redis_server.port}/0",
        "MTOKEN_TEST_REDIS_URL": f"redis://127.0.0.1:{redis_server.port}/1",
    }
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
    assert "Ran 7 tests" in out and "OK" in out, out

    assert r.info("mtoken")["mtoken_tokens_created"] > created  # they ran on this server
    assert [live.verify(t) for t in real] == ["1", "2"]  # db 0's users still logged in
    assert r.dbsize() == 4  # and nothing else written there
    assert redis_server.client(db=1).dbsize() == 0  # its tearDown logged its users out


def test_the_test_runner_refuses_the_apps_own_database(redis_server):
    env = {
        **os.environ,
        "MTOKEN_REDIS_URL": f"redis://127.0.0.1:{redis_server.port}/0",
        "MTOKEN_TEST_REDIS_URL": f"redis://127.0.0.1:{redis_server.port}",
    }
    env.pop("DJANGO_SETTINGS_MODULE", None)
    res = subprocess.run(
        [sys.executable, "manage.py", "test", "--noinput"],
        cwd=EXAMPLE,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert res.returncode != 0
    assert "MTOKEN['TEST_REDIS_URL'] is the app's own database" in res.stderr
