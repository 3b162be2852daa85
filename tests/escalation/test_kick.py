"""The escalation kick (issue 15, time to page): a new paging incident publishes at most one
pending `kick_escalation_task`, which fires every step due now with the tick's claim loop.

Real PostgreSQL, Redis (our database number is the broker: its `celery` list is what was
published), real `celery worker` child processes and real SMTP (aiosmtpd)."""

from __future__ import annotations

import json
import re
import threading
import time

import httpx
import pytest
import redis
from django.conf import settings
from django.db import connection

from escalation import dispatch, engine, failpoints
from escalation.engine import fire_due_now, run_escalation_tick
from escalation.models import EscalationPolicy, Notification
from escalation.tasks import kick_escalation_task
from incidents.models import Incident, TimelineEntry
from tests.escalation.conftest import add_step, due_incidents, free_port, responder
from tests.escalation.workers import child_env, start_worker, stop, wait_for_log
from tests.factories import make_incident, make_key, make_team

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.timeout(180)]


def broker() -> redis.Redis:
    return redis.Redis.from_url(settings.CELERY_BROKER_URL, socket_timeout=2)


def queued_tasks() -> list[str]:
    """The names of the tasks waiting in the broker's default queue, oldest first."""
    client = broker()
    try:
        return [json.loads(raw)["headers"]["task"] for raw in reversed(client.lrange("celery", 0, -1))]
    finally:
        client.close()


def flag_is_set() -> bool:
    client = broker()  # the cache and the broker share our Redis database in the tests
    try:
        return bool(client.exists(dispatch.KICK_FLAG))
    finally:
        client.close()


@pytest.fixture
def paging_key():
    """A key whose policy emails alice at step 1, at once."""
    team = make_team("Kicked")
    alice = responder("alice", team=team)
    policy = EscalationPolicy.objects.create(name="at once", team=team)
    add_step(policy, 0, users=[alice])
    return make_key(team=team, policy=policy)


def received(worker_log: str, task_name: str) -> int:
    """How many `task_name` messages the worker received (celery's "Task <name>[<id>] received")."""
    return len(re.findall(rf"Task {re.escape(task_name)}\[[^\]]+\] received", worker_log))


def pages_of(incidents) -> list[int]:
    return sorted(Notification.objects.filter(kind="page", incident__in=incidents)
                  .values_list("incident_id", flat=True))


def test_a_trigger_through_the_door_is_paged_by_the_kick_in_a_real_worker(smtp, live_server, tmp_path, paging_key):
    key, raw_key = paging_key
    log = tmp_path / "worker.log"
    worker = start_worker(child_env(smtp.port, site_url=live_server.url), log, concurrency=2)
    try:
        wait_for_log(log, "ready.", timeout=90)
        with httpx.Client(base_url=live_server.url, timeout=10) as client:
            sent = time.monotonic()
            answer = client.post("/v2/enqueue", json={
                "routing_key": raw_key, "event_action": "trigger", "dedup_key": "kicked-1",
                "payload": {"summary": "Kick me", "severity": "critical", "source": "pytest"},
            })
            assert answer.status_code == 202, answer.text
            mail = smtp.wait_for(1, timeout=30)[0]
        wait_for_log(log, "succeeded", timeout=10)  # the send's own closing line: nothing left running
    finally:
        stop(worker)
    print(f"\nkick: trigger -> first email {mail.received_at - sent:.2f} s")
    assert mail.to == "alice@example.com"
    incident = Incident.objects.get(pk=answer.json()["incident_id"])
    assert pages_of([incident]) == [incident.pk]
    text = log.read_text()
    assert received(text, dispatch.KICK_ESCALATION) == 1
    assert received(text, dispatch.ADVANCE_ESCALATION) == 0
    assert not flag_is_set()  # the kick took it off before its claim
    connection.close()


def test_a_burst_of_new_incidents_publishes_one_kick_and_each_is_paged_once(smtp, tmp_path, paging_key):
    key, _raw = paging_key
    incidents = [make_incident(key, dedup_key=f"burst-{i}") for i in range(40)]  # each commits
    assert queued_tasks() == [dispatch.KICK_ESCALATION], "one pending kick covers the whole burst"
    assert flag_is_set()

    log = tmp_path / "worker.log"
    worker = start_worker(child_env(smtp.port), log, concurrency=2)
    try:
        wait_for_log(log, "ready.", timeout=90)
        mails = smtp.wait_for(40, timeout=60)
        # A second burst while the worker runs: kicks are published again, fewer than incidents
        # whenever a kick is still queued, and every incident is paged once.
        more = [make_incident(key, dedup_key=f"burst-more-{i}") for i in range(20)]
        mails = smtp.wait_for(60, timeout=60)
        time.sleep(1)  # anything paged twice would arrive now
    finally:
        stop(worker)
    kicks = received(log.read_text(), dispatch.KICK_ESCALATION)
    print(f"\nkick: 60 incidents in two bursts (40 before the worker started, 20 while it ran) -> "
          f"{kicks} kick tasks received")
    assert sorted(m.to for m in mails) == ["alice@example.com"] * 60
    assert len(smtp.mails) == 60
    assert pages_of(incidents + more) == sorted(i.pk for i in incidents + more)
    assert 1 <= kicks <= 21
    assert queued_tasks() == []
    connection.close()


def test_with_the_flag_store_down_every_incident_publishes_a_kick_and_is_paged(smtp, settings, tmp_path,
                                                                             paging_key):
    """Redis as the cache is unreachable (the broker is not): no flag can be set, so each new
    incident publishes its own kick rather than risk waiting for the beat tick."""
    key, _raw = paging_key
    settings.CACHES = {"default": {**settings.CACHES["default"], "LOCATION": f"redis://127.0.0.1:{free_port()}/0"}}
    incidents = [make_incident(key, dedup_key=f"no-flag-{i}") for i in range(5)]
    assert queued_tasks() == [dispatch.KICK_ESCALATION] * 5
    assert not flag_is_set()

    log = tmp_path / "worker.log"
    worker = start_worker(child_env(smtp.port), log)
    try:
        wait_for_log(log, "ready.", timeout=90)
        mails = smtp.wait_for(5, timeout=60)
        time.sleep(1)
    finally:
        stop(worker)
    assert [m.to for m in mails] == ["alice@example.com"] * 5 and len(smtp.mails) == 5
    assert pages_of(incidents) == sorted(i.pk for i in incidents)
    connection.close()


def test_without_redis_a_kick_runs_for_each_incident_whatever_the_flag_says(smtp, settings, tasks_inline,
                                                                           paging_key):
    """`make run` without Redis (WITHOUT_REDIS): the flag is never read. A flag left in Redis
    (as if a kick were pending) does not hold the page back."""
    key, _raw = paging_key
    settings.WITHOUT_REDIS = True
    client = broker()
    client.set(dispatch.KICK_FLAG, 1, px=60_000)
    client.close()
    first = make_incident(key, dedup_key="no-redis-1")
    second = make_incident(key, dedup_key="no-redis-2")
    assert pages_of([first, second]) == [first.pk, second.pk]
    assert smtp.recipients() == ["alice@example.com"] * 2


def test_an_incident_committed_after_the_kick_cleared_its_flag_publishes_its_own_kick(settings, paging_key):
    """The kick takes the flag off before it claims: an incident committed while it claims
    (here: paused just before the claim) must not count on it, and publishes the next kick."""
    settings.FAILPOINTS_ENABLED = True
    key, _raw = paging_key
    earlier = make_incident(key, dedup_key="before-the-kick")  # sets the flag, publishes kick 1
    assert queued_tasks() == [dispatch.KICK_ESCALATION]
    broker().delete("celery")  # kick 1 is the call below, as a worker would run it

    reached, release = threading.Event(), threading.Event()

    def pause():
        reached.set()
        assert release.wait(timeout=20)

    reports, errors = [], []

    def run_kick():
        try:
            reports.append(kick_escalation_task())
        except Exception as exc:  # surfaced below
            errors.append(exc)
        finally:
            connection.close()

    with failpoints.installed("tick_before_claim", pause):
        kicker = threading.Thread(target=run_kick)
        kicker.start()
        assert reached.wait(timeout=10)
        assert not flag_is_set()
        later = make_incident(key, dedup_key="during-the-kick")
        release.set()
        kicker.join(timeout=30)
    assert not errors
    assert [t for t in queued_tasks() if t == dispatch.KICK_ESCALATION] == [dispatch.KICK_ESCALATION]
    assert reports[0]["steps"] in (1, 2)  # the claim saw `later` too, or left it to kick 2
    fire_due_now()  # kick 2
    assert pages_of([earlier, later]) == sorted([earlier.pk, later.pk])


def test_two_kicks_and_the_beat_tick_at_once_fire_each_due_step_exactly_once(smtp, tasks_inline, t21_key,
                                                                            monkeypatch):
    """Three threads, each with its own PostgreSQL connection, claim the same 90 due incidents
    in small batches (so their claims interleave): every step fires once, every page goes
    out once."""
    monkeypatch.setattr(engine, "CLAIM_BATCH", 7)
    incidents = due_incidents(t21_key, 90)
    barrier = threading.Barrier(3)
    results, errors = [], []

    def run(fn):
        def body():
            try:
                barrier.wait(timeout=10)
                results.append((fn.__name__, fn()))
            except Exception as exc:  # surfaced below
                errors.append(exc)
            finally:
                connection.close()
        return threading.Thread(target=body)

    threads = [run(fire_due_now), run(fire_due_now), run(run_escalation_tick)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not errors and len(results) == 3
    print("\nkick race: steps fired by " + ", ".join(f"{name} {r.steps}" for name, r in results))
    assert sum(r.steps for _name, r in results) == 90
    assert pages_of(incidents) == sorted(i.pk for i in incidents)
    assert TimelineEntry.objects.filter(kind="escalation", data__step=0).count() == 90
    assert smtp.recipients() == ["alice@example.com"] * 90
    assert fire_due_now().steps == 0 and run_escalation_tick().steps == 0
