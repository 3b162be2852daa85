"""T07, T08, T09: Redis (rate-limit cache, flapping counters and Celery broker) killed or
hung under load never fails, refuses or stalls ingest. Faults hit our own redis-server
child only, by PID; gunicorn is real."""

from __future__ import annotations

import threading
import time
import uuid

import httpx
import pytest

from escalation.models import ContactMethod, EscalationStep, Notification
from incidents.models import Event, Incident
from tests.factories import make_key, make_policy, make_team, make_user
from tests.reliability.load import Answer, latency_summary, paced, percentile

pytestmark = [pytest.mark.chaos, pytest.mark.timeout(120), pytest.mark.django_db(transaction=True)]

RATE = 20  # requests per second, as RELIABILITY.md words the load
WORKERS = 2  # gunicorn -w 2: the fail-open warning may appear once per worker process


def new_trigger(raw_key: str, run: str):
    def request(client: httpx.Client, i: int) -> httpx.Response:
        return client.post("/v2/enqueue", json={
            "routing_key": raw_key,
            "event_action": "trigger",
            "dedup_key": f"{run}-{i}",
            "payload": {"summary": f"Disk full on web{i:03d}", "severity": "error", "source": f"web{i:03d}"},
        })

    return request


def warm_up(base_url: str, raw_key: str) -> None:
    """One unmeasured second of the same load: every gunicorn thread opens its database
    connection and imports its lazy modules before latency counts."""
    answers = paced(base_url, new_trigger(raw_key, f"warm-{uuid.uuid4().hex[:6]}"), rate=RATE, seconds=1)
    assert {a.status for a in answers} == {202}


def assert_every_answer_is_stored(answers: list[Answer], key) -> None:
    """T12 in small: every 202 names an incident that exists, with its event-log row."""
    accepted_ids = {a.body["incident_id"] for a in answers}
    assert len(accepted_ids) == len(answers)
    assert Incident.objects.filter(pk__in=accepted_ids, integration_key=key).count() == len(answers)
    run = answers[0].body["dedup_key"].rsplit("-", 1)[0]
    logged = Event.objects.filter(integration_key=key, outcome="created", dedup_key__startswith=run + "-")
    assert logged.count() == len(answers)


def log_since(gunicorn, offset: int) -> str:
    return gunicorn.log_text()[offset:]


def test_redis_killed_mid_load_every_trigger_is_accepted(live, live_key, gunicorn, redis_child):
    """T07: kill redis-server at t=4 s, restart it at t=10 s, 20 triggers a second for 15 s."""
    key, raw_key = live_key
    warm_up(str(live.base_url), raw_key)
    log_offset = len(gunicorn.log_text())
    events: list[str] = []

    def fault(elapsed: float) -> None:
        if elapsed >= 4 and "killed" not in events:
            redis_child.kill()
            events.append("killed")
        if elapsed >= 10 and "restarted" not in events:
            redis_child.start()
            events.append("restarted")

    answers = paced(str(live.base_url), new_trigger(raw_key, f"t07-{uuid.uuid4().hex[:6]}"),
                    rate=RATE, seconds=15, during=fault)
    slowest = sorted(answers, key=lambda a: -a.seconds)[:5]
    print(f"\nT07 Redis killed 4 s..10 s: {latency_summary(answers)}; slowest sent at "
          + ", ".join(f"{a.sent_at:.1f} s ({a.seconds * 1000:.0f} ms)" for a in slowest))
    assert events == ["killed", "restarted"]
    assert [a.status for a in answers] == [202] * len(answers), [
        (a.index, a.status, a.error) for a in answers if a.status != 202
    ]
    assert percentile([a.seconds for a in answers], 99) < 0.3
    assert_every_answer_is_stored(answers, key)

    log = log_since(gunicorn, log_offset)
    # Fails open with a WARNING, rate-limited to one a minute per worker, and no traceback.
    assert log.count("rate limiter unavailable") <= WORKERS
    assert "rate limiter unavailable" in gunicorn.log_text()
    assert "Traceback" not in log


def test_redis_hung_no_request_waits_more_than_a_second_and_a_half(live, live_key, gunicorn, redis_child):
    """T08: SIGSTOP redis-server for 12 s under 20 triggers a second; /healthz stays quick."""
    key, raw_key = live_key
    warm_up(str(live.base_url), raw_key)
    events: list[str] = []
    health: list[float] = []
    stop_probe = threading.Event()

    def probe_health() -> None:
        with httpx.Client(base_url=str(live.base_url), timeout=5) as client:
            while not stop_probe.is_set():
                began = time.monotonic()
                try:
                    ok = client.get("/healthz").status_code == 200
                except httpx.HTTPError:
                    ok = False
                health.append(time.monotonic() - began if ok else float("inf"))
                stop_probe.wait(0.25)

    def fault(elapsed: float) -> None:
        if elapsed >= 3 and "hung" not in events:
            redis_child.hang()
            events.append("hung")
        if elapsed >= 15 and "resumed" not in events:
            redis_child.resume()
            events.append("resumed")

    prober = threading.Thread(target=probe_health, daemon=True)
    prober.start()
    try:
        answers = paced(str(live.base_url), new_trigger(raw_key, f"t08-{uuid.uuid4().hex[:6]}"),
                        rate=RATE, seconds=18, during=fault)
    finally:
        stop_probe.set()
        prober.join(timeout=10)
    hung = [a for a in answers if 3 <= a.sent_at < 15]
    slowest = sorted(answers, key=lambda a: -a.seconds)[:5]
    print(f"\nT08 Redis hung 3 s..15 s: all {latency_summary(answers)}; while hung {latency_summary(hung)}; "
          f"/healthz max {max(health) * 1000:.0f} ms over {len(health)} probes; slowest sent at "
          + ", ".join(f"{a.sent_at:.1f} s ({a.seconds * 1000:.0f} ms)" for a in slowest))
    assert events == ["hung", "resumed"]
    assert [a.status for a in answers] == [202] * len(answers), [
        (a.index, a.status, a.error) for a in answers if a.status != 202
    ]
    assert max(a.seconds for a in answers) < 1.5
    assert len(health) >= 20 and max(health) < 1.0
    assert_every_answer_is_stored(answers, key)


def paging_key():
    """A key whose policy pages one responder by email at step 1, at once."""
    team = make_team(f"T09 {uuid.uuid4().hex[:6]}")
    responder = make_user(team=team)
    ContactMethod.objects.create(user=responder, kind=ContactMethod.Kind.EMAIL, address="oncall@example.com")
    policy = make_policy(team=team)
    step = EscalationStep.objects.create(policy=policy, order=0, delay_minutes=0)
    step.users.add(responder)
    return make_key(team=team, policy=policy)


def test_broker_down_at_enqueue_every_incident_is_stored_and_paged_once_redis_returns(
    live, redis_child, transactional_db
):
    """T09: 50 triggers while Redis (the broker) is dead: 50 x 202, each incident in the
    database with its first step due; after Redis returns one tick pages each exactly once."""
    from escalation.engine import run_escalation_tick

    key, raw_key = paging_key()
    redis_child.kill()
    request = new_trigger(raw_key, f"t09-{uuid.uuid4().hex[:6]}")
    began = time.monotonic()
    answers = [Answer(i, 0, 0, r.status_code, r.json()) for i, r in ((i, request(live, i)) for i in range(50))]
    seconds = time.monotonic() - began
    print(f"\nT09 50 triggers with the broker dead took {seconds:.2f} s")
    assert [a.status for a in answers] == [202] * 50
    assert_every_answer_is_stored(answers, key)
    incidents = Incident.objects.filter(integration_key=key)
    assert incidents.filter(status="triggered", next_escalation_at__isnull=False).count() == 50
    assert not Notification.objects.filter(incident__in=incidents).exists()

    redis_child.start()
    run_escalation_tick()
    run_escalation_tick()  # a second tick (or the lost task, late) pages nobody again
    pages = Notification.objects.filter(incident__in=incidents, kind="page")
    assert pages.count() == 50
    assert sorted(pages.values_list("incident_id", flat=True)) == sorted(i.pk for i in incidents)
