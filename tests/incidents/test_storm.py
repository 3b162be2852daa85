"""The alert storm of issue 5: 1,000 triggers over 300 distinct dedup keys in one window,
sent from 8 threads at once, end as the expected incidents with the right alert counts,
and exactly one page per incident after the escalation tick."""

import queue
import random
import threading
import time
from collections import Counter

import pytest
from django.db import connection
from django.db.models import Count, Sum

from escalation.engine import run_escalation_tick
from escalation.models import ContactMethod, EscalationPolicy, EscalationStep, Notification
from incidents.models import Alert, Event, Incident, SuppressionRule
from tests.factories import make_key, make_team, make_user
from tests.incidents.noise_helpers import ingest, tasks_inline, trigger

pytestmark = pytest.mark.django_db(transaction=True)

TRIGGERS = 1000
DEDUP_KEYS = 300
GROUPED_KEYS = 240  # dedup keys 0..239 go to the grouping key, 240..299 to the plain one
SERVICES = ("api", "db", "web")
THREADS = 8


@pytest.fixture
def inline_tasks():
    # Step 0 fires at once after each commit, as a worker would: the broker hop is not the point.
    with tasks_inline():
        yield


def one_step_policy(team, user):
    policy = EscalationPolicy.objects.create(name="storm", team=team)
    step = EscalationStep.objects.create(policy=policy, order=0, delay_minutes=0)
    step.users.set([user])
    return policy


def storm_events():
    """(key name, dedup index) for 1,000 triggers over 300 dedup keys, shuffled: every key
    fires 3 or 4 times, in no particular order."""
    sends = [n % DEDUP_KEYS for n in range(TRIGGERS)]
    random.Random(5).shuffle(sends)
    return sends


def test_storm_becomes_one_page_per_incident(inline_tasks):
    team = make_team("Storm SRE")
    oncall = make_user("storm-oncall", team=team)
    ContactMethod.objects.create(user=oncall, kind=ContactMethod.Kind.EMAIL, address="oncall@example.com")
    policy = one_step_policy(team, oncall)
    grouped_key, _ = make_key(team=team, policy=policy, grouping_type="time_window",
                              grouping_window_seconds=3600, grouping_labels=["service"])
    plain_key, _ = make_key(team=team, policy=policy)
    # Rules on the hot path that match nothing: the storm pays for checking them.
    for n, pattern in enumerate(["^(a|aa)+$", "(a+)+$", "(?i)watchdog", "^\\[test\\]"]):
        SuppressionRule.objects.create(field="summary", operator="regex", value=pattern, order=n)
    SuppressionRule.objects.create(field="label:env", operator="equals", value="test", order=9)

    work = queue.Queue()
    for index in storm_events():
        work.put(index)
    outcomes, errors = [], []

    def sender():
        try:
            while True:
                try:
                    index = work.get_nowait()
                except queue.Empty:
                    return
                if index < GROUPED_KEYS:
                    service = SERVICES[index % len(SERVICES)]
                    event = trigger(f"storm-{index}", summary=f"{service} node {index} down",
                                    labels={"service": service, "env": "prod"})
                    outcomes.append(("grouped-key", service, index, ingest(grouped_key, event)))
                else:
                    event = trigger(f"storm-{index}", summary=f"host {index} unreachable")
                    outcomes.append(("plain-key", None, index, ingest(plain_key, event)))
        except Exception as error:  # surfaced below, never swallowed
            errors.append(error)
        finally:
            connection.close()

    started = time.monotonic()
    threads = [threading.Thread(target=sender) for _ in range(THREADS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(240)
    ingest_seconds = time.monotonic() - started
    assert errors == []
    assert len(outcomes) == TRIGGERS

    # What must come out: one incident per service on the grouping key, one per dedup key on
    # the plain key; every trigger counted on the incident it landed in.
    sends_per_service = Counter(service for kind, service, _i, _o in outcomes if kind == "grouped-key")
    plain_dedup_keys = {index for kind, _s, index, _o in outcomes if kind == "plain-key"}
    expected_incidents = len(SERVICES) + len(plain_dedup_keys)
    assert expected_incidents == 3 + (DEDUP_KEYS - GROUPED_KEYS)

    assert Incident.objects.count() == expected_incidents
    assert Incident.objects.aggregate(total=Sum("alert_count"))["total"] == TRIGGERS
    assert Alert.objects.count() == DEDUP_KEYS and Alert.objects.aggregate(total=Sum("count"))["total"] == TRIGGERS
    for service in SERVICES:
        incident = Incident.objects.get(integration_key=grouped_key, group_key=f'window:{{"service":"{service}"}}')
        assert incident.alert_count == sends_per_service[service]
        assert incident.alerts.count() == GROUPED_KEYS // len(SERVICES)
    assert Incident.objects.filter(integration_key=plain_key).count() == len(plain_dedup_keys)
    outcome_counts = Counter(o.outcome for _k, _s, _i, o in outcomes)
    assert outcome_counts == {"created": expected_incidents, "grouped": GROUPED_KEYS - len(SERVICES),
                              "updated": TRIGGERS - DEDUP_KEYS}
    assert Event.objects.count() == TRIGGERS and not Event.objects.filter(outcome="suppressed").exists()
    assert all(Event.objects.filter(outcome="grouped").values_list("reason", flat=True))  # each says why

    started = time.monotonic()
    report = run_escalation_tick()
    tick_seconds = time.monotonic() - started
    pages = Notification.objects.filter(kind=Notification.Kind.PAGE)
    per_incident = pages.values("incident").annotate(n=Count("id"))
    assert pages.count() == expected_incidents
    assert {row["n"] for row in per_incident} == {1}
    assert report.errors == 0

    print(  # the figures for the closing note (pytest -s)
        f"\nSTORM: {TRIGGERS} triggers, {DEDUP_KEYS} dedup keys, {THREADS} threads -> "
        f"{Incident.objects.count()} incidents, sum(alert_count)={TRIGGERS}, outcomes={ {str(k): v for k, v in outcome_counts.items()} }, "
        f"ingest {ingest_seconds:.1f} s ({TRIGGERS / ingest_seconds:.0f} events/s), "
        f"tick {tick_seconds:.2f} s, pages={pages.count()}"
    )
