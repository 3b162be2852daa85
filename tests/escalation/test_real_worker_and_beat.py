"""The whole path with nothing in-process but the web server: a trigger through the HTTP
door, a real `celery worker` and a real `celery beat` (DatabaseScheduler) as child
processes on our Redis database, real SMTP (aiosmtpd). Policy minutes last 3 seconds and the
beat ticks every second, so a three-step policy runs in seconds.

Checks the issue's 'done means': the first page arrives within seconds; with no answer the
next step fires at its delay; confirming the emailed Acknowledge link stops escalation;
resolving sends the recovery note. Prints the measured trigger -> first email delay."""

from __future__ import annotations

import re
import time

import httpx
import pytest
from django.db import connection

from escalation.models import EscalationPolicy, Notification
from incidents.models import Incident
from tests.escalation.conftest import add_step, responder
from tests.escalation.workers import child_env, tick_every_second, worker_and_beat
from tests.factories import make_key, make_team

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.timeout(240)]

UNIT_SECONDS = 3  # one policy "minute"


def confirm_link(client: httpx.Client, url: str) -> httpx.Response:
    page = client.get(url)
    assert page.status_code == 200
    proof = re.search(r'name="confirm" value="([^"]+)"', page.text).group(1)
    return client.post(url, data={"confirm": proof})


def test_real_worker_and_beat_page_in_order_stop_on_the_emailed_ack_and_send_recovery(
    smtp, live_server, tmp_path
):
    team = make_team("Real worker")
    people = {name: responder(name, team=team) for name in ("alice", "bob", "carol")}
    policy = EscalationPolicy.objects.create(name="seconds apart", team=team)
    add_step(policy, 0, users=[people["alice"]])
    add_step(policy, 1, users=[people["bob"]])  # +3 s
    add_step(policy, 2, users=[people["carol"]])  # +6 s more: must never fire (acknowledged)
    _key, raw_key = make_key(team=team, policy=policy)

    tick_every_second()

    env = child_env(smtp.port, site_url=live_server.url, unit_seconds=UNIT_SECONDS)
    with worker_and_beat(env, tmp_path) as worker_log:
        with httpx.Client(base_url=live_server.url, timeout=10) as client:
            triggered_at = time.monotonic()
            response = client.post("/v2/enqueue", json={
                "routing_key": raw_key, "event_action": "trigger", "dedup_key": "real-worker",
                "payload": {"summary": "Real worker test", "severity": "critical", "source": "pytest"},
            })
            assert response.status_code == 202, response.text
            incident_id = response.json()["incident_id"]

            first = smtp.wait_for(1, timeout=30)[0]
            first_delay = first.received_at - triggered_at
            second = smtp.wait_for(2, timeout=30)[1]
            second_delay = second.received_at - triggered_at
            assert [first.to, second.to] == ["alice@example.com", "bob@example.com"]
            assert second_delay >= UNIT_SECONDS - 0.2  # not before its delay

            ack_url = re.search(r"^Acknowledge:\s+(\S+)$", first.text, re.M).group(1)
            resolve_url = re.search(r"^Resolve:\s+(\S+)$", first.text, re.M).group(1)
            assert confirm_link(client, ack_url).status_code == 200
            acked_at = time.monotonic()
            assert Incident.objects.get(pk=incident_id).status == "acknowledged"

            # Carol's step was due 9 s after the trigger: give the beat time to (wrongly) fire it.
            time.sleep(max(0.0, triggered_at + 3 * UNIT_SECONDS + 3 - time.monotonic()))
            assert [m.to for m in smtp.mails] == ["alice@example.com", "bob@example.com"]

            assert confirm_link(client, resolve_url).status_code == 200
            recovery = smtp.wait_for(4, timeout=30)[2:]
        assert sorted(m.to for m in recovery) == ["alice@example.com", "bob@example.com"]
        assert all(m.subject.startswith("[Vigil] RESOLVED") for m in recovery)
        assert not Notification.objects.filter(user=people["carol"]).exists()
        ticks = worker_log.read_text().count("check_inbound_escalation_timeouts")
        print(f"\nreal worker: trigger -> first email {first_delay:.2f} s; second step due at "
              f"+{UNIT_SECONDS} s arrived at +{second_delay:.2f} s; ack {acked_at - triggered_at:.2f} s "
              f"after the trigger; {ticks} beat ticks logged by the worker")
        assert first_delay < 5, "the first page must arrive within seconds"
        assert second_delay < UNIT_SECONDS + 3, "the next step fires within a tick or two of its delay"
        connection.close()
