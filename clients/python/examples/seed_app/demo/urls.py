from accounts import views
from django.urls import include, path
from rest_framework import routers

router = routers.DefaultRouter()
router.register(r"users", views.UserViewSet)

urlpatterns = [
    path("", include(router.urls)),
    path("login/", views.login_handler),
    path("logout/", views.logout_handler),
    path("password/", views.password_changed_handler),
    # mtoken: new, optional: login/, logout/, logoutall/, logoutothers/,
    # devices/ and devices/<id>/ (the package's README, "Endpoints").
    path("auth/", include("mtoken.drf.urls")),
]
