"""``MTokenTestRunner``: Django's test runner with the tokens in a Redis
database of their own, the way Django gives tests their own SQL database.

Tests log users in and out (``expire_all_tokens`` in a tearDown, say) by
primary key, and the test database's user 1 is not the development server's
user 1, but their tokens would be: without this, a test run logs real users
of the ``runserver`` database out.

    TEST_RUNNER = "mtoken.drf.testing.MTokenTestRunner"
    MTOKEN = {..., "REDIS_URL": "redis://localhost:6379/0",
              "TEST_REDIS_URL": "redis://localhost:6379/1"}

During the run ``settings.MTOKEN['REDIS_URL']`` is ``TEST_REDIS_URL``. The
module configs are per server, not per database: with
``APPLY_SERVER_CONFIG`` the tests write the same ones as the app, as long as
the test settings' TIMEOUT and switches are the app's.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qs, urlsplit

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.test.runner import DiscoverRunner
from django.test.utils import override_settings

from .settings import mtoken_settings


def _where(url: str) -> tuple[str, int, int]:
    """(host, port, db) of a redis:// URL."""
    u = urlsplit(url)
    db = parse_qs(u.query).get("db", [None])[0] or u.path.strip("/") or 0
    return (u.hostname or "localhost", u.port or 6379, int(db))


class MTokenTestRunner(DiscoverRunner):
    def setup_test_environment(self, **kwargs: Any) -> None:
        super().setup_test_environment(**kwargs)
        s = mtoken_settings()
        if s.REDIS_CLIENT_FACTORY is not None:
            raise ImproperlyConfigured(
                "MTokenTestRunner swaps MTOKEN['REDIS_URL'] for TEST_REDIS_URL; with "
                "REDIS_CLIENT_FACTORY, point the factory at a test database yourself"
            )
        if not s.TEST_REDIS_URL:
            raise ImproperlyConfigured(
                "MTokenTestRunner needs MTOKEN['TEST_REDIS_URL']: a Redis database the "
                "app does not use (e.g. redis://localhost:6379/1)"
            )
        if _where(s.TEST_REDIS_URL) == _where(s.REDIS_URL):
            raise ImproperlyConfigured(
                f"MTOKEN['TEST_REDIS_URL'] is the app's own database ({s.REDIS_URL}): "
                "tests would log its users out. Use another database number"
            )
        self._mtoken = override_settings(
            MTOKEN={**getattr(settings, "MTOKEN", {}), "REDIS_URL": s.TEST_REDIS_URL}
        )
        self._mtoken.enable()

    def teardown_test_environment(self, **kwargs: Any) -> None:
        self._mtoken.disable()
        super().teardown_test_environment(**kwargs)
