"""A Slack button with nothing in-process but the web server: a trigger through the HTTP
door, a real `celery worker` and `celery beat` (as in test_real_worker_and_beat.py) paging
on Slack through the local fake Slack API, a signed button press (slack_sdk's signer) at the
live server, the message rewritten by the worker, and no later step fires. Prints the
measured trigger -> Slack message and press -> message updated times."""

from __future__ import annotations

import json
import time
from urllib.parse import urlencode

import httpx
import pytest
from django.db import connection
from slack_sdk.signature import SignatureVerifier

from escalation.models import ContactMethod, EscalationPolicy, Notification
from incidents.models import Incident
from tests.escalation.conftest import add_step, responder
from tests.escalation.slack_fake import BOT_TOKEN, SIGNING_SECRET, button_payload, start_fake
from tests.escalation.workers import child_env, tick_every_second, worker_and_beat
from tests.factories import make_key, make_team

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.timeout(240)]

UNIT_SECONDS = 3


def wait_until(predicate, timeout: float, what: str):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = predicate()
        if found:
            return found
        time.sleep(0.05)
    raise TimeoutError(f"{what} within {timeout} s")


def test_real_worker_and_beat_a_slack_button_acknowledges_and_the_message_updates(
    smtp, live_server, httpserver, settings, tmp_path
):
    slack = start_fake(httpserver)
    settings.SLACK_BOT_TOKEN, settings.SLACK_SIGNING_SECRET = BOT_TOKEN, SIGNING_SECRET
    settings.SLACK_API_BASE_URL = slack.base_url
    team = make_team("Slack worker")
    people = {name: responder(name, team=team) for name in ("alice", "bob")}
    ContactMethod.objects.filter(user=people["alice"]).delete()
    ContactMethod.objects.create(user=people["alice"], kind=ContactMethod.Kind.SLACK, address="U0ALICE")
    policy = EscalationPolicy.objects.create(name="seconds apart", team=team)
    add_step(policy, 0, users=[people["alice"]])
    add_step(policy, 2, users=[people["bob"]])  # +6 s: must never fire (acknowledged first)
    _key, raw_key = make_key(team=team, policy=policy)

    tick_every_second()

    env = child_env(smtp.port, site_url=live_server.url, unit_seconds=UNIT_SECONDS,
                    SLACK_BOT_TOKEN=BOT_TOKEN, SLACK_SIGNING_SECRET=SIGNING_SECRET,
                    SLACK_API_BASE_URL=slack.base_url)
    with worker_and_beat(env, tmp_path):
        with httpx.Client(base_url=live_server.url, timeout=10) as client:
            triggered_at = time.monotonic()
            response = client.post("/v2/enqueue", json={
                "routing_key": raw_key, "event_action": "trigger", "dedup_key": "slack-real-worker",
                "payload": {"summary": "Slack worker test", "severity": "critical", "source": "pytest"},
            })
            assert response.status_code == 202, response.text
            incident_id = response.json()["incident_id"]
            [posted] = wait_until(lambda: slack.of("chat.postMessage"), 30, "a Slack message")
            page_delay = time.monotonic() - triggered_at
            value = next(e["value"] for b in posted.args["blocks"] if b["type"] == "actions"
                         for e in b["elements"] if e["action_id"] == "vigil_acknowledge")
            page = Notification.objects.get(incident_id=incident_id, user=people["alice"])
            assert value == f"{incident_id}:{page.pk}"

            body = urlencode({"payload": json.dumps(button_payload("acknowledge", incident_id, page.pk))})
            ts = str(int(time.time()))
            signature = SignatureVerifier(SIGNING_SECRET).generate_signature(timestamp=ts, body=body)
            pressed_at = time.monotonic()
            answer = client.post("/integrations/slack/interactivity", content=body, headers={
                "Content-Type": "application/x-www-form-urlencoded",
                "X-Slack-Request-Timestamp": ts, "X-Slack-Signature": signature,
            })
            assert answer.status_code == 200, answer.text
            answered = time.monotonic() - pressed_at
            [update] = wait_until(lambda: slack.of("chat.update"), 30, "the message rewritten")
            update_delay = time.monotonic() - pressed_at
        assert "Acknowledged by alice (slack)" in json.dumps(update.args["blocks"])
        incident = Incident.objects.get(pk=incident_id)
        assert incident.status == "acknowledged" and incident.next_escalation_at is None

        # Bob's step was due 6 s after the trigger: give the beat time to (wrongly) fire it.
        time.sleep(max(0.0, triggered_at + 2 * UNIT_SECONDS + 3 - time.monotonic()))
        assert not Notification.objects.filter(user=people["bob"]).exists()
        assert smtp.recipients() == [] and len(slack.of("chat.postMessage")) == 1
        print(f"\nslack real worker: trigger -> Slack message {page_delay:.2f} s; button answered in "
              f"{answered:.2f} s; press -> message updated {update_delay:.2f} s")
        assert page_delay < 5 and answered < 3  # Slack wants an answer within 3 s
        connection.close()
