import json
from pathlib import Path

import pytest
from rest_framework.test import APIClient

from tests.browser import browser_page, chromium, phone_page  # noqa: F401 (fixtures)
from tests.factories import make_key, make_team

LOCAL_PAYLOADS = Path(__file__).resolve().parent / "integrations" / "payloads"


def load_payload(relative: str) -> dict:
    """A vendor payload kept with the tests (copied from shared/payloads with its source)."""
    return json.loads((LOCAL_PAYLOADS / relative).read_text())


@pytest.fixture(autouse=True)
def fresh_suppression_rule_cache():
    """Ingest caches the suppression rules per process for a few seconds. A rule one test
    saved (then rolled back) must not meet the next test's alerts: every test starts cold."""
    from incidents.rules import cache as rule_cache

    rule_cache.invalidate()
    yield
    rule_cache.invalidate()


@pytest.fixture(autouse=True)
def fresh_redis_backoffs():
    """After a Redis failure the rate limiter and the broker publish skip Redis for a few
    seconds, per process. A test that broke Redis on purpose must not hand that to the next."""
    from escalation import dispatch
    from integrations import ratelimit

    dispatch.reset_broker_backoff()
    ratelimit.reset_backoff()
    yield
    dispatch.reset_broker_backoff()
    ratelimit.reset_backoff()


@pytest.fixture
def team(db):
    return make_team("SRE")


@pytest.fixture
def key_and_raw(team):
    return make_key(team=team)


@pytest.fixture
def key(key_and_raw):
    return key_and_raw[0]


@pytest.fixture
def raw_key(key_and_raw):
    return key_and_raw[1]


@pytest.fixture
def api():
    return APIClient()


@pytest.fixture(scope="session")
def django_db_setup(django_db_setup, django_db_blocker):
    """At the end of the run, close the sessions that threads, live servers and child
    processes left on the test database, so pytest-django can drop it cleanly."""
    yield
    from django.db import connection

    with django_db_blocker.unblock():
        if connection.vendor == "postgresql":
            with connection.cursor() as cursor:
                cursor.execute(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                    "WHERE datname = current_database() AND pid <> pg_backend_pid()"
                )
