"""``path("auth/", include("mtoken.drf.urls"))`` — see ``mtoken.drf.views``."""

from django.urls import path

from . import views

app_name = "mtoken"

urlpatterns = [
    path("login/", views.LoginView.as_view(), name="login"),
    path("logout/", views.LogoutView.as_view(), name="logout"),
    path("logoutall/", views.LogoutAllView.as_view(), name="logoutall"),
    path("logoutothers/", views.LogoutOthersView.as_view(), name="logoutothers"),
    path("devices/", views.DeviceListView.as_view(), name="devices"),
    path("devices/<str:device_id>/", views.DeviceRevokeView.as_view(), name="device"),
]
