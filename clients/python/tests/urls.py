from django.urls import include, path
from rest_framework.response import Response
from rest_framework.views import APIView


class Me(APIView):
    """An ordinary protected endpoint of the app."""

    def get(self, request):
        return Response({"username": request.user.get_username()})


urlpatterns = [
    path("auth/", include("mtoken.drf.urls")),
    path("me/", Me.as_view()),
]
