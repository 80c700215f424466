"""mtoken: Python client for the mtoken Redis module.

- ``mtoken.Client``: the module's commands on a redis-py client (plain or
  cluster).
- ``mtoken.AsyncClient``: the same on ``redis.asyncio`` (plain or cluster).
- ``mtoken.drf``: a drop-in replacement for djforge-redis-multitokens
  (needs the ``drf`` extra: ``pip install './clients/python[drf]'``; the
  distribution is named ``mtoken-redis``).
"""

from importlib.metadata import PackageNotFoundError, version

from .aio import AsyncClient
from .client import Client, Device, ModuleNotLoaded, token_id
from .events import Event, EventListener, parse_event

__all__ = [
    "AsyncClient",
    "Client",
    "Device",
    "Event",
    "EventListener",
    "ModuleNotLoaded",
    "parse_event",
    "token_id",
]

# Set once, in the repository's Cargo.toml: the build reads it from there
# (pyproject.toml, [tool.hatch.version]) into the distribution's metadata.
try:
    __version__ = version("mtoken-redis")
except PackageNotFoundError:  # imported from a source tree that was never installed
    __version__ = "0+unknown"
