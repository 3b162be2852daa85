"""SMS and voice end to end with nothing in-process but the web server and the fake Twilio:
a trigger through the HTTP door, a real `celery worker` and `celery beat` (as in
test_real_worker_and_beat.py) calling the local Twilio through the twilio package, and
Twilio's signed callbacks posted over HTTP to the live server.

Measures and prints: trigger -> SMS at Twilio (must be under 2 s), SMS reply "1a" ->
incident acknowledged, and keypress 2 -> resolved. After the "1a" no further step fires."""

from __future__ import annotations

import time

import httpx
import pytest
from django.db import connection

from escalation.models import ContactMethod, EscalationPolicy, Notification, NotificationRule
from incidents.models import Incident
from tests.escalation.conftest import add_step
from tests.escalation.workers import child_env, tick_every_second, worker_and_beat
from tests.factories import make_key, make_team, make_user
from tests.fakes.twilio import FROM_NUMBER, said, texted

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.timeout(240)]

UNIT_SECONDS = 3
ALICE = "+4915123456789"
BOB = "+14155550123"


def httpx_poster(client: httpx.Client):
    def post(url: str, data: dict, headers: dict) -> tuple[int, str]:
        response = client.post(url, data=data, headers=headers)
        return response.status_code, response.text

    return post


def wait_until(predicate, timeout: float, what: str) -> float:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return time.monotonic()
        time.sleep(0.01)
    raise TimeoutError(what)


def test_texted_page_within_2_s_a_1a_reply_stops_escalation_and_a_keypress_2_resolves(
    smtp, fake_twilio, live_server, tmp_path, settings
):
    settings.SITE_URL = live_server.url  # the public URL Twilio signs, for the in-process web server too
    team = make_team("Phones")
    alice, bob = make_user("alice", team=team), make_user("bob", team=team)
    alice_sms = ContactMethod.objects.create(user=alice, kind="sms", address=ALICE)
    alice_voice = ContactMethod.objects.create(user=alice, kind="voice", address=ALICE)
    NotificationRule.objects.create(user=alice, contact_method=alice_sms, delay_minutes=0)
    NotificationRule.objects.create(user=alice, contact_method=alice_voice, delay_minutes=0)
    ContactMethod.objects.create(user=bob, kind="sms", address=BOB)
    policy = EscalationPolicy.objects.create(name="phones", team=team)
    add_step(policy, 0, users=[alice])
    add_step(policy, 1, users=[bob])  # +3 s: must never fire for the acknowledged incident
    _key, raw_key = make_key(team=team, policy=policy)

    tick_every_second()

    env = child_env(
        smtp.port, site_url=live_server.url, unit_seconds=UNIT_SECONDS,
        TWILIO_ACCOUNT_SID=fake_twilio.account_sid, TWILIO_AUTH_TOKEN=fake_twilio.auth_token,
        TWILIO_FROM_NUMBER=FROM_NUMBER, TWILIO_API_BASE_URL=fake_twilio.base_url, TWILIO_TIMEOUT_SECONDS="5",
    )
    with worker_and_beat(env, tmp_path):
        with httpx.Client(base_url=live_server.url, timeout=10) as client:
            post = httpx_poster(client)

            def trigger(dedup_key: str, summary: str) -> tuple[int, float]:
                started = time.monotonic()
                response = client.post("/v2/enqueue", json={
                    "routing_key": raw_key, "event_action": "trigger", "dedup_key": dedup_key,
                    "payload": {"summary": summary, "severity": "critical", "source": "pytest"},
                })
                assert response.status_code == 202, response.text
                return response.json()["incident_id"], started

            # 1. Trigger -> SMS at Twilio; reply "1a" -> acknowledged; bob's step never fires.
            first_id, triggered_at = trigger("phones-1", "Disk full on srv01")
            [sms] = fake_twilio.wait_for_messages(1, timeout=10)
            to_sms = sms.received_at - triggered_at
            assert sms.to == ALICE
            assert sms.body == f"Vigil #{first_id} CRIT: Disk full on srv01. Reply 1a ack, 1c resolve"
            fake_twilio.wait_for_calls(1, timeout=10)

            replied_at = time.monotonic()
            status, twiml = fake_twilio.sms_reply(post, live_server.url, ALICE, "1a")
            acked_at = wait_until(lambda: Incident.objects.get(pk=first_id).status == "acknowledged", 5,
                                  "the 1a reply did not acknowledge")
            assert status == 200 and texted(twiml) == [f"Vigil: Acknowledged #{first_id}: Disk full on srv01"]
            reply_to_ack = acked_at - replied_at

            # Bob's step was due UNIT_SECONDS after the trigger: give the beat time to (wrongly) fire it.
            time.sleep(max(0.0, triggered_at + UNIT_SECONDS + 3 - time.monotonic()))
            assert [m.to for m in fake_twilio.messages] == [ALICE]
            assert not Notification.objects.filter(incident_id=first_id, user=bob).exists()

            # 2. A second incident: alice's page 2 by text, and a call she answers with key 2.
            second_id, second_at = trigger("phones-2", "Checkout 5xx above 5%")
            [call_1, call_2] = fake_twilio.wait_for_calls(2, timeout=10)
            messages = fake_twilio.wait_for_messages(2, timeout=10)
            assert messages[-1].body.endswith("Reply 2a ack, 2c resolve")
            assert call_2.params["Url"] == f"{live_server.url}/twilio/voice/" \
                f"{Notification.objects.get(incident_id=second_id, channel='voice').pk}/"
            status, twiml = fake_twilio.answer(post, call_2)
            assert status == 200 and said(twiml)[0] == f"Vigil page. critical incident {second_id}: Checkout 5xx above 5%."
            pressed_at = time.monotonic()
            status, answer = fake_twilio.press(post, call_2, twiml, "2")
            resolved_at = wait_until(lambda: Incident.objects.get(pk=second_id).status == "resolved", 5,
                                     "key 2 did not resolve")
            assert status == 200 and said(answer)[0].startswith(f"Resolved {second_id}")
            key_to_resolved = resolved_at - pressed_at

            # The recovery note is texted, not called.
            recovery = fake_twilio.wait_for_messages(3, timeout=10)[-1]
            assert recovery.body == f"Vigil #{second_id} RESOLVED: Checkout 5xx above 5%"
            assert len(fake_twilio.calls) == 2
        assert Incident.objects.get(pk=first_id).acknowledged_via == "SMS reply"
        assert Incident.objects.get(pk=second_id).resolved_via == "voice call"
        print(f"\nreal worker, Twilio: trigger -> SMS at Twilio {to_sms:.3f} s; SMS reply '1a' -> acknowledged "
              f"{reply_to_ack:.3f} s; keypress 2 -> resolved {key_to_resolved:.3f} s; "
              f"second trigger -> SMS {messages[1].received_at - second_at:.3f} s, -> call {call_2.received_at - second_at:.3f} s")
        assert to_sms < 2, f"trigger -> SMS took {to_sms:.2f} s"
        connection.close()
