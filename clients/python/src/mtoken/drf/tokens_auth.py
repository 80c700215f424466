"""The seed's API (``djforge_redis_multitokens.tokens_auth``) on the mtoken
module: ``MultiToken`` and ``CachedTokenAuthentication``, same names, same
behaviour, one Redis command per call.

What moved into the server: hashing (SHA-256 of a 256-bit random token
instead of PBKDF2 on every request), the user's token list (updated
atomically, so concurrent logins no longer lose a token), and the TTL reset
on each authenticated request (``MTOKEN.VERIFY`` slides expiries itself).
As in the seed, only ``CachedTokenAuthentication`` resets TTLs:
``get_user_from_token`` reads with ``MTOKEN.VERIFY_RO``, which never writes.
"""

from __future__ import annotations

from typing import Any

from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from rest_framework import exceptions
from rest_framework.authentication import TokenAuthentication

from ..client import Device
from .settings import get_client, mtoken_settings


def _user_id(user: Any) -> str:
    """What the module stores for a user: its primary key, as text."""
    return str(user.pk)


class MultiToken:
    """A token as DRF sees it: ``key`` is what the client sends, ``user`` the
    user it belongs to. ``request.auth`` is one of these."""

    def __init__(self, key: str, user: Any) -> None:
        self.key = key
        self.user = user

    def __repr__(self) -> str:  # never the key: it is a credential
        return f"<MultiToken user={getattr(self.user, 'pk', None)!r}>"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, MultiToken) and other.key == self.key

    def __hash__(self) -> int:
        return hash(self.key)

    @classmethod
    def create_token(
        cls, user: Any, name: str | None = None, scopes: Any = None
    ) -> tuple[MultiToken, bool]:
        """A new token for a new device: ``(token, first)``; ``first`` is True
        when the user had no live token. ``name`` labels the device in
        ``list_devices``; ``scopes`` limits what the token may do (checked
        by ``mtoken.drf.permissions.HasScope``; None = everything). Both are
        mtoken additions."""
        # No TTL argument: the token follows the server's mtoken.default-ttl
        # (= TIMEOUT, applied or checked by get_client), so a later change of
        # TIMEOUT reaches it at its next refresh, as in the seed.
        key, first = get_client().create(_user_id(user), name=name, scopes=scopes)
        return cls(key, user), first

    @classmethod
    def rotate_token(cls, token: Any, grace: int | None = None) -> MultiToken | None:
        """A new token for the same device (same id, name, scopes), or None
        if ``token`` is not live. The old key keeps working for ``grace``
        seconds (None: 30); used after that, it logs the device out."""
        key = token.key if isinstance(token, MultiToken) else token
        new = get_client().rotate(key, grace)
        if new is None:
            return None
        return cls(new, token.user if isinstance(token, MultiToken) else None)

    @classmethod
    def get_user_from_token(cls, key: str) -> Any:
        """The user of a live token; ``User.DoesNotExist`` for an unknown,
        expired, revoked or malformed one, or when the user is gone.

        Like the seed's, it renews nothing (``MTOKEN.VERIFY_RO``): only an
        authenticated request (``CachedTokenAuthentication``) does."""
        return _user_of(key, get_client().verify_ro)

    @classmethod
    def ttl(cls, token: Any) -> int | None:
        """Seconds the token has left; None if it never expires; 0 if it is
        not live. ``token`` is a ``MultiToken`` or its key. Renews nothing
        (the seed's ``TOKENS_CACHE.ttl(hash)``; an mtoken addition)."""
        key = token.key if isinstance(token, MultiToken) else token
        return get_client().ttl(key)

    @classmethod
    def expire_token(cls, token: Any) -> None:
        """Log one device out. ``token`` is a ``MultiToken`` (``request.auth``)
        or its key. Returns None, like the seed."""
        key = token.key if isinstance(token, MultiToken) else token
        get_client().expire(key)

    @classmethod
    def expire_all_tokens(cls, user: Any, except_token: Any = None) -> int:
        """Log the user out everywhere (but ``except_token``'s device, an
        mtoken addition). A user without tokens is fine. Returns how many
        tokens were removed."""
        keep = except_token.key if isinstance(except_token, MultiToken) else except_token
        return get_client().expire_all(_user_id(user), except_token=keep)

    @classmethod
    def list_devices(cls, user: Any) -> list[Device]:
        """The user's live tokens, oldest first (an mtoken addition)."""
        return get_client().list(_user_id(user))

    @classmethod
    def revoke_device(cls, user: Any, device_id: str) -> bool:
        """Log out the device ``list_devices`` showed (an mtoken addition)."""
        return get_client().revoke(_user_id(user), device_id)


def _user_of(key: Any, verify: Any) -> Any:
    """The user whose pk ``verify(key)`` returns, or ``User.DoesNotExist``."""
    User = get_user_model()
    if not isinstance(key, (str, bytes)) or not key:
        raise User.DoesNotExist
    pk = verify(key)
    if pk is None:
        raise User.DoesNotExist
    try:
        return User._default_manager.get(pk=pk)
    except (ValueError, ValidationError):  # a pk this model cannot hold
        raise User.DoesNotExist from None


class CachedTokenAuthentication(TokenAuthentication):
    """``Authorization: Token <key>`` checked by ``MTOKEN.VERIFY``, which
    also renews expiries per ``RESET_TOKEN_TTL_ON_USER_LOG_IN`` (as the seed's
    ``reset_tokens_ttl`` did on each authenticated request).

    The keyword is ``MTOKEN['KEYWORD']`` (default ``Token``); a subclass may
    set ``keyword`` as usual. Inactive users are rejected. ``request.auth`` is
    the ``MultiToken``, so ``MultiToken.expire_token(request.auth)`` logs that
    device out.
    """

    @property
    def keyword(self) -> str:  # type: ignore[override]
        return mtoken_settings().KEYWORD

    def authenticate_credentials(self, key: str) -> tuple[Any, MultiToken]:
        User = get_user_model()
        try:
            user = _user_of(key, get_client().verify)
        except User.DoesNotExist:
            raise exceptions.AuthenticationFailed("Invalid token.") from None
        if not user.is_active:
            raise exceptions.AuthenticationFailed("User inactive or deleted.")
        return (user, MultiToken(key, user))
