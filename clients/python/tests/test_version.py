"""One version, set once: the module's Cargo.toml. The package's version is
read from it at build time (pyproject.toml, [tool.hatch.version])."""

from __future__ import annotations

import re
from importlib.metadata import distribution

import mtoken
from tests.servers import REPO


def cargo_version() -> str:
    text = (REPO / "Cargo.toml").read_text()
    package = text.split("[package]", 1)[1].split("\n[", 1)[0]
    match = re.search(r'^version\s*=\s*"([^"]+)"', package, re.M)
    assert match, "no version in Cargo.toml's [package]"
    return match.group(1)


def test_the_package_version_is_the_cargo_version():
    assert mtoken.__version__ == cargo_version()


def test_the_distribution_is_mtoken_redis_and_provides_the_mtoken_package():
    dist = distribution("mtoken-redis")
    assert dist.version == cargo_version()
    files = {str(f) for f in dist.files or ()}
    assert "mtoken/__init__.py" in files
