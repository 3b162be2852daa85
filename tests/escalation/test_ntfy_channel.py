"""ntfy: a local ntfy-compatible server (pytest-httpserver) receives the JSON publish; its
buttons are `view` actions opening the signed Acknowledge / Resolve links' confirm pages."""

from __future__ import annotations

import json

import pytest
from django.core.exceptions import ValidationError
from django.test import Client

from escalation import links
from escalation.channels import Delivered, channel_for, check_contact_address, configured_kinds
from escalation.models import ContactMethod, Notification
from incidents.models import Incident, TimelineEntry
from tests.factories import api_client_for, make_incident

pytestmark = pytest.mark.django_db


@pytest.fixture
def loopback_allowed(settings):
    settings.ESCALATION_WEBHOOK_ALLOW_PRIVATE = True  # pytest-httpserver is on 127.0.0.1


def ntfy_for(user, url, token="") -> ContactMethod:
    ContactMethod.objects.filter(user=user).delete()
    return ContactMethod.objects.create(user=user, kind="ntfy", address=url,
                                        secrets={"token": token} if token else {})


def published(httpserver) -> list[tuple[str, dict, dict]]:
    return [(request.path, dict(request.headers), json.loads(request.data)) for request, _ in httpserver.log]


def test_a_page_is_published_with_priority_tags_click_and_view_buttons(
        httpserver, loopback_allowed, committed, t21_key, people, settings):
    httpserver.expect_request("/", method="POST").respond_with_json({"id": "x1", "event": "message"})
    ntfy_for(people["alice"], httpserver.url_for("/vigil-alice"), token="tk_alicetoken")
    incident = committed(make_incident, t21_key, summary="Checkout API 5xx > 5%", labels={"service": "api"})

    [(path, headers, body)] = published(httpserver)
    assert path == "/"  # JSON publish goes to the server root, the topic is in the body
    assert headers["Content-Type"] == "application/json"
    assert headers["Authorization"] == "Bearer tk_alicetoken"
    assert headers["Idempotency-Key"]
    assert body["topic"] == "vigil-alice"
    assert body["title"] == f"[CRITICAL] #{incident.pk} Checkout API 5xx > 5%"
    assert "service=api" in body["message"] and "Source: prometheus" in body["message"]
    assert body["priority"] == 5 and body["tags"] == ["rotating_light"]
    assert body["click"] == f"{settings.SITE_URL}/incidents/{incident.pk}/"
    assert [(a["action"], a["label"]) for a in body["actions"]] == [("view", "Acknowledge"), ("view", "Resolve")]
    ack, resolve = (a["url"] for a in body["actions"])
    assert links.read_token(ack.removeprefix(f"{settings.SITE_URL}/ack/").rstrip("/")).action == "acknowledge"
    assert links.read_token(resolve.removeprefix(f"{settings.SITE_URL}/ack/").rstrip("/")).action == "resolve"
    line = TimelineEntry.objects.get(incident=incident, kind="notification").message
    assert line == f"Sent ntfy to alice ({httpserver.url_for('/').rstrip('/')}/…): page, step 1"
    assert "vigil-alice" not in line

    # The button opens the confirm page; pressing it there acknowledges, as from an email.
    page = Client().get(ack.removeprefix(settings.SITE_URL))
    assert page.status_code == 200
    proof = links.form_proof(ack.removeprefix(f"{settings.SITE_URL}/ack/").rstrip("/"))
    assert Client().post(ack.removeprefix(settings.SITE_URL), {"confirm": proof}).status_code == 200
    incident.refresh_from_db()
    assert (incident.status, incident.acknowledged_by) == (Incident.Status.ACKNOWLEDGED, people["alice"])


@pytest.mark.parametrize("severity, priority", [("critical", 5), ("error", 4), ("warning", 3), ("info", 2)])
def test_priority_follows_severity(httpserver, loopback_allowed, committed, t21_key, people, severity, priority):
    httpserver.expect_request("/", method="POST").respond_with_json({"id": "x"})
    ntfy_for(people["alice"], httpserver.url_for("/vigil-alice"))
    committed(make_incident, t21_key, severity=severity)
    [(_path, headers, body)] = published(httpserver)
    assert body["priority"] == priority
    assert "Authorization" not in headers


def test_the_ntfy_token_setting_is_used_when_the_method_has_none(
        httpserver, loopback_allowed, committed, t21_key, people, settings):
    settings.NTFY_TOKEN = "tk_servertoken"
    httpserver.expect_request("/ntfy/", method="POST").respond_with_json({"id": "x"})
    ntfy_for(people["alice"], httpserver.url_for("/ntfy/vigil-alice"))  # a server under a path prefix
    committed(make_incident, t21_key)
    [(path, headers, body)] = published(httpserver)
    assert path == "/ntfy/" and body["topic"] == "vigil-alice"
    assert headers["Authorization"] == "Bearer tk_servertoken"


@pytest.mark.parametrize("status", [400, 401, 403, 413])
def test_a_4xx_is_a_permanent_failure_on_the_timeline(httpserver, loopback_allowed, committed, t21_key, people,
                                                      status):
    httpserver.expect_request("/", method="POST").respond_with_json({"error": "no"}, status=status)
    method = ntfy_for(people["alice"], httpserver.url_for("/vigil-alice"), token="tk_secret")
    incident = committed(make_incident, t21_key)
    notification = Notification.objects.get(incident=incident, contact_method=method)
    assert notification.status == Notification.Status.FAILED and notification.attempts == 1
    failed = TimelineEntry.objects.get(incident=incident, kind="notification_failed").message
    assert f"HTTP {status}" in failed and "not retried" in failed
    assert "tk_secret" not in failed and "vigil-alice" not in failed


@pytest.mark.parametrize("status", [429, 500, 502])
def test_429_and_5xx_retry(httpserver, loopback_allowed, committed, t21_key, people, status):
    httpserver.expect_request("/", method="POST").respond_with_data("busy", status=status)
    method = ntfy_for(people["alice"], httpserver.url_for("/vigil-alice"))
    incident = committed(make_incident, t21_key)
    notification = Notification.objects.get(incident=incident, contact_method=method)
    assert notification.status == Notification.Status.PENDING and notification.attempts == 1
    assert "retrying in" in TimelineEntry.objects.get(incident=incident, kind="notification_failed").message


def test_ntfy_needs_no_settings_to_be_offered():
    assert "ntfy" in {cls.kind for cls in configured_kinds()}


@pytest.mark.parametrize("address, why", [
    ("https://ntfy.sh/", "topic name"),
    ("https://ntfy.sh/a/b c", "topic name"),
    ("https://ntfy.sh/vigil?auth=x", "without a query"),
    ("https://ntfy.sh/" + "x" * 65, "topic name"),
    ("http://127.0.0.1/vigil", "non-public address"),
    ("http://169.254.169.254/vigil", "non-public address"),
    ("ftp://ntfy.sh/vigil", "only http and https"),
])
def test_a_bad_topic_url_is_refused_naming_the_problem(address, why):
    with pytest.raises(ValidationError) as caught:
        check_contact_address("ntfy", address)
    assert why in caught.value.message_dict["address"][0]


def test_the_api_takes_a_token_it_never_returns_and_shows_the_topic_redacted(
        people, loopback_allowed, httpserver):
    client = api_client_for(people["alice"])
    created = client.post("/api/v1/contact-methods/", {"kind": "ntfy", "address": httpserver.url_for("/vigil-alice"),
                                                       "token": "tk_writeonly"}, format="json")
    assert created.status_code == 201, created.content
    assert "tk_writeonly" not in created.content.decode() and "vigil-alice" not in created.content.decode()
    assert created.json()["address"] == f"{httpserver.url_for('/').rstrip('/')}/…"
    assert ContactMethod.objects.get(pk=created.json()["id"]).secrets == {"token": "tk_writeonly"}
    listed = client.get("/api/v1/contact-methods/").content.decode()
    assert "tk_writeonly" not in listed and "vigil-alice" not in listed


def test_a_message_that_is_not_a_page_is_published_without_buttons(httpserver, loopback_allowed, people):
    """`send_message`: verification codes and "send me a test page" (the Profile page)."""
    httpserver.expect_request("/", method="POST").respond_with_json({"id": "x"})
    method = ntfy_for(people["alice"], httpserver.url_for("/vigil-alice"))
    assert isinstance(channel_for("ntfy").send_message(method, "Vigil code", "Your code is 482913"), Delivered)
    [(_path, _headers, body)] = published(httpserver)
    assert (body["topic"], body["title"], body["message"]) == ("vigil-alice", "Vigil code", "Your code is 482913")
    assert "actions" not in body
