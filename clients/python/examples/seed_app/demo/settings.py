"""An app written for djforge-redis-multitokens, moved to mtoken.drf.

Only the lines marked `mtoken:` changed (see ../README.md for the diff).
"""

import os
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent.parent

SECRET_KEY = "example-only-not-a-secret"
DEBUG = True
ALLOWED_HOSTS = ["localhost", "127.0.0.1", "testserver"]

INSTALLED_APPS = [
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "rest_framework",
    "accounts",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
]

ROOT_URLCONF = "demo.urls"

DATABASES = {
    "default": {
        "ENGINE": "django.db.backends.sqlite3",
        "NAME": BASE_DIR / "db.sqlite3",
    }
}
DEFAULT_AUTO_FIELD = "django.db.models.AutoField"
USE_TZ = True
TIME_ZONE = "UTC"

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": (
        # mtoken: was "djforge_redis_multitokens.tokens_auth.CachedTokenAuthentication"
        "mtoken.drf.CachedTokenAuthentication",
    ),
    "DEFAULT_PERMISSION_CLASSES": ("rest_framework.permissions.IsAuthenticated",),
}

# mtoken: the seed's CACHES["tokens"] alias (LOCATION, TIMEOUT) and
# DJFORGE_REDIS_MULTITOKENS become one dict. The Redis server must run the
# module: redis-server --loadmodule /path/to/libmtoken.so
MTOKEN = {
    "REDIS_URL": os.environ.get("MTOKEN_REDIS_URL", "redis://localhost:6379/0"),
    "TIMEOUT": 60 * 60 * 24 * 30,  # was CACHES["tokens"]["TIMEOUT"]
    "RESET_TOKEN_TTL_ON_USER_LOG_IN": True,
    "OVERWRITE_NONE_TTL": True,
    # mtoken: `manage.py test` keeps its tokens here (TEST_RUNNER below), so
    # the tests' tearDown never logs out the users of the runserver database.
    "TEST_REDIS_URL": os.environ.get("MTOKEN_TEST_REDIS_URL", "redis://localhost:6379/1"),
}
TEST_RUNNER = "mtoken.drf.testing.MTokenTestRunner"  # mtoken: new
