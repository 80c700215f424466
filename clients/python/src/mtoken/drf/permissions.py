"""``HasScope``: a DRF permission that requires a scope of the request's
token (README.md, ``MTOKEN.CREATE … SCOPE``)::

    class Orders(APIView):
        permission_classes = [IsAuthenticated, HasScope]
        required_scope = "orders:read"                      # every method
        # or per method:
        required_scopes = {"GET": "orders:read", "POST": "orders:write"}

One ``MTOKEN.VERIFY_RO token SCOPE name`` per request that needs a scope
(it writes nothing: the authentication class already recorded the use). A
token created without scopes holds every scope; a view without a required
scope lets every authenticated token through.
"""

from __future__ import annotations

from typing import Any, Optional

from rest_framework.permissions import BasePermission

from .settings import get_client
from .tokens_auth import MultiToken


def required_scope(request: Any, view: Any) -> Optional[str]:
    per_method = getattr(view, "required_scopes", None)
    if per_method is not None:
        return per_method.get(request.method)
    return getattr(view, "required_scope", None)


class HasScope(BasePermission):
    message = "This token does not hold the scope this endpoint requires."

    def has_permission(self, request: Any, view: Any) -> bool:
        scope = required_scope(request, view)
        if scope is None:
            return True
        token = request.auth
        if not isinstance(token, MultiToken):
            return False
        return get_client().verify_ro(token.key, scope=scope) is not None
