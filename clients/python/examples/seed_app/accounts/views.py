"""Views written for djforge-redis-multitokens, following its README
(login_handler, logout_handler, password_changed_handler) and its demo's
UserViewSet. The only change for mtoken is the import below."""

from django.contrib.auth import authenticate
from django.contrib.auth.models import User
from rest_framework import permissions, serializers, status, viewsets
from rest_framework.decorators import api_view, authentication_classes, permission_classes
from rest_framework.response import Response

# mtoken: was `from djforge_redis_multitokens.tokens_auth import MultiToken`
from mtoken.drf import MultiToken


class UserSerializer(serializers.ModelSerializer):
    class Meta:
        model = User
        fields = ("id", "username", "email")


class UserViewSet(viewsets.ReadOnlyModelViewSet):
    """API endpoint that allows users to be viewed."""

    queryset = User.objects.all().order_by("-date_joined")
    serializer_class = UserSerializer
    permission_classes = (permissions.IsAuthenticated,)


@api_view(["POST"])
@authentication_classes([])
@permission_classes([permissions.AllowAny])
def login_handler(request):
    user = authenticate(
        request, username=request.data.get("username"), password=request.data.get("password")
    )
    if user is None:
        return Response({"detail": "Bad credentials."}, status=status.HTTP_400_BAD_REQUEST)
    token, first_device = MultiToken.create_token(user)
    return Response({"token": token.key, "first_device": first_device})


@api_view(["POST"])
def logout_handler(request):
    # DRF's request.auth is the MultiToken that authenticated this request.
    MultiToken.expire_token(request.auth)
    return Response(status=status.HTTP_204_NO_CONTENT)


@api_view(["POST"])
def password_changed_handler(request):
    user = request.user
    user.set_password(request.data["new_password"])
    user.save()
    MultiToken.expire_all_tokens(user)  # log out on every device
    token, _ = MultiToken.create_token(user)
    return Response({"token": token.key})
