"""apprise, for everything one-way: its own `json://` notifier, pointed at a local server
(pytest-httpserver), carries the page text with the signed links; failures follow the
house rule (4xx permanent, 5xx retried); the URL, which holds credentials, is shown as its
scheme and server only."""

from __future__ import annotations

import json
import logging
import re

import pytest
from django.contrib.admin.sites import site
from django.core.exceptions import ValidationError
from django.test import RequestFactory

from escalation import links
from escalation.admin import ContactMethodAdmin
from escalation.channels import Delivered, channel_for, check_contact_address, configured_kinds
from escalation.models import ContactMethod, Notification
from escalation.redaction import shown_address
from incidents.models import TimelineEntry
from tests.factories import api_client_for, make_incident

pytestmark = pytest.mark.django_db


@pytest.fixture
def loopback_allowed(settings):
    settings.ESCALATION_WEBHOOK_ALLOW_PRIVATE = True  # pytest-httpserver is on 127.0.0.1


def json_url(httpserver, path="/apprise/hook-secret-91") -> str:
    return f"json://{httpserver.host}:{httpserver.port}{path}"


def apprise_for(user, url) -> ContactMethod:
    ContactMethod.objects.filter(user=user).delete()
    return ContactMethod.objects.create(user=user, kind="apprise", address=url)


def test_a_page_reaches_apprise_json_with_the_signed_links(httpserver, loopback_allowed, committed, t21_key,
                                                           people, settings):
    httpserver.expect_request("/apprise/hook-secret-91", method="POST").respond_with_data("ok")
    apprise_for(people["alice"], json_url(httpserver))
    incident = committed(make_incident, t21_key, summary="Queue depth > 10k", labels={"queue": "mail"})

    [(request, _response)] = httpserver.log
    body = json.loads(request.data)
    assert body["title"] == f"[CRITICAL] Incident #{incident.pk}: Queue depth > 10k"
    assert body["type"] == "failure"
    text = body["message"]
    assert "Queue depth > 10k" in text and "queue=mail" in text
    assert f"Open: {settings.SITE_URL}/incidents/{incident.pk}/" in text
    found = dict(re.findall(rf"^(Acknowledge|Resolve): {re.escape(settings.SITE_URL)}/ack/(\S+)/$", text, re.M))
    assert links.read_token(found["Acknowledge"]).action == "acknowledge"
    assert links.read_token(found["Resolve"]).action == "resolve"
    assert links.read_token(found["Acknowledge"]).user_id == people["alice"].pk
    line = TimelineEntry.objects.get(incident=incident, kind="notification").message
    assert line == f"Sent apprise to alice (json://{httpserver.host}:{httpserver.port}/…): page, step 1"


@pytest.mark.parametrize("status", [400, 401, 404])
def test_a_4xx_is_a_permanent_failure_on_the_timeline(httpserver, loopback_allowed, committed, t21_key, people,
                                                      status):
    httpserver.expect_request("/apprise/hook-secret-91").respond_with_data("no", status=status)
    method = apprise_for(people["alice"], json_url(httpserver))
    incident = committed(make_incident, t21_key)
    notification = Notification.objects.get(incident=incident, contact_method=method)
    assert notification.status == Notification.Status.FAILED
    failed = TimelineEntry.objects.get(incident=incident, kind="notification_failed").message
    assert f"HTTP {status}" in failed and "not retried" in failed and "hook-secret" not in failed


@pytest.mark.parametrize("status", [429, 500, 503])
def test_429_and_5xx_retry(httpserver, loopback_allowed, committed, t21_key, people, status):
    httpserver.expect_request("/apprise/hook-secret-91").respond_with_data("busy", status=status)
    method = apprise_for(people["alice"], json_url(httpserver))
    incident = committed(make_incident, t21_key)
    notification = Notification.objects.get(incident=incident, contact_method=method)
    assert notification.status == Notification.Status.PENDING and notification.attempts == 1
    assert f"HTTP {status}" in notification.last_error


def test_a_server_that_is_down_is_retried(loopback_allowed, committed, t21_key, people):
    method = apprise_for(people["alice"], "json://127.0.0.1:9/nothing-listens")
    incident = committed(make_incident, t21_key)
    notification = Notification.objects.get(incident=incident, contact_method=method)
    assert notification.status == Notification.Status.PENDING and "no answer" in notification.last_error


@pytest.mark.parametrize("url, shown", [
    ("json://hooks.example.com:8443/path/token?x=1", "json://hooks.example.com:8443/…"),
    ("jsons://user:pass@hooks.example.com/p", "jsons://hooks.example.com/…"),
    ("tgram://123456789:AAHbottoken/987654", "tgram://…"),
    ("discord://webhook_id/webhook_token", "discord://…"),
    ("pover://userkey@apptoken", "pover://…"),
    ("gotifys://gotify.example.com/AppToken", "gotifys://gotify.example.com/…"),
])
def test_an_apprise_url_is_shown_as_scheme_and_server_only(url, shown):
    assert shown_address("apprise", url) == shown


def test_the_api_and_the_admin_list_show_the_url_redacted(people, loopback_allowed, httpserver):
    method = apprise_for(people["alice"], "tgram://123456789:AAHbottoken/987654")
    [listed] = api_client_for(people["alice"]).get("/api/v1/contact-methods/").json()["results"]
    assert listed["address"] == "tgram://…"
    admin = ContactMethodAdmin(ContactMethod, site)
    assert admin.shown_address(method) == "tgram://…"
    assert "AAHbottoken" not in str(method)
    request = RequestFactory().get("/admin/escalation/contactmethod/")
    assert "shown_address" in admin.get_list_display(request) and "address" not in admin.get_list_display(request)


def test_apprise_needs_no_settings_to_be_offered():
    assert "apprise" in {cls.kind for cls in configured_kinds()}


@pytest.mark.parametrize("address, why", [
    ("nonsense://whatever", "apprise does not know"),
    ("json://127.0.0.1/hook", "non-public address"),
    ("json://169.254.169.254/latest", "non-public address"),
    ("json://a b", "without spaces"),
    ("", "is required"),
])
def test_a_bad_apprise_url_is_refused_naming_the_problem(address, why):
    with pytest.raises(ValidationError) as caught:
        check_contact_address("apprise", address)
    assert why in caught.value.message_dict["address"][0]


def test_a_telegram_url_is_accepted_without_resolving_its_token_as_a_host():
    check_contact_address("apprise", "tgram://123456789:AAHbottoken/987654")


def test_a_message_that_is_not_a_page_is_sent_as_is(httpserver, loopback_allowed, people):
    """`send_message`: verification codes and "send me a test page" (the Profile page)."""
    httpserver.expect_request("/apprise/hook-secret-91", method="POST").respond_with_data("ok")
    method = apprise_for(people["alice"], json_url(httpserver))
    assert isinstance(channel_for("apprise").send_message(method, "Vigil code", "Your code is 482913"), Delivered)
    [(request, _response)] = httpserver.log
    body = json.loads(request.data)
    assert (body["title"], body["message"], body["type"]) == ("Vigil code", "Your code is 482913", "info")


def test_the_apprise_url_never_reaches_the_log_even_at_debug(httpserver, loopback_allowed, committed, t21_key,
                                                             people, caplog):
    httpserver.expect_request("/apprise/hook-secret-91").respond_with_data("no", status=400)
    apprise_for(people["alice"], json_url(httpserver))
    with caplog.at_level(logging.DEBUG):
        committed(make_incident, t21_key)
    # Everything Vigil logged (werkzeug is the fake server's own access log).
    ours = "\n".join(r.getMessage() for r in caplog.records if r.name != "werkzeug")
    assert "HTTP 400" in ours and "hook-secret" not in ours
