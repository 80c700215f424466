from django.urls import include, path
from rest_framework.permissions import IsAuthenticated
from rest_framework.response import Response
from rest_framework.views import APIView

from mtoken.drf.permissions import HasScope
from mtoken.drf.transition import TransitionAuthentication


class Me(APIView):
    """An ordinary protected endpoint of the app."""

    def get(self, request):
        return Response({"username": request.user.get_username()})


class Transition(TransitionAuthentication):
    """DRF's own database tokens stand in for the seed's (which does not
    install on Django 4.2+): the routing by token shape is the same."""

    legacy_authentication = "rest_framework.authentication.TokenAuthentication"


class MeDuringTransition(Me):
    authentication_classes = [Transition]


class Orders(APIView):
    """A view that needs a scope per method (mtoken.drf.permissions.HasScope)."""

    permission_classes = [IsAuthenticated, HasScope]
    required_scopes = {"GET": "orders:read", "POST": "orders:write"}

    def get(self, request):
        return Response({"orders": []})

    def post(self, request):
        return Response({"created": True})


urlpatterns = [
    path("orders/", Orders.as_view()),
    path("auth/", include("mtoken.drf.urls")),
    path("me/", Me.as_view()),
    path("me-transition/", MeDuringTransition.as_view()),
]
