"""The Slack app channel against a local fake of Slack's Web API (pytest-httpserver): the
page with its buttons, where it goes, Slack's errors as Failed or Retry, the message
rewritten in place when the incident changes state by any route, and the kind hidden
while its settings are absent. The buttons themselves: tests/escalation/test_slack_interactivity.py."""

from __future__ import annotations

import json
import logging

import pytest
from django.core.exceptions import ValidationError

from escalation.channels import CHANNELS, channel_for, check_contact_address, configured_kinds
from escalation.channels.slack import SlackChannel
from escalation.models import ContactMethod, Notification, SlackMessage
from escalation.notify import send_notification
from incidents import actions
from incidents.models import Incident, TimelineEntry
from tests.escalation.slack_fake import BOT_TOKEN, SIGNING_SECRET, start_fake
from tests.factories import api_client_for, make_incident

pytestmark = pytest.mark.django_db


@pytest.fixture
def slack(httpserver, settings):
    fake = start_fake(httpserver)
    settings.SLACK_BOT_TOKEN = BOT_TOKEN
    settings.SLACK_SIGNING_SECRET = SIGNING_SECRET
    settings.SLACK_API_BASE_URL = fake.base_url
    settings.SLACK_TIMEOUT_SECONDS = 2
    return fake


def slack_for(user, address: str) -> ContactMethod:
    ContactMethod.objects.filter(user=user).delete()
    return ContactMethod.objects.create(user=user, kind=ContactMethod.Kind.SLACK, address=address)


def buttons(blocks: list[dict]) -> dict[str, str]:
    """action_id -> value of the message's buttons."""
    return {e["action_id"]: e["value"] for b in blocks if b["type"] == "actions" for e in b["elements"]}


def blocks_of(call) -> list[dict]:
    blocks = call.args["blocks"]
    return json.loads(blocks) if isinstance(blocks, str) else blocks


def test_a_page_is_a_direct_message_with_acknowledge_resolve_and_escalate_buttons(slack, committed, t21_key,
                                                                                  people, settings):
    slack_for(people["alice"], "U0ALICE")
    incident = committed(make_incident, t21_key, summary="API 5xx <!channel> spike", labels={"service": "api"})

    [opened] = slack.of("conversations.open")
    assert opened.args["users"] == "U0ALICE" and opened.authorization == f"Bearer {BOT_TOKEN}"
    [posted] = slack.of("chat.postMessage")
    assert posted.args["channel"] == "D0ALICE" and "thread_ts" not in posted.args
    assert posted.args["text"] == f"[CRITICAL] Incident #{incident.pk}: API 5xx &lt;!channel&gt; spike"
    page = Notification.objects.get(incident=incident)
    assert buttons(blocks_of(posted)) == {
        "vigil_acknowledge": f"{incident.pk}:{page.pk}",
        "vigil_resolve": f"{incident.pk}:{page.pk}",
        "vigil_escalate": f"{incident.pk}:{page.pk}",
    }
    rendered = json.dumps(blocks_of(posted))
    assert f"{settings.SITE_URL}/incidents/{incident.pk}/" in rendered and "service=api" in rendered
    assert page.status == "sent"
    stored = SlackMessage.objects.get(notification=page)
    assert (stored.channel, stored.ts) == ("D0ALICE", "1700000000.000001")
    line = TimelineEntry.objects.get(incident=incident, kind="notification").message
    assert line == "Sent on Slack to alice (U0ALICE): page, step 1"


def test_a_channel_id_address_posts_into_that_channel_without_opening_a_dm(slack, committed, t21_key, people):
    slack_for(people["alice"], "C0ONCALL")
    committed(make_incident, t21_key)
    assert slack.of("conversations.open") == []
    [posted] = slack.of("chat.postMessage")
    assert posted.args["channel"] == "C0ONCALL"


@pytest.mark.parametrize("error", ["channel_not_found", "invalid_auth", "not_in_channel", "is_archived"])
def test_a_slack_error_that_will_not_change_is_a_permanent_failure_on_the_timeline(slack, committed, t21_key,
                                                                                   people, error):
    slack_for(people["alice"], "C0GONE")
    slack.fail_next("chat.postMessage", error=error)
    incident = committed(make_incident, t21_key)
    page = Notification.objects.get(incident=incident)
    assert (page.status, page.attempts) == ("failed", 1)
    assert page.last_error == f"Slack chat.postMessage: {error} (HTTP 200)"
    failure = TimelineEntry.objects.get(incident=incident, kind="notification_failed").message
    assert error in failure and "not retried" in failure
    assert not SlackMessage.objects.exists()


def test_a_bad_bot_token_is_invalid_auth_and_fails_without_showing_the_token(slack, committed, t21_key, people,
                                                                             settings):
    settings.SLACK_BOT_TOKEN = "xoxb-wrong-token-value"
    slack_for(people["alice"], "U0ALICE")
    incident = committed(make_incident, t21_key)
    page = Notification.objects.get(incident=incident)
    assert page.status == "failed" and "invalid_auth" in page.last_error
    texts = " ".join(TimelineEntry.objects.filter(incident=incident).values_list("message", flat=True))
    assert "xoxb" not in texts and "xoxb" not in page.last_error


@pytest.mark.parametrize("status, headers, expected", [
    (429, {"Retry-After": "7"}, "Slack chat.postMessage: rate limited (HTTP 429, Retry-After 7 s)"),
    (503, {}, "Slack chat.postMessage: ratelimited (HTTP 503)"),
    (200, {}, "Slack chat.postMessage: ratelimited (HTTP 200)"),
])
def test_rate_limits_and_server_errors_retry_with_backoff_then_deliver(slack, clock, tick, committed, t21_key,
                                                                       people, settings, status, headers,
                                                                       expected):
    slack_for(people["alice"], "U0ALICE")
    slack.fail_next("chat.postMessage", status=status, headers=headers)
    incident = committed(make_incident, t21_key)
    page = Notification.objects.get(incident=incident)
    assert (page.status, page.attempts, page.last_error) == ("pending", 1, expected)
    assert "retrying in 10 s" in TimelineEntry.objects.get(incident=incident, kind="notification_failed").message

    clock.advance(seconds=settings.NOTIFICATION_RESEND_GRACE_SECONDS + 1)
    tick()
    page.refresh_from_db()
    assert (page.status, page.attempts) == ("sent", 2)
    assert len(slack.of("chat.postMessage")) == 2
    assert SlackMessage.objects.filter(notification=page).count() == 1


def test_a_slack_api_that_never_answers_is_a_timeout_and_retried(slack, committed, t21_key, people, settings):
    settings.SLACK_TIMEOUT_SECONDS = 1
    slack_for(people["alice"], "U0ALICE")
    slack.fail_next("conversations.open", hang=2.5)
    incident = committed(make_incident, t21_key)
    page = Notification.objects.get(incident=incident)
    assert page.status == "pending" and page.attempts == 1
    assert page.last_error.startswith("Slack conversations.open: ") and "timed out" in page.last_error


def test_acknowledging_from_the_portal_rewrites_the_message_in_place(slack, committed, t21_key, people, client):
    slack_for(people["alice"], "U0ALICE")
    incident = committed(make_incident, t21_key)
    client.force_login(people["bob"])
    response = committed(client.post, f"/incidents/{incident.pk}/acknowledge/")
    assert response.status_code in (200, 302)
    assert Incident.objects.get(pk=incident.pk).status == "acknowledged"

    [update] = slack.of("chat.update")
    assert (update.args["channel"], update.args["ts"]) == ("D0ALICE", "1700000000.000001")
    rendered = json.dumps(blocks_of(update))
    assert "Acknowledged by bob (web)" in rendered
    assert set(buttons(blocks_of(update))) == {"vigil_resolve"}  # acknowledged: only Resolve is left


def test_resolving_through_the_rest_api_rewrites_the_message_without_buttons(slack, smtp, committed, t21_key,
                                                                             people):
    slack_for(people["alice"], "U0ALICE")
    incident = committed(make_incident, t21_key)
    response = committed(api_client_for(people["carol"]).post, f"/api/v1/incidents/{incident.pk}/resolve/")
    assert response.status_code == 200, response.content

    update = slack.of("chat.update")[-1]
    assert "Resolved by carol (api)" in json.dumps(blocks_of(update))
    assert buttons(blocks_of(update)) == {}
    # Alice's page reached her on Slack, so her recovery note goes there too (no buttons).
    recovery = slack.of("chat.postMessage")[-1]
    assert recovery.args["text"].startswith(f"[RESOLVED] Incident #{incident.pk}")
    assert recovery.args["channel"] == "D0ALICE" and recovery.args["thread_ts"] == "1700000000.000001"
    assert buttons(blocks_of(recovery)) == {}


def test_an_alert_source_resolve_rewrites_the_message_too(slack, committed, t21_key, people):
    slack_for(people["alice"], "U0ALICE")
    incident = committed(make_incident, t21_key, dedup_key="disk")
    committed(actions.do_resolve_incident, incident.pk, via="alert source")
    assert "Resolved by alert source" in json.dumps(blocks_of(slack.of("chat.update")[-1]))


def test_a_failed_update_is_logged_and_changes_nothing_else(slack, committed, t21_key, people, caplog):
    slack_for(people["alice"], "U0ALICE")
    incident = committed(make_incident, t21_key)
    slack.fail_next("chat.update", error="message_not_found")
    with caplog.at_level(logging.WARNING, logger="vigil.slack"):
        result = committed(actions.do_acknowledge_incident, incident.pk, by=people["alice"], via="web")
    assert result.changed and Incident.objects.get(pk=incident.pk).status == "acknowledged"
    assert "message_not_found" in caplog.text


def test_a_test_message_goes_through_send_message(slack, people):
    method = slack_for(people["alice"], "U0ALICE")
    outcome = SlackChannel().send_message(method, "Vigil test page", "Your code is 123456 <ok>")
    assert type(outcome).__name__ == "Delivered"
    [posted] = slack.of("chat.postMessage")
    assert posted.args["channel"] == "D0ALICE" and "123456 &lt;ok&gt;" in posted.args["text"]
    slack.fail_next("chat.postMessage", error="channel_not_found")
    assert type(SlackChannel().send_message(method, "x", "y")).__name__ == "Failed"


def test_absent_settings_hide_the_kind_and_never_crash(settings, committed, t21_key, people, client):
    settings.SLACK_BOT_TOKEN = ""
    settings.SLACK_SIGNING_SECRET = ""
    assert CHANNELS["slack"] is SlackChannel and SlackChannel.interactive
    assert SlackChannel not in configured_kinds()
    slack_for(people["alice"], "U0ALICE")
    incident = committed(make_incident, t21_key)
    page = Notification.objects.get(incident=incident)
    assert page.status == "failed" and "not configured" in page.last_error
    assert client.post("/integrations/slack/interactivity", data="payload=%7B%7D",
                       content_type="application/x-www-form-urlencoded").status_code == 404
    # A state change with Slack absent enqueues nothing for it.
    committed(actions.do_acknowledge_incident, incident.pk, by=people["alice"], via="web")


def test_the_kind_is_offered_once_both_settings_are_present(settings):
    settings.SLACK_BOT_TOKEN = BOT_TOKEN
    settings.SLACK_SIGNING_SECRET = ""
    assert SlackChannel not in configured_kinds()
    settings.SLACK_SIGNING_SECRET = SIGNING_SECRET
    assert SlackChannel in configured_kinds()
    assert channel_for("slack").verb == "Sent on Slack to"


@pytest.mark.parametrize("address", ["U0ALICE", "W012AB3CD", "C0ONCALL", "G0PRIVATE", "D0DIRECT"])
def test_member_and_channel_ids_are_valid_addresses(address):
    check_contact_address("slack", address)


@pytest.mark.parametrize("address", ["", "alice", "@alice", "#oncall", "u0alice", "https://hooks.slack.com/x"])
def test_anything_else_is_refused_with_a_hint(address):
    with pytest.raises(ValidationError) as caught:
        check_contact_address("slack", address)
    assert "member ID" in caught.value.message_dict["address"][0]


def test_no_secret_reaches_the_logs_or_the_timeline(slack, committed, t21_key, people, caplog, client):
    slack_for(people["alice"], "U0ALICE")
    with caplog.at_level(logging.DEBUG):
        incident = committed(make_incident, t21_key)
        slack.fail_next("chat.postMessage", status=500)
        committed(send_notification, Notification.objects.get(incident=incident).pk)
        committed(actions.do_acknowledge_incident, incident.pk, by=people["alice"], via="web")
    texts = caplog.text + " ".join(TimelineEntry.objects.values_list("message", flat=True))
    texts += " ".join(Notification.objects.values_list("last_error", flat=True))
    assert slack.of("chat.update"), "the scenario must have reached Slack"
    assert BOT_TOKEN not in texts and SIGNING_SECRET not in texts
