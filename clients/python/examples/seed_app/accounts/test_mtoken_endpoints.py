"""The package's endpoints (mtoken.drf.urls, mounted at /auth/), as the
README's curl lines use them. Not from the seed days: the seed had none."""

from django.contrib.auth.models import User
from django.test import TestCase, override_settings
from rest_framework.test import APIClient

from mtoken.drf import MultiToken


@override_settings(PASSWORD_HASHERS=["django.contrib.auth.hashers.MD5PasswordHasher"])
class MTokenEndpointTests(TestCase):
    def setUp(self):
        self.user = User.objects.create_user("cat", password="cat-pw")

    def tearDown(self):
        MultiToken.expire_all_tokens(self.user)

    def login(self, device):
        res = APIClient().post(
            "/auth/login/",
            {"username": "cat", "password": "cat-pw", "device": device},
            format="json",
        )
        self.assertEqual(res.status_code, 200)
        return res.json()

    def client_for(self, key):
        c = APIClient()
        c.credentials(HTTP_AUTHORIZATION="Token " + key)
        return c

    def test_devices_logout_others_and_logout(self):
        phone = self.login("phone")
        laptop = self.login("laptop")
        devices = self.client_for(phone["token"]).get("/auth/devices/").json()
        self.assertEqual([d["name"] for d in devices], ["phone", "laptop"])
        self.assertEqual([d["current"] for d in devices], [True, False])
        res = self.client_for(phone["token"]).post("/auth/logoutothers/")
        self.assertEqual(res.json(), {"removed": 1})
        self.assertEqual(self.client_for(laptop["token"]).get("/users/").status_code, 401)
        self.assertEqual(self.client_for(phone["token"]).post("/auth/logout/").status_code, 204)
        self.assertEqual(self.client_for(phone["token"]).get("/users/").status_code, 401)
