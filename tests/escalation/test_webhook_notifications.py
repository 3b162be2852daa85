"""Outgoing webhooks to a real local HTTP server (pytest-httpserver): the JSON body, the
Slack-compatible body, failures and timeouts (RELIABILITY T41)."""

import json
import socket
import threading
import time

import pytest

from escalation.engine import advance_escalation
from escalation.models import ContactMethod, Notification
from escalation.notify import send_notification
from incidents.models import TimelineEntry
from tests.factories import make_incident

pytestmark = pytest.mark.django_db


@pytest.fixture
def private_webhooks_allowed(settings):
    """pytest-httpserver listens on 127.0.0.1, which the SSRF guard refuses by default
    (tests/escalation/test_webhook_ssrf.py proves it)."""
    settings.ESCALATION_WEBHOOK_ALLOW_PRIVATE = True


def webhook_for(user, url, *, slack=False) -> ContactMethod:
    ContactMethod.objects.filter(user=user).delete()
    return ContactMethod.objects.create(user=user, kind="webhook", address=url, slack_format=slack)


def test_a_page_posts_the_incident_as_json(httpserver, private_webhooks_allowed, committed, t21_key, people, settings):
    httpserver.expect_request("/hooks/alice", method="POST").respond_with_json({"ok": True})
    webhook_for(people["alice"], httpserver.url_for("/hooks/alice"))
    incident = committed(make_incident, t21_key, summary="API 5xx spike", labels={"service": "api"})

    [(request, _response)] = httpserver.log
    body = json.loads(request.data)
    assert request.headers["Content-Type"] == "application/json"
    assert body["event"] == "incident.page"
    assert body["incident"]["id"] == incident.pk
    assert body["incident"]["summary"] == "API 5xx spike"
    assert body["incident"]["severity"] == "critical"
    assert body["incident"]["labels"] == {"service": "api"}
    assert body["incident"]["url"] == f"{settings.SITE_URL}/incidents/{incident.pk}/"
    assert body["recipient"] == "alice" and body["step"] == 1
    assert body["links"]["acknowledge"].startswith(f"{settings.SITE_URL}/ack/")
    assert body["links"]["resolve"].startswith(f"{settings.SITE_URL}/ack/")
    assert TimelineEntry.objects.get(incident=incident, kind="notification").message.startswith(
        "Webhook to alice"
    )


def test_slack_format_sends_a_text_body_with_escaped_payload(httpserver, private_webhooks_allowed, committed,
                                                           t21_key, people):
    httpserver.expect_request("/slack", method="POST").respond_with_data("ok")
    webhook_for(people["alice"], httpserver.url_for("/slack"), slack=True)
    incident = committed(make_incident, t21_key, summary="<!channel> & <https://evil|click>")

    [(request, _response)] = httpserver.log
    body = json.loads(request.data)
    assert list(body) == ["text"]
    assert body["text"].startswith(f"[CRITICAL] Incident #{incident.pk}: &lt;!channel&gt; &amp; &lt;https://evil|click&gt;")
    assert "|Acknowledge>" in body["text"] and "|Resolve>" in body["text"] and "|Open>" in body["text"]


def test_a_failing_webhook_is_recorded_then_retried_until_it_answers(httpserver, private_webhooks_allowed, clock,
                                                                    tick, committed, t21_key, people, settings):
    httpserver.expect_ordered_request("/hook").respond_with_data("down", status=503)
    httpserver.expect_ordered_request("/hook").respond_with_data("ok", status=200)
    webhook_for(people["alice"], httpserver.url_for("/hook"))
    incident = committed(make_incident, t21_key)
    page = Notification.objects.get(incident=incident)
    assert (page.status, page.attempts, page.last_error) == ("pending", 1, "webhook: HTTP 503")
    failure = TimelineEntry.objects.get(incident=incident, kind="notification_failed")
    assert "HTTP 503" in failure.message and "retrying in 10 s" in failure.message

    clock.advance(seconds=settings.NOTIFICATION_RESEND_GRACE_SECONDS + 1)
    tick()
    page.refresh_from_db()
    assert (page.status, page.attempts) == ("sent", 2)
    keys = [request.headers["Idempotency-Key"] for request, _response in httpserver.log]
    assert len(keys) == 2 and keys[0] == keys[1]  # the receiver can tell a resend


def test_t41_a_webhook_that_never_answers_fails_at_the_deadline(private_webhooks_allowed, settings, t21_key, people):
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(5)
    held = []
    threading.Thread(target=lambda: held.append(listener.accept()), daemon=True).start()
    settings.ESCALATION_WEBHOOK_TIMEOUT_SECONDS = 1
    webhook_for(people["alice"], f"http://127.0.0.1:{listener.getsockname()[1]}/never")
    try:
        incident = make_incident(t21_key)
        advance_escalation(incident.pk)
        page = Notification.objects.get(incident=incident)
        began = time.monotonic()
        send_notification(page.pk)
        took = time.monotonic() - began
    finally:
        listener.close()
        for conn, _addr in held:
            conn.close()
    page.refresh_from_db()
    print(f"\nT41 hung webhook gave up after {took:.2f} s (deadline 1 s)")
    assert took < 2.5
    assert page.status == "pending" and page.attempts == 1
    assert page.last_error == "webhook: no answer within 1 s"


def test_one_hung_webhook_does_not_stop_another_responders_email(
    smtp, private_webhooks_allowed, settings, committed, sre, people, t21_policy
):
    from tests.escalation.conftest import add_step
    from tests.factories import make_key

    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(5)
    settings.ESCALATION_WEBHOOK_TIMEOUT_SECONDS = 1
    webhook_for(people["alice"], f"http://127.0.0.1:{listener.getsockname()[1]}/never")
    t21_policy.steps.all().delete()
    add_step(t21_policy, 0, users=[people["alice"], people["bob"]])
    try:
        incident = committed(make_incident, make_key(team=sre, policy=t21_policy)[0])
    finally:
        listener.close()
    assert smtp.recipients() == ["bob@example.com"]
    statuses = dict(Notification.objects.filter(incident=incident).values_list("user__username", "status"))
    assert statuses == {"alice": "pending", "bob": "sent"}
