"""The example app's own tests, unchanged from its seed days: run with
`python manage.py test` against a Redis with the mtoken module
(MTOKEN_TEST_REDIS_URL, default redis://localhost:6379/1)."""

from django.contrib.auth.models import User
from django.test import TestCase, override_settings
from rest_framework.test import APIClient

from mtoken.drf import MultiToken


# Fast hashing: these tests log in many times.
@override_settings(PASSWORD_HASHERS=["django.contrib.auth.hashers.MD5PasswordHasher"])
class SeedAppTests(TestCase):
    def setUp(self):
        self.user = User.objects.create_user("ann", password="old-pw")
        self.other = User.objects.create_user("ben", password="ben-pw")

    def tearDown(self):
        # The database is rolled back between tests; the tokens live in Redis.
        for u in (self.user, self.other):
            MultiToken.expire_all_tokens(u)

    def login(self, username, password):
        return APIClient().post(
            "/login/", {"username": username, "password": password}, format="json"
        )

    def client_for(self, key):
        c = APIClient()
        c.credentials(HTTP_AUTHORIZATION="Token " + key)
        return c

    def test_login_gives_a_token_that_opens_the_api(self):
        res = self.login("ann", "old-pw")
        self.assertEqual(res.status_code, 200)
        self.assertTrue(res.data["first_device"])
        self.assertEqual(self.client_for(res.data["token"]).get("/users/").status_code, 200)

    def test_second_device_is_not_the_first(self):
        self.login("ann", "old-pw")
        self.assertFalse(self.login("ann", "old-pw").data["first_device"])

    def test_the_api_needs_a_valid_token(self):
        self.assertEqual(APIClient().get("/users/").status_code, 401)
        self.assertEqual(self.client_for("bogus").get("/users/").status_code, 401)

    def test_logout_on_one_device_keeps_the_others(self):
        phone = self.login("ann", "old-pw").data["token"]
        laptop = self.login("ann", "old-pw").data["token"]
        self.assertEqual(self.client_for(phone).post("/logout/").status_code, 204)
        self.assertEqual(self.client_for(phone).get("/users/").status_code, 401)
        self.assertEqual(self.client_for(laptop).get("/users/").status_code, 200)

    def test_password_change_logs_out_everywhere_but_returns_a_fresh_token(self):
        phone = self.login("ann", "old-pw").data["token"]
        laptop = self.login("ann", "old-pw").data["token"]
        bens = self.login("ben", "ben-pw").data["token"]
        res = self.client_for(phone).post("/password/", {"new_password": "new-pw"}, format="json")
        self.assertEqual(res.status_code, 200)
        self.assertEqual(self.client_for(phone).get("/users/").status_code, 401)
        self.assertEqual(self.client_for(laptop).get("/users/").status_code, 401)
        self.assertEqual(self.client_for(res.data["token"]).get("/users/").status_code, 200)
        self.assertEqual(self.client_for(bens).get("/users/").status_code, 200)

    def test_get_user_from_token(self):
        token, _ = MultiToken.create_token(self.user)
        self.assertEqual(MultiToken.get_user_from_token(token.key), self.user)
        with self.assertRaises(User.DoesNotExist):
            MultiToken.get_user_from_token(token.key[:-1])
