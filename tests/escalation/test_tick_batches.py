"""The tick in batches (issue 15): due incidents are claimed CLAIM_BATCH at a time with
`FOR UPDATE SKIP LOCKED` in index order, and a batch's steps are fired with a bounded number
of queries, whatever the number of incidents. bench/escalation.py measures the same at
10,000 open incidents; RELIABILITY T16/T18 (test_tick_races.py, test_two_beats.py) keep
the exactly-once guarantees under concurrent ticks."""

from datetime import timedelta

import pytest
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext

from escalation import engine
from escalation.clock import db_now
from escalation.engine import (
    advance_escalation,
    claim_due_incidents_query,
    run_escalation_tick,
    snapshot_policy,
)
from escalation.models import ContactMethod, EscalationPolicy, Notification, NotificationRule
from incidents.models import Incident, TimelineEntry
from tests.escalation.conftest import add_step, always_on_call, responder
from tests.factories import make_team, make_user

pytestmark = pytest.mark.django_db


@pytest.fixture
def varied(sre):
    """Policies that page users, an on-call schedule and a team, with rules by urgency,
    an unreachable person, an inactive one and a repeat."""
    dana, erin, fay = (responder(name, team=sre) for name in ("dana", "erin", "fay"))
    hook = ContactMethod.objects.create(user=erin, kind="webhook", address="https://hooks.example.com/erin")
    NotificationRule.objects.create(user=erin, contact_method=hook, delay_minutes=3, urgency="high")
    NotificationRule.objects.create(user=erin, contact_method=erin.contact_methods.get(kind="email"), delay_minutes=0)
    make_user("mute", team=sre)  # no contact method: named on the timeline
    make_user("gone", team=sre, is_active=False)
    night = make_team("Night")
    responder("owl", team=night)
    first = EscalationPolicy.objects.create(name="users then schedule", team=sre, repeat_count=1,
                                            repeat_delay_minutes=10)
    add_step(first, 0, users=[dana, erin])
    add_step(first, 5, schedules=[always_on_call(fay, team=sre)])
    second = EscalationPolicy.objects.create(name="teams", team=sre)
    add_step(second, 0, teams=[night, sre])
    add_step(second, 15, users=[dana])
    return [first, second]


def write_incidents(policies, *, due: int, waiting: int, label: str, now, sre) -> list[Incident]:
    """`due` incidents whose next step is due now (fresh ones, mid-escalation ones, some
    flapping) and `waiting` ones due in an hour, written in bulk."""
    rows = []
    for i in range(due + waiting):
        policy = policies[i % len(policies)]
        row = Incident(team=sre, summary=f"{label} {i}", dedup_key=f"{label}-{i}", escalation_policy=policy,
                       severity=["critical", "warning"][i // 2 % 2], is_flapping=i % 17 == 0)
        if i >= due:
            row.escalation_snapshot = snapshot_policy(policy)
            row.next_escalation_at = now + timedelta(hours=1)
        elif i % 3 == 0:  # mid-escalation: its second step is due
            row.escalation_snapshot = snapshot_policy(policy)
            row.escalation_step = 1
            row.next_escalation_at = now - timedelta(seconds=10)
        else:  # fresh: the tick freezes the policy and fires step 1
            row.next_escalation_at = now - timedelta(seconds=10)
        rows.append(row)
    return Incident.objects.bulk_create(rows)


def outcome(incident: Incident) -> tuple:
    """What escalation did to one incident, with times relative to its trigger and no ids
    that differ between two copies of it."""
    incident.refresh_from_db()
    pages = Notification.objects.filter(incident=incident).order_by("step_index", "user_id", "contact_method_id")
    return (
        incident.escalation_step, incident.escalation_repeat, incident.next_escalation_at is None,
        [(p.user.username, p.channel, p.status, p.step_index, p.repeat_index, p.enqueued_at is not None)
         for p in pages],
        list(TimelineEntry.objects.filter(incident=incident, kind="escalation").order_by("id")
             .values_list("message", flat=True)),
    )


def test_a_tick_over_300_due_among_1000_fires_each_step_once_in_a_bounded_number_of_queries(
    sre, varied, tasks_inline
):
    now = db_now()
    incidents = write_incidents(varied, due=300, waiting=700, label="batch", now=now, sre=sre)
    with CaptureQueriesContext(connection) as queries:
        report = run_escalation_tick(now)
    batches = -(-300 // engine.CLAIM_BATCH)
    print(f"\ntick over 300 due of 1,000: {len(queries)} queries in {batches} batches, {report.seconds} s")

    assert report.incidents == 300 and report.steps == 300 and report.errors == 0
    # Not proportional to the incidents: a constant per batch (plus the tick's own few).
    assert len(queries) <= 30 * batches
    fired = TimelineEntry.objects.filter(kind="escalation", data__has_key="step")
    assert fired.count() == 300
    assert sorted(fired.values_list("incident_id", flat=True)) == sorted(i.pk for i in incidents[:300])
    pages = Notification.objects.filter(kind="page")
    assert pages.values("incident_id", "step_index", "repeat_index", "user_id", "contact_method_id") \
        .distinct().count() == pages.count() > 300
    assert not pages.filter(incident__in=incidents[300:]).exists()
    assert run_escalation_tick(now).steps == 0  # nothing is due twice


def test_the_claim_query_uses_the_escalation_index(sre, varied):
    """150 due among 3,000 open (a storm's share): the claim reads the partial index
    `incident_escalation_due` (here and in bench/escalation.py at 10,000 open it walks the
    index in (next_escalation_at, id) order and stops at the limit), never the whole table."""
    now = db_now()
    write_incidents(varied, due=150, waiting=2850, label="plan", now=now, sre=sre)
    with connection.cursor() as cursor:
        cursor.execute(f"ANALYZE {Incident._meta.db_table}")
    with transaction.atomic():
        query = claim_due_incidents_query(now, exclude=[], limit=engine.CLAIM_BATCH)
        plan = query.explain()
        claimed = list(query)
    print(f"\n{plan}")
    assert "Index Scan on incident_escalation_due" in plan or "Index Scan using incident_escalation_due" in plan
    assert "Seq Scan" not in plan
    assert "FOR UPDATE SKIP LOCKED" in str(query.query)
    assert len(claimed) == 150
    assert [(i.next_escalation_at, i.pk) for i in claimed] == sorted((i.next_escalation_at, i.pk) for i in claimed)


def test_a_batch_gives_each_incident_what_it_gets_alone(sre, varied, tasks_inline):
    """The same incidents, fired once in batches by the tick and once one by one (the
    pipeline's task), end the same: pages, their status, pointers and timeline lines."""
    now = db_now()
    together = write_incidents(varied, due=40, waiting=0, label="same", now=now, sre=sre)
    alone = write_incidents(varied, due=40, waiting=0, label="same", now=now, sre=sre)
    Incident.objects.filter(pk__in=[i.pk for i in alone]).update(status="acknowledged")
    assert run_escalation_tick(now).steps == 40
    Incident.objects.filter(pk__in=[i.pk for i in alone]).update(status="triggered")
    for incident in alone:
        assert advance_escalation(incident.pk, now) == 1
    for a, b in zip(together, alone, strict=True):
        assert outcome(a) == outcome(b)
    messages = [m for i in together for m in outcome(i)[4]]
    assert any("paged dana, erin" in m for m in messages)
    assert any("paged fay" in m for m in messages)
    assert any("mute has no enabled contact method" in m and "gone is inactive" in m for m in messages)
    assert any("(held: flapping)" in m for m in messages)
    assert Notification.objects.filter(status="held").exists()
    assert Notification.objects.filter(channel="webhook", enqueued_at__isnull=True, status="pending").exists()


def test_one_broken_incident_does_not_stop_its_batch(sre, varied, tasks_inline):
    """A snapshot that cannot be followed fails its incident alone: the batch is retried
    one incident at a time and every other due step fires."""
    now = db_now()
    incidents = write_incidents(varied, due=20, waiting=0, label="broken", now=now, sre=sre)
    broken = incidents[1]
    snapshot = snapshot_policy(varied[0])
    del snapshot["steps"][1]["delay_seconds"]
    Incident.objects.filter(pk=broken.pk).update(escalation_snapshot=snapshot, escalation_step=0)
    report = run_escalation_tick(now)
    assert report.errors == 1 and report.incidents == 19 and report.steps == 19
    assert not Notification.objects.filter(incident=broken).exists()
    broken.refresh_from_db()
    assert broken.next_escalation_at <= now  # still due: the next tick tries again
    assert TimelineEntry.objects.filter(kind="escalation", data__has_key="step").count() == 19
