"""Drop-in replacement for djforge-redis-multitokens on the mtoken module.

    from mtoken.drf import MultiToken, CachedTokenAuthentication

Settings live in ``settings.MTOKEN`` (see ``mtoken.drf.settings`` and the
package README's migration guide). Needs the ``drf`` extra:
``pip install './clients/python[drf]'`` (distribution ``mtoken-redis``).
"""

from .permissions import HasScope
from .settings import apply_server_config, get_client, mtoken_settings
from .tokens_auth import CachedTokenAuthentication, MultiToken

__all__ = [
    "CachedTokenAuthentication",
    "HasScope",
    "MultiToken",
    "apply_server_config",
    "get_client",
    "mtoken_settings",
]
