"""Optional endpoints, shaped like django-rest-knox's (``login/``, ``logout/``,
``logoutall/``) plus what the seed lacked: ``logoutothers/`` and the device
list with per-device revoke. Include them with
``path("auth/", include("mtoken.drf.urls"))``.

- ``POST login/`` ``{"username", "password", "device"?}`` → 200
  ``{"token", "expiry", "device_id", "first"}`` (``expiry``: ISO 8601 UTC or
  null); 400 for bad credentials or an inactive user.
- ``POST logout/`` → 204: this device's token is expired.
- ``POST logoutall/`` → 204: every token of the user is expired.
- ``POST logoutothers/`` → 200 ``{"removed": n}``: all but this device.
- ``GET devices/`` → 200 ``[{"id", "name", "created", "last_used",
  "expires", "current"}]``, oldest first.
- ``DELETE devices/<id>/`` → 204, or 404 when the user has no such device.

All but ``login/`` authenticate with ``CachedTokenAuthentication`` and need
an authenticated user.
"""

from __future__ import annotations

from typing import Any

from django.contrib.auth import authenticate
from rest_framework import permissions, serializers, status
from rest_framework.response import Response
from rest_framework.views import APIView

from ..client import Device, token_id
from .tokens_auth import CachedTokenAuthentication, MultiToken

MAX_DEVICE_NAME = 256  # bytes, the module's limit on NAME


def _iso(when: Any) -> str | None:
    return None if when is None else when.isoformat().replace("+00:00", "Z")


def _device_name(request: Any, given: str) -> str | None:
    name = given or request.META.get("HTTP_USER_AGENT", "")
    if not name:
        return None
    raw = name.encode()[:MAX_DEVICE_NAME]
    return raw.decode(errors="ignore")


class LoginSerializer(serializers.Serializer):
    username = serializers.CharField()
    password = serializers.CharField(style={"input_type": "password"}, trim_whitespace=False)
    device = serializers.CharField(required=False, allow_blank=True, default="")

    def validate(self, attrs: dict) -> dict:
        user = authenticate(
            request=self.context.get("request"),
            username=attrs["username"],
            password=attrs["password"],
        )
        # Django's ModelBackend returns None for inactive users too.
        if user is None or not user.is_active:
            raise serializers.ValidationError(
                "Unable to log in with provided credentials.", code="authorization"
            )
        attrs["user"] = user
        return attrs


def device_json(device: Device, current_id: str | None = None) -> dict:
    return {
        "id": device.id,
        "name": device.name,
        "created": _iso(device.created),
        "last_used": _iso(device.last_used),
        "expires": _iso(device.expires),
        "current": device.id == current_id,
    }


class LoginView(APIView):
    authentication_classes: list = []
    permission_classes = [permissions.AllowAny]
    serializer_class = LoginSerializer

    def post(self, request: Any) -> Response:
        ser = self.serializer_class(data=request.data, context={"request": request})
        ser.is_valid(raise_exception=True)
        user = ser.validated_data["user"]
        token, first = MultiToken.create_token(
            user, name=_device_name(request, ser.validated_data.get("device", ""))
        )
        device_id = token_id(token.key)
        # One more round trip, on login only: the exact expiry the server set
        # (it may cap TTLs with mtoken.max-lifetime).
        expiry = next((d.expires for d in MultiToken.list_devices(user) if d.id == device_id), None)
        return Response(
            {"token": token.key, "expiry": _iso(expiry), "device_id": device_id, "first": first}
        )


class _TokenView(APIView):
    authentication_classes = [CachedTokenAuthentication]
    permission_classes = [permissions.IsAuthenticated]


class LogoutView(_TokenView):
    def post(self, request: Any) -> Response:
        MultiToken.expire_token(request.auth)
        return Response(status=status.HTTP_204_NO_CONTENT)


class LogoutAllView(_TokenView):
    def post(self, request: Any) -> Response:
        MultiToken.expire_all_tokens(request.user)
        return Response(status=status.HTTP_204_NO_CONTENT)


class LogoutOthersView(_TokenView):
    def post(self, request: Any) -> Response:
        removed = MultiToken.expire_all_tokens(request.user, except_token=request.auth)
        return Response({"removed": removed})


class DeviceListView(_TokenView):
    def get(self, request: Any) -> Response:
        current = token_id(request.auth.key)
        return Response([device_json(d, current) for d in MultiToken.list_devices(request.user)])


class DeviceRevokeView(_TokenView):
    def delete(self, request: Any, device_id: str) -> Response:
        if MultiToken.revoke_device(request.user, device_id):
            return Response(status=status.HTTP_204_NO_CONTENT)
        return Response({"detail": "No such device."}, status=status.HTTP_404_NOT_FOUND)
