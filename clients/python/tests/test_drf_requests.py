"""Real DRF request cycles (APIClient) with CachedTokenAuthentication and the
optional views of mtoken.drf.urls, on a live server with the module."""

from __future__ import annotations

import datetime as dt

import pytest
from django.contrib.auth import get_user_model
from rest_framework.test import APIClient

from mtoken import token_id
from mtoken.drf import MultiToken

User = get_user_model()

pytestmark = pytest.mark.django_db


@pytest.fixture
def alice(mtoken_conf):
    return User.objects.create_user("alice", password="pw-alice")


@pytest.fixture
def bob(mtoken_conf):
    return User.objects.create_user("bob", password="pw-bob")


def login(username, password, device=None, **extra):
    data = {"username": username, "password": password}
    if device is not None:
        data["device"] = device
    return APIClient().post("/auth/login/", data, format="json", **extra)


def as_token(key, keyword="Token"):
    c = APIClient()
    c.credentials(HTTP_AUTHORIZATION=f"{keyword} {key}")
    return c


def me(key, keyword="Token"):
    return as_token(key, keyword).get("/me/")


def test_login_returns_a_working_token_without_expiry_by_default(alice):
    res = login("alice", "pw-alice")
    assert res.status_code == 200
    body = res.json()
    assert body["expiry"] is None
    assert body["first"] is True
    assert body["device_id"] == token_id(body["token"])
    assert MultiToken.get_user_from_token(body["token"]) == alice


def iso(text):
    return dt.datetime.fromisoformat(text.replace("Z", "+00:00"))


def test_login_returns_the_expiry_of_its_timeout(mtoken_conf, alice):
    mtoken_conf(TIMEOUT=1000)
    body = login("alice", "pw-alice").json()
    left = iso(body["expiry"]) - dt.datetime.now(dt.timezone.utc)
    assert dt.timedelta(seconds=995) <= left <= dt.timedelta(seconds=1000)


def test_the_login_expiry_is_the_one_the_server_set(mtoken_conf, alice):
    mtoken_conf(TIMEOUT=1000)
    body = login("alice", "pw-alice").json()
    (device,) = MultiToken.list_devices(alice)
    assert device.id == body["device_id"]
    assert abs(device.expires - iso(body["expiry"])) <= dt.timedelta(seconds=1)


def calls(r, command):
    return r.info("commandstats").get(f"cmdstat_{command}", {}).get("calls", 0)


def test_login_does_not_call_mtoken_list(r, alice):
    # A user with many devices: a LIST per login would be O(devices).
    for _ in range(5):
        assert login("alice", "pw-alice").status_code == 200
    r.config_resetstat()
    assert login("alice", "pw-alice").status_code == 200
    assert calls(r, "mtoken.create") == 1  # the counters see this server's login
    assert calls(r, "mtoken.list") == 0


def test_login_with_a_wrong_password_is_400_and_creates_nothing(r, alice):
    res = login("alice", "nope")
    assert res.status_code == 400
    assert r.dbsize() == 0


def test_login_of_an_inactive_user_is_400(alice):
    alice.is_active = False
    alice.save()
    assert login("alice", "pw-alice").status_code == 400


def test_an_authenticated_request_is_200(alice):
    key = login("alice", "pw-alice").json()["token"]
    res = me(key)
    assert res.status_code == 200
    assert res.json() == {"username": "alice"}


def test_a_bad_token_is_401(alice):
    key = login("alice", "pw-alice").json()["token"]
    for wrong in (key[:-1], key[1:], "mt_" + "A" * 52):
        res = me(wrong)
        assert res.status_code == 401
        assert res.json()["detail"] == "Invalid token."


def test_no_credentials_is_401_with_the_token_challenge(alice):
    res = APIClient().get("/me/")
    assert res.status_code == 401
    assert res["WWW-Authenticate"] == "Token"


def test_logout_ends_this_device_only(alice):
    phone = login("alice", "pw-alice", device="phone").json()["token"]
    laptop = login("alice", "pw-alice", device="laptop").json()["token"]
    assert as_token(phone).post("/auth/logout/").status_code == 204
    assert me(phone).status_code == 401
    assert me(laptop).status_code == 200


def test_logout_everywhere_ends_every_device_of_the_user(alice):
    phone = login("alice", "pw-alice").json()["token"]
    laptop = login("alice", "pw-alice").json()["token"]
    assert as_token(phone).post("/auth/logoutall/").status_code == 204
    assert me(phone).status_code == 401
    assert me(laptop).status_code == 401


def test_logout_everywhere_leaves_other_users_logged_in(alice, bob):
    mine = login("alice", "pw-alice").json()["token"]
    theirs = login("bob", "pw-bob").json()["token"]
    as_token(mine).post("/auth/logoutall/")
    assert me(theirs).status_code == 200
    assert me(theirs).json() == {"username": "bob"}


def test_logout_others_keeps_only_this_device(alice):
    keep = login("alice", "pw-alice").json()["token"]
    others = [login("alice", "pw-alice").json()["token"] for _ in range(2)]
    res = as_token(keep).post("/auth/logoutothers/")
    assert res.status_code == 200 and res.json() == {"removed": 2}
    assert me(keep).status_code == 200
    assert [me(o).status_code for o in others] == [401, 401]


def test_an_inactive_user_is_rejected(alice):
    key = login("alice", "pw-alice").json()["token"]
    alice.is_active = False
    alice.save()
    res = me(key)
    assert res.status_code == 401
    assert res.json()["detail"] == "User inactive or deleted."


def test_a_deleted_user_is_rejected(alice):
    key = login("alice", "pw-alice").json()["token"]
    alice.delete()
    assert me(key).status_code == 401


def test_the_keyword_is_configurable(mtoken_conf, alice):
    mtoken_conf(KEYWORD="Bearer")
    key = login("alice", "pw-alice").json()["token"]
    assert me(key, keyword="Bearer").status_code == 200
    assert me(key, keyword="Token").status_code == 401


def test_devices_lists_each_login_with_its_name_and_the_current_one(alice):
    phone = login("alice", "pw-alice", device="phone").json()
    login("alice", "pw-alice", HTTP_USER_AGENT="curl/8.0")
    res = as_token(phone["token"]).get("/auth/devices/")
    assert res.status_code == 200
    devices = {d["name"]: d for d in res.json()}
    assert set(devices) == {"phone", "curl/8.0"}
    assert devices["phone"]["id"] == phone["device_id"]
    assert devices["phone"]["current"] is True
    assert devices["curl/8.0"]["current"] is False
    assert devices["phone"]["expires"] is None
    assert devices["phone"]["created"].endswith("Z")


def test_revoking_a_device_logs_that_device_out(alice):
    phone = login("alice", "pw-alice", device="phone").json()
    laptop = login("alice", "pw-alice", device="laptop").json()
    res = as_token(laptop["token"]).delete(f"/auth/devices/{phone['device_id']}/")
    assert res.status_code == 204
    assert me(phone["token"]).status_code == 401
    assert me(laptop["token"]).status_code == 200
    again = as_token(laptop["token"]).delete(f"/auth/devices/{phone['device_id']}/")
    assert again.status_code == 404


def test_revoking_another_users_device_is_404_and_changes_nothing(alice, bob):
    mine = login("alice", "pw-alice").json()
    theirs = login("bob", "pw-bob").json()
    res = as_token(mine["token"]).delete(f"/auth/devices/{theirs['device_id']}/")
    assert res.status_code == 404
    assert me(theirs["token"]).status_code == 200


def test_the_logout_views_need_a_token(alice):
    c = APIClient()
    for url in ("/auth/logout/", "/auth/logoutall/", "/auth/logoutothers/"):
        assert c.post(url).status_code == 401
    assert c.get("/auth/devices/").status_code == 401


def test_transition_accepts_old_and_new_tokens_and_logs_each_out(alice):
    # /me-transition/ authenticates with TransitionAuthentication, DRF's own
    # database tokens standing in for the seed's (tests/urls.py).
    from rest_framework.authtoken.models import Token

    def me_t(key):
        return as_token(key).get("/me-transition/")

    old = Token.objects.create(user=alice).key
    new = login("alice", "pw-alice").json()["token"]
    assert me_t(old).json() == {"username": "alice"}
    assert me_t(new).json() == {"username": "alice"}
    assert me_t("not-a-token").status_code == 401
    assert me_t(new[:-1]).status_code == 401
    MultiToken.expire_token(new)
    assert me_t(new).status_code == 401
    assert me_t(old).status_code == 200
