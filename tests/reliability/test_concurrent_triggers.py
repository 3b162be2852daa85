"""T01: simultaneous identical triggers make exactly one incident, settled by PostgreSQL's
partial unique index (not by a Python check), through a real gunicorn and through
`apply_event` called from real threads."""

from __future__ import annotations

import threading
import uuid

import pytest
from django.db import connection

from incidents.models import Alert, Event, Incident
from incidents.pipeline import apply_event
from integrations.formats import FORMATS
from tests.factories import make_key
from tests.reliability.load import fire_together

pytestmark = pytest.mark.django_db(transaction=True)

SENDERS = 20
ROUNDS = 10


def trigger_body(raw_key: str, dedup_key: str) -> dict:
    return {
        "routing_key": raw_key,
        "event_action": "trigger",
        "dedup_key": dedup_key,
        "payload": {"summary": "CPU above 95% on db01", "severity": "critical", "source": "db01"},
    }


def test_the_open_alert_dedup_is_a_partial_unique_index():
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT indexdef FROM pg_indexes WHERE tablename = %s AND indexname = %s",
            [Alert._meta.db_table, "one_open_alert_per_key_and_dedup_key"],
        )
        (indexdef,) = cursor.fetchone()
    assert indexdef.startswith("CREATE UNIQUE INDEX")
    assert "(integration_key_id, dedup_key)" in indexdef
    assert "WHERE ((status)::text = 'open'::text)" in indexdef


def test_twenty_simultaneous_identical_triggers_make_one_incident_every_round(live, live_key):
    key, raw_key = live_key
    slowest = []
    for round_number in range(ROUNDS):
        dedup_key = f"t01-{round_number}-{uuid.uuid4().hex[:8]}"
        answers = fire_together(
            str(live.base_url), SENDERS,
            lambda client, _i, dedup_key=dedup_key: client.post("/v2/enqueue", json=trigger_body(raw_key, dedup_key)),
        )
        assert [a.status for a in answers] == [202] * SENDERS, [a.error or a.body for a in answers]
        incident_ids = {a.body["incident_id"] for a in answers}
        assert len(incident_ids) == 1, f"round {round_number}: {len(incident_ids)} incidents"
        (incident_id,) = incident_ids
        incidents = Incident.objects.filter(integration_key=key, dedup_key=dedup_key)
        assert [(i.pk, i.alert_count, i.status) for i in incidents] == [(incident_id, SENDERS, "triggered")]
        assert Alert.objects.get(integration_key=key, dedup_key=dedup_key).count == SENDERS
        outcomes = list(Event.objects.filter(dedup_key=dedup_key).values_list("outcome", flat=True))
        assert sorted(outcomes) == ["created"] + ["updated"] * (SENDERS - 1)
        assert set(Event.objects.filter(dedup_key=dedup_key).values_list("incident_id", flat=True)) == {incident_id}
        slowest.append(max(a.seconds for a in answers))
    print(f"\nT01 {ROUNDS} rounds x {SENDERS} simultaneous triggers: 1 incident per round, alert_count "
          f"{SENDERS}, 1 created + {SENDERS - 1} updated; slowest answer {max(slowest) * 1000:.0f} ms")


def test_threads_calling_apply_event_at_once_make_one_incident(transactional_db):
    key, _raw = make_key()
    threads_count = 12
    barrier = threading.Barrier(threads_count)
    outcomes: list = [None] * threads_count
    failures: list[BaseException] = []

    def worker(i: int) -> None:
        # Each thread has its own database connection: a real race on real commits.
        try:
            (event,) = FORMATS["events_v2"](trigger_body("unused", "apply-race"))
            barrier.wait(timeout=15)
            outcomes[i] = apply_event(key, event, format="events_v2", client_ip="127.0.0.1")
        except BaseException as exc:  # reported by the main thread
            failures.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(threads_count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not failures, failures
    assert sorted(o.outcome for o in outcomes) == ["created"] + ["updated"] * (threads_count - 1)
    incident = Incident.objects.get(integration_key=key, dedup_key="apply-race")
    assert {o.incident_id for o in outcomes} == {incident.pk}
    assert incident.alert_count == threads_count
