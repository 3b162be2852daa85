"""Slack's buttons: interaction payloads signed with slack_sdk's own
`SignatureVerifier.generate_signature`, posted to the interactivity endpoint, against a
local fake of Slack's Web API that records `chat.update`, `users.info` and the ephemeral
answers posted to the interaction's `response_url` (RELIABILITY T52)."""

from __future__ import annotations

import json
import time

import pytest
from slack_sdk.signature import SignatureVerifier

from escalation.models import ContactMethod, Notification
from incidents.models import Incident, TimelineEntry
from oncall.models import TeamMembership
from tests.escalation.slack_fake import BOT_TOKEN, SIGNING_SECRET, button_payload, signed_post, start_fake
from tests.factories import make_incident, make_key, make_team, make_user

pytestmark = pytest.mark.django_db


@pytest.fixture
def slack(httpserver, settings):
    fake = start_fake(httpserver)
    settings.SLACK_BOT_TOKEN = BOT_TOKEN
    settings.SLACK_SIGNING_SECRET = SIGNING_SECRET
    settings.SLACK_API_BASE_URL = fake.base_url
    settings.SLACK_TIMEOUT_SECONDS = 2
    return fake


@pytest.fixture
def paged(slack, committed, t21_key, people):
    """Alice (linked by her Slack member ID) was paged on Slack for a new incident."""
    ContactMethod.objects.filter(user=people["alice"]).delete()
    ContactMethod.objects.create(user=people["alice"], kind=ContactMethod.Kind.SLACK, address="U0ALICE")
    incident = committed(make_incident, t21_key, summary="Checkout 5xx")
    page = Notification.objects.get(incident=incident, user=people["alice"])
    assert page.status == "sent"
    incident.refresh_from_db()  # as the engine left it: step 2 due at +5 min
    assert incident.next_escalation_at is not None
    return incident, page


def press(client, committed, slack, action, incident_id, page_id="", **kw):
    payload = button_payload(action, incident_id, page_id, response_url=slack.hooks_url + "T0/B0/reply", **kw)
    return committed(signed_post, client, payload)


def unchanged(incident) -> bool:
    fresh = Incident.objects.get(pk=incident.pk)
    return (fresh.status, fresh.acknowledged_at, fresh.next_escalation_at) == (
        "triggered", None, incident.next_escalation_at)


def ephemeral(slack) -> str:
    [reply] = slack.of("response_url")
    assert reply.args["response_type"] == "ephemeral" and reply.args["replace_original"] is False
    return reply.args["text"]


def test_the_acknowledge_button_acknowledges_and_the_message_is_rewritten(client, committed, slack, paged,
                                                                          people):
    incident, page = paged
    response = press(client, committed, slack, "acknowledge", incident.pk, page.pk)
    assert response.status_code == 200

    fresh = Incident.objects.get(pk=incident.pk)
    assert (fresh.status, fresh.acknowledged_by, fresh.acknowledged_via) == ("acknowledged", people["alice"], "slack")
    assert fresh.next_escalation_at is None
    [update] = slack.of("chat.update")
    assert (update.args["channel"], update.args["ts"]) == ("D0ALICE", "1700000000.000001")
    assert "Acknowledged by alice (slack)" in json.dumps(update.args["blocks"])
    assert [e["action_id"] for b in update.args["blocks"] if b["type"] == "actions" for e in b["elements"]] == [
        "vigil_resolve"]
    assert slack.of("users.info") == []  # linked by member ID: no lookup needed
    assert TimelineEntry.objects.get(incident=incident, kind="acknowledged").message == "Acknowledged by alice (slack)"


def test_the_resolve_button_resolves(client, committed, slack, paged):
    incident, page = paged
    assert press(client, committed, slack, "resolve", incident.pk, page.pk).status_code == 200
    assert Incident.objects.get(pk=incident.pk).status == "resolved"
    assert "Resolved by alice (slack)" in json.dumps(slack.of("chat.update")[-1].args["blocks"])


def test_the_escalate_button_pages_the_next_step_now(client, committed, slack, smtp, paged):
    incident, page = paged
    assert press(client, committed, slack, "escalate", incident.pk, page.pk).status_code == 200
    assert smtp.recipients() == ["bob@example.com"]  # step 2, due at +5 min, paged now
    assert "escalating" in ephemeral(slack)


def test_a_second_press_says_who_acknowledged_first_and_changes_nothing(client, committed, slack, paged, people):
    incident, page = paged
    press(client, committed, slack, "acknowledge", incident.pk, page.pk)
    acknowledged_at = Incident.objects.get(pk=incident.pk).acknowledged_at
    response = press(client, committed, slack, "acknowledge", incident.pk, page.pk)
    assert response.status_code == 200
    assert "already acknowledged" in ephemeral(slack)
    assert Incident.objects.get(pk=incident.pk).acknowledged_at == acknowledged_at
    assert len(slack.of("chat.update")) == 2  # the stale message is refreshed again


def test_a_slack_user_is_mapped_by_the_email_slack_reports(client, committed, slack, paged, people):
    incident, page = paged
    slack.member("U0BOB", "BOB@example.com")
    response = press(client, committed, slack, "acknowledge", incident.pk, page.pk, user="U0BOB")
    assert response.status_code == 200
    [lookup] = slack.of("users.info")
    assert lookup.args["user"] == "U0BOB"
    assert Incident.objects.get(pk=incident.pk).acknowledged_by == people["bob"]


def test_an_unmapped_slack_user_is_told_to_link_their_account_and_nothing_changes(client, committed, slack, paged):
    incident, page = paged
    slack.member("U0MALLORY", "mallory@elsewhere.example")
    response = press(client, committed, slack, "acknowledge", incident.pk, page.pk, user="U0MALLORY")
    assert response.status_code == 403
    assert "not linked" in response.json()["error"]
    text = ephemeral(slack)
    assert "not linked to a Vigil user" in text and "U0MALLORY" in text
    assert unchanged(incident) and slack.of("chat.update") == []


def test_a_slack_user_unknown_to_slack_is_unmapped_too(client, committed, slack, paged):
    incident, page = paged
    response = press(client, committed, slack, "resolve", incident.pk, page.pk, user="U0NOBODY")
    assert response.status_code == 403 and unchanged(incident)
    assert "not linked" in ephemeral(slack)


def test_an_email_shared_by_two_vigil_users_maps_to_nobody(client, committed, slack, paged, sre):
    incident, page = paged
    make_user("twin1", team=sre, email="twin@example.com")
    make_user("twin2", team=sre, email="Twin@example.com")
    slack.member("U0TWIN", "twin@example.com")
    assert press(client, committed, slack, "acknowledge", incident.pk, page.pk, user="U0TWIN").status_code == 403
    assert unchanged(incident)


def test_another_teams_incident_is_refused_with_the_reason_on_the_timeline(client, committed, slack, paged):
    incident, page = paged
    other = make_team("Payments")
    outsider = make_user("olga", team=other)
    ContactMethod.objects.create(user=outsider, kind=ContactMethod.Kind.SLACK, address="U0OLGA")
    response = press(client, committed, slack, "acknowledge", incident.pk, page.pk, user="U0OLGA")
    assert response.status_code == 403
    assert "no longer a member of the team" in response.json()["error"]
    assert "Not done:" in ephemeral(slack)
    assert unchanged(incident)
    entry = TimelineEntry.objects.get(incident=incident, data__source="slack")
    assert entry.message.startswith("Slack: olga pressed Acknowledge; refused: ")
    assert entry.data["refused"] is True and entry.data["slack_user"] == "U0OLGA"


def test_a_member_removed_from_the_team_since_the_page_is_refused(client, committed, slack, paged, people):
    incident, page = paged
    TeamMembership.objects.filter(user=people["alice"]).delete()
    response = press(client, committed, slack, "resolve", incident.pk, page.pk)
    assert response.status_code == 403 and unchanged(incident)
    assert TimelineEntry.objects.filter(incident=incident, data__refused=True).count() == 1


def test_a_deactivated_user_is_refused(client, committed, slack, paged, people):
    incident, page = paged
    people["alice"].is_active = False
    people["alice"].save()
    response = press(client, committed, slack, "acknowledge", incident.pk, page.pk)
    assert response.status_code == 403 and "deactivated" in response.json()["error"] and unchanged(incident)


def test_an_unknown_incident_is_404_with_an_answer_and_changes_nothing(client, committed, slack, paged):
    incident, _page = paged
    response = press(client, committed, slack, "acknowledge", 987654321)
    assert response.status_code == 404 and response.json()["error"] == "no incident #987654321"
    assert "no incident #987654321" in ephemeral(slack)
    assert unchanged(incident)


def test_a_bad_signature_is_401_and_changes_nothing(client, committed, slack, paged):
    incident, page = paged
    payload = button_payload("acknowledge", incident.pk, page.pk)
    response = committed(signed_post, client, payload, secret="not-the-signing-secret")
    assert response.status_code == 401 and "does not match" in response.json()["error"]
    forged = committed(signed_post, client, payload, signature="v0=" + "0" * 64)
    assert forged.status_code == 401
    assert unchanged(incident) and slack.calls[-1].method == "chat.postMessage"  # nothing asked of Slack


def test_a_changed_body_under_a_valid_signature_is_401(client, slack, paged):
    incident, page = paged
    ts = str(int(time.time()))
    body = "payload=" + json.dumps(button_payload("acknowledge", incident.pk, page.pk))
    signature = SignatureVerifier(SIGNING_SECRET).generate_signature(timestamp=ts, body=body)
    response = client.post("/integrations/slack/interactivity", data=body.replace("acknowledge", "resolve"),
                           content_type="application/x-www-form-urlencoded",
                           headers={"X-Slack-Request-Timestamp": ts, "X-Slack-Signature": signature})
    assert response.status_code == 401 and unchanged(incident)


def test_an_unsigned_request_is_401(client, slack, paged):
    incident, page = paged
    response = client.post("/integrations/slack/interactivity",
                           data={"payload": json.dumps(button_payload("acknowledge", incident.pk, page.pk))})
    assert response.status_code == 401 and "missing" in response.json()["error"]
    assert unchanged(incident)


def test_a_replayed_request_with_an_old_timestamp_is_401(client, committed, slack, paged):
    incident, page = paged
    payload = button_payload("acknowledge", incident.pk, page.pk)
    response = committed(signed_post, client, payload, timestamp=int(time.time()) - 6 * 60)
    assert response.status_code == 401 and "5-minute window" in response.json()["error"]
    future = committed(signed_post, client, payload, timestamp=int(time.time()) + 6 * 60)
    assert future.status_code == 401
    assert unchanged(incident)


@pytest.mark.parametrize("mutate, problem", [
    (lambda p: p.update(type="view_submission"), "unsupported interaction type"),
    (lambda p: p.update(actions=[]), "'actions' is missing"),
    (lambda p: p["actions"][0].update(action_id="other_app"), "unknown action_id"),
    (lambda p: p["actions"][0].update(value="abc"), "does not name an incident"),
    (lambda p: p.pop("user"), "'user.id' is missing"),
])
def test_a_signed_payload_that_is_not_our_button_is_400_naming_the_problem(client, committed, slack, paged,
                                                                           mutate, problem):
    incident, page = paged
    payload = button_payload("acknowledge", incident.pk, page.pk)
    mutate(payload)
    response = committed(signed_post, client, payload)
    assert response.status_code == 400 and problem in response.json()["error"]
    assert unchanged(incident)


def test_a_response_url_that_is_not_slacks_is_never_called(client, committed, slack, paged, httpserver):
    incident, page = paged
    payload = button_payload("acknowledge", incident.pk, page.pk, user="U0NOBODY",
                             response_url="http://169.254.169.254/latest/meta-data/")
    assert committed(signed_post, client, payload).status_code == 403
    # Answered with chat.postEphemeral through the Web API instead.
    [answer] = slack.of("chat.postEphemeral")
    assert answer.args["user"] == "U0NOBODY" and answer.args["channel"] == "D0ALICE"


def test_a_button_acts_on_a_second_key_incident_of_the_same_team(client, committed, slack, paged, sre,
                                                                 t21_policy, people):
    """The value names the incident: two open pages are never ambiguous."""
    incident, page = paged
    second_key = make_key(team=sre, policy=t21_policy)[0]
    other = committed(make_incident, second_key, summary="Second")
    other_page = Notification.objects.get(incident=other, user=people["alice"])
    press(client, committed, slack, "acknowledge", other.pk, other_page.pk)
    assert Incident.objects.get(pk=other.pk).status == "acknowledged"
    assert unchanged(incident)


def test_end_to_end_door_trigger_slack_page_button_acknowledges_and_escalation_stops(
    client, committed, clock, tick, slack, smtp, sre, t21_policy, people
):
    """Through the real pipeline: an Events API v2 trigger at the door, the escalation task
    pages alice on Slack, her button acknowledges, the message is rewritten, and no later
    step ever pages bob or carol (a control incident without the button shows they would)."""
    ContactMethod.objects.filter(user=people["alice"]).delete()
    ContactMethod.objects.create(user=people["alice"], kind=ContactMethod.Kind.SLACK, address="U0ALICE")
    _key, raw_key = make_key(team=sre, policy=t21_policy)

    def trigger(dedup_key: str) -> int:
        response = committed(client.post, "/v2/enqueue", data=json.dumps({
            "routing_key": raw_key, "event_action": "trigger", "dedup_key": dedup_key,
            "payload": {"summary": f"Checkout down ({dedup_key})", "severity": "critical", "source": "pytest"},
        }), content_type="application/json")
        assert response.status_code == 202, response.content
        return response.json()["incident_id"]

    incident_id, control_id = trigger("checkout"), trigger("control")
    posted = slack.of("chat.postMessage")
    assert [p.args["text"] for p in posted] == [
        f"[CRITICAL] Incident #{incident_id}: Checkout down (checkout)",
        f"[CRITICAL] Incident #{control_id}: Checkout down (control)",
    ]
    page = Notification.objects.get(incident_id=incident_id, user=people["alice"])
    [ack] = [e for b in posted[0].args["blocks"] if b["type"] == "actions" for e in b["elements"]
             if e["action_id"] == "vigil_acknowledge"]
    assert ack["value"] == f"{incident_id}:{page.pk}"

    clock.advance(minutes=2)
    response = committed(signed_post, client, button_payload("acknowledge", incident_id, page.pk))
    assert response.status_code == 200
    incident = Incident.objects.get(pk=incident_id)
    assert incident.status == "acknowledged" and incident.next_escalation_at is None
    assert incident.acknowledged_by == people["alice"] and incident.acknowledged_via == "slack"
    [update] = slack.of("chat.update")
    assert (update.args["channel"], update.args["ts"]) == ("D0ALICE", "1700000000.000001")
    assert "Acknowledged by alice (slack)" in json.dumps(update.args["blocks"])

    for minute in (5, 10, 16, 30, 60):
        clock.to(minute)
        tick()
    assert not Notification.objects.filter(incident_id=incident_id).exclude(user=people["alice"]).exists()
    assert len([p for p in slack.of("chat.postMessage") if f"#{incident_id}:" in p.args["text"]]) == 1
    # The control incident, never acknowledged, went on to bob and carol by email.
    control_paged = set(Notification.objects.filter(incident_id=control_id).values_list("user__username", flat=True))
    assert control_paged == {"alice", "bob", "carol"}
    assert "bob@example.com" in smtp.recipients() and "carol@example.com" in smtp.recipients()
