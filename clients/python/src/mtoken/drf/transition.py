"""Both packages side by side during a rolling deploy (README.md,
"Migrating", step 6): ``TransitionAuthentication`` checks mtoken tokens with
``MTOKEN.VERIFY`` and hands every other token to the seed's
authentication class, so sessions that began before the switch keep working
until the seed's TIMEOUT ends them.

    REST_FRAMEWORK["DEFAULT_AUTHENTICATION_CLASSES"] = [
        "mtoken.drf.transition.TransitionAuthentication"]

The seed stays installed and configured (its ``CACHES`` alias and
``DJFORGE_REDIS_MULTITOKENS``) for that time. ``request.auth`` is then the
seed's ``MultiToken`` for old sessions: log a device out with
``type(request.auth).expire_token(request.auth)``.
"""

from __future__ import annotations

from typing import Any

from django.utils.module_loading import import_string

from .tokens_auth import CachedTokenAuthentication


class TransitionAuthentication(CachedTokenAuthentication):
    #: The class that checks tokens mtoken did not make (a dotted path,
    #: imported on first use, so the module imports without the seed).
    legacy_authentication = "djforge_redis_multitokens.tokens_auth.CachedTokenAuthentication"
    #: What every mtoken token starts with (the module's mtoken.token-prefix);
    #: the seed's tokens are hex and never do.
    prefix = "mt_"

    def authenticate_credentials(self, key: str) -> tuple[Any, Any]:
        if key.startswith(self.prefix):
            return super().authenticate_credentials(key)
        return import_string(self.legacy_authentication)().authenticate_credentials(key)
