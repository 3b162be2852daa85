"""T33: a session-authenticated write needs the CSRF token; token calls and the ingest doors
do not (the doors ignore session cookies altogether)."""

import pytest
from rest_framework.test import APIClient

from incidents.models import Event, Incident
from tests.factories import api_client_for, make_incident, make_user

pytestmark = pytest.mark.django_db

CSRF_SECRET = "a" * 32  # any 32 alphanumerics form a valid unmasked CSRF secret


@pytest.fixture(autouse=True)
def loopback_exempt_from_rate_limit(settings):
    settings.INBOUND_RATE_LIMIT_EXEMPT = ["127.0.0.0/8"]


@pytest.fixture
def responder(team):
    return make_user("rita", team=team)


@pytest.fixture
def browser(responder):
    """A logged-in browser whose requests are checked for CSRF like real ones."""
    client = APIClient(enforce_csrf_checks=True)
    assert client.login(username="rita", password="correct horse battery")
    return client


def test_session_post_without_csrf_token_is_403_and_changes_nothing(browser, key):
    incident = make_incident(key)
    response = browser.post(f"/api/v1/incidents/{incident.pk}/acknowledge/")
    assert response.status_code == 403
    assert "CSRF" in response.json()["detail"]
    incident.refresh_from_db()
    assert incident.status == Incident.Status.TRIGGERED


@pytest.mark.parametrize("action", ["resolve", "notes"])
def test_other_session_writes_without_token_are_403(browser, key, action):
    incident = make_incident(key)
    assert browser.post(f"/api/v1/incidents/{incident.pk}/{action}/", {"text": "x"}, format="json").status_code == 403
    assert not incident.timeline.filter(kind__in=["resolved", "note"]).exists()


def test_session_post_with_the_csrf_token_is_accepted(browser, key):
    incident = make_incident(key)
    browser.cookies["csrftoken"] = CSRF_SECRET
    response = browser.post(f"/api/v1/incidents/{incident.pk}/acknowledge/", HTTP_X_CSRFTOKEN=CSRF_SECRET)
    assert response.status_code == 200


def test_cross_origin_session_post_is_403_even_with_a_token(browser, key):
    incident = make_incident(key)
    browser.cookies["csrftoken"] = CSRF_SECRET
    response = browser.post(
        f"/api/v1/incidents/{incident.pk}/acknowledge/",
        HTTP_X_CSRFTOKEN=CSRF_SECRET,
        HTTP_ORIGIN="https://evil.example",
    )
    assert response.status_code == 403
    incident.refresh_from_db()
    assert incident.status == Incident.Status.TRIGGERED


def test_token_call_needs_no_csrf_token(responder, key):
    incident = make_incident(key)
    client = api_client_for(responder, enforce_csrf_checks=True)
    assert client.post(f"/api/v1/incidents/{incident.pk}/acknowledge/").status_code == 200


@pytest.mark.parametrize("path", ["/v2/enqueue", "/api/events/ingest"])
def test_ingest_door_needs_no_csrf_token(browser, raw_key, path):
    body = {"routing_key": raw_key, "event_action": "trigger",
            "payload": {"summary": "x", "severity": "info", "source": "t"}}
    assert browser.post(path, body, format="json").status_code == 202


@pytest.mark.parametrize("path", ["/v2/enqueue", "/api/events/ingest"])
def test_ingest_door_ignores_the_session_cookie(browser, path):
    """A logged-in browser without a key is just an unauthenticated sender."""
    body = {"event_action": "trigger", "payload": {"summary": "x", "severity": "info", "source": "t"}}
    response = browser.post(path, body, format="json")
    assert response.status_code == 400
    assert response.json()["errors"] == ["Invalid routing key"]
    assert not Event.objects.exists()
