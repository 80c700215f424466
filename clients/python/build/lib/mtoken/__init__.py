"""mtoken: Python client for the mtoken Redis module.

- ``mtoken.Client``: the module's commands on a redis-py client (plain or
  cluster).
- ``mtoken.drf``: a drop-in replacement for djforge-redis-multitokens
  (needs the ``drf`` extra: ``pip install mtoken[drf]``).
"""

from .client import Client, Device, ModuleNotLoaded, token_id

__all__ = ["Client", "Device", "ModuleNotLoaded", "token_id"]
__version__ = "0.1.0"
