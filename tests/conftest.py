import json
from pathlib import Path

import pytest
from django.test import Client
from rest_framework.test import APIClient

from oncall.models import TeamMembership

# One Chromium for the whole run (Playwright's sync API allows one per thread): every folder's
# browser tests use these fixtures.
from tests.browser import BrowserPage, browser_page, chromium, phone_page  # noqa: F401
from tests.factories import make_incident, make_key, make_team, make_user

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


# --- people and clients for the portal tests of every app --------------------------------


@pytest.fixture
def responder(team):
    return make_user("rita", team=team, first_name="Rita", last_name="Responder")


@pytest.fixture
def team_admin(team):
    return make_user("ada", team=team, role=TeamMembership.Role.ADMIN)


@pytest.fixture
def client_of():
    """A browser-like client signed in as the given user (CSRF checks on, as in a browser)."""

    def signed_in(user, *, enforce_csrf_checks=False):
        client = Client(enforce_csrf_checks=enforce_csrf_checks)
        client.force_login(user)
        return client

    return signed_in


@pytest.fixture
def web(client_of, responder):
    return client_of(responder)


@pytest.fixture
def other_team(db):
    return make_team("Payments")


@pytest.fixture
def other_key(other_team):
    return make_key(team=other_team, name="payments prod")[0]


@pytest.fixture
def other_incident(other_key):
    return make_incident(other_key, dedup_key="payments-down", summary="Payments API is down")


