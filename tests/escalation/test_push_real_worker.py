"""Web Push end to end with nothing in-process but the web server and the local push
service: a trigger through the HTTP door, a real `celery worker` and `celery beat` (as in
test_real_worker_and_beat.py) pushing with pywebpush to the local push service (which
decrypts each push with the fake browser's keys and checks its VAPID signature, see
push_service.py), and the lock screen's Acknowledge button: the token from the decrypted
payload POSTed to the live server's /push/action/ as static/vigil/sw.js does.

Measures and prints: trigger -> push at the push service (must be under 2 s) and button
POST -> incident acknowledged. After the acknowledgement no further step fires."""

from __future__ import annotations

import json
import threading
import time

import httpx
import pytest
from django.db import connection
from werkzeug import Response

from escalation.models import ContactMethod, EscalationPolicy, Notification
from incidents.models import Incident
from tests.escalation.conftest import add_step, responder
from tests.escalation.push_service import FakeBrowser, make_vapid_keys, received
from tests.escalation.workers import child_env, tick_every_second, worker_and_beat
from tests.factories import make_key, make_team

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.timeout(240)]

UNIT_SECONDS = 3
CAPABILITY = "/wpush/v2/gAAAAABn-real-worker-capability-41c2"
SUBJECT = "mailto:ops@example.com"


def wait_until(predicate, timeout: float, what: str) -> float:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return time.monotonic()
        time.sleep(0.01)
    raise TimeoutError(f"{what} within {timeout} s")


def test_real_worker_and_beat_a_push_acknowledge_button_stops_escalation(
    smtp, live_server, httpserver, settings, tmp_path
):
    vapid = make_vapid_keys()
    settings.SITE_URL = live_server.url  # the action URL in the payload, for the in-process web server too
    settings.VAPID_PUBLIC_KEY, settings.VAPID_PRIVATE_KEY, settings.VAPID_SUBJECT = vapid.public, vapid.private, SUBJECT
    arrivals: list[float] = []  # time.monotonic() of each push at the push service
    lock = threading.Lock()

    def accept(request):
        with lock:
            arrivals.append(time.monotonic())
        return Response("", status=201)

    httpserver.expect_request(CAPABILITY, method="POST").respond_with_handler(accept)

    browser = FakeBrowser()
    team = make_team("Push worker")
    people = {name: responder(name, team=team) for name in ("alice", "bob")}
    ContactMethod.objects.filter(user=people["alice"]).delete()
    subscription = browser.subscription(httpserver.url_for(CAPABILITY))
    ContactMethod.objects.create(user=people["alice"], kind="push", address=subscription["endpoint"],
                                 secrets=subscription["keys"])
    policy = EscalationPolicy.objects.create(name="push seconds apart", team=team)
    add_step(policy, 0, users=[people["alice"]])
    add_step(policy, 2, users=[people["bob"]])  # +6 s, by email: must never fire (acknowledged first)
    _key, raw_key = make_key(team=team, policy=policy)

    tick_every_second()

    env = child_env(smtp.port, site_url=live_server.url, unit_seconds=UNIT_SECONDS,
                    VAPID_PUBLIC_KEY=vapid.public, VAPID_PRIVATE_KEY=vapid.private, VAPID_SUBJECT=SUBJECT,
                    # the local push service listens on 127.0.0.1, which the SSRF guard refuses by default
                    ESCALATION_WEBHOOK_ALLOW_PRIVATE="true", ESCALATION_WEBHOOK_TIMEOUT_SECONDS="5")
    with worker_and_beat(env, tmp_path):
        with httpx.Client(base_url=live_server.url, timeout=10) as client:
            triggered_at = time.monotonic()
            response = client.post("/v2/enqueue", json={
                "routing_key": raw_key, "event_action": "trigger", "dedup_key": "push-real-worker",
                "payload": {"summary": "Push worker test", "severity": "critical", "source": "pytest"},
            })
            assert response.status_code == 202, response.text
            incident_id = response.json()["incident_id"]
            wait_until(lambda: arrivals, 30, "a push at the push service")
            to_push = arrivals[0] - triggered_at

            [push] = received(httpserver, browser, vapid.public)  # decrypted, VAPID checked
            page = push.payload
            assert push.path == CAPABILITY and push.vapid_claims["sub"] == SUBJECT
            assert push.headers["Urgency"] == "high"
            assert page["title"] == f"[CRITICAL] #{incident_id} Push worker test"
            assert (page["incident"], page["kind"]) == (incident_id, "page")
            [acknowledge] = [a for a in page["actions"] if a["action"] == "acknowledge"]
            assert acknowledge["url"] == f"{live_server.url}/push/action/"

            # static/vigil/sw.js answer(): POST {token} as JSON, credentials "omit" (no cookie, no CSRF token).
            pressed_at = time.monotonic()
            answer = client.post(acknowledge["url"], content=json.dumps({"token": acknowledge["token"]}),
                                 headers={"Content-Type": "application/json", "Accept": "application/json"})
            acked_at = wait_until(lambda: Incident.objects.get(pk=incident_id).status == "acknowledged", 5,
                                  "the Acknowledge button did not acknowledge")
            press_to_ack = acked_at - pressed_at
            assert answer.status_code == 200, answer.text
            assert answer.json()["message"] == f"Incident #{incident_id} acknowledged as alice."
            assert not client.cookies  # nothing for the service worker to keep

        incident = Incident.objects.get(pk=incident_id)
        assert (incident.acknowledged_by, incident.acknowledged_via) == (people["alice"], "push")
        assert incident.next_escalation_at is None

        # Bob's step was due 6 s after the trigger: give the beat time to (wrongly) fire it.
        time.sleep(max(0.0, triggered_at + 2 * UNIT_SECONDS + 3 - time.monotonic()))
        assert Incident.objects.get(pk=incident_id).status == "acknowledged"
        assert not Notification.objects.filter(incident_id=incident_id, user=people["bob"]).exists()
        assert smtp.recipients() == []
        assert [p.payload["kind"] for p in received(httpserver, browser, vapid.public)] == ["page"]
        print(f"\npush real worker: trigger -> push at the push service {to_push:.3f} s; "
              f"Acknowledge POST -> acknowledged {press_to_ack:.3f} s")
        assert to_push < 2, f"trigger -> push took {to_push:.2f} s"
        connection.close()
