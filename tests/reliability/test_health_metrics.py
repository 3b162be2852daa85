"""/readyz against our own redis-server (stopped and started by PID), and /metrics parsed
with prometheus-client's own parser. Both run in-process with settings pointed at the
harness's Redis, so the broker and Redis checks talk to a real server we own."""

from __future__ import annotations

import json
import re
import time
from datetime import timedelta

import pytest
import redis
from prometheus_client.parser import text_string_to_metric_families

from escalation.clock import db_now
from escalation.engine import TICK_STATE_NAME, run_escalation_tick
from escalation.models import EscalationTickState, Notification
from incidents.models import Incident
from tests.factories import make_incident, make_key, make_team
from tests.reliability.harness import REPO

pytestmark = pytest.mark.django_db
TOKEN = "metrics-token-for-tests"


@pytest.fixture
def own_redis(settings, redis_child):
    """Settings pointed at our redis-server: Redis and the broker."""
    settings.REDIS_URL = redis_child.url(7)
    settings.CELERY_BROKER_URL = redis_child.url(7)
    return redis_child


def ticked(seconds_ago: float = 0) -> None:
    EscalationTickState.objects.update_or_create(
        name=TICK_STATE_NAME, defaults={"last_tick_at": db_now() - timedelta(seconds=seconds_ago)})


def test_readyz_is_503_naming_redis_while_our_redis_is_stopped_and_200_when_it_starts(client, own_redis):
    ticked()
    response = client.get("/readyz")
    assert response.status_code == 200, response.json()
    assert {name: check["status"] for name, check in response.json()["checks"].items()} == {
        "database": "ok", "redis": "ok", "broker": "ok", "beat": "ok"}

    own_redis.kill()
    started = time.monotonic()
    response = client.get("/readyz")
    elapsed = time.monotonic() - started
    body = response.json()
    assert response.status_code == 503
    assert body["status"] == "down"
    assert body["checks"]["redis"]["status"] == "down"
    assert body["checks"]["broker"]["status"] == "down"
    assert body["checks"]["database"]["status"] == "ok"
    assert body["checks"]["redis"]["detail"]
    assert elapsed < 3, f"/readyz took {elapsed:.1f} s with Redis down"

    own_redis.start()
    response = client.get("/readyz")
    assert response.status_code == 200, response.json()


def test_readyz_is_503_when_redis_hangs_and_answers_within_its_timeouts(client, own_redis):
    ticked()
    own_redis.hang()
    try:
        started = time.monotonic()
        response = client.get("/readyz")
        elapsed = time.monotonic() - started
    finally:
        own_redis.resume()
    assert response.status_code == 503
    assert response.json()["checks"]["redis"]["status"] == "down"
    assert elapsed < 3, f"/readyz took {elapsed:.1f} s with Redis hung"


def test_readyz_is_503_naming_beat_when_the_last_tick_is_old(client, own_redis, settings):
    settings.ESCALATION_HEALTH_MAX_AGE_SECONDS = 60
    ticked(seconds_ago=600)
    response = client.get("/readyz")
    assert response.status_code == 503
    checks = response.json()["checks"]
    assert checks["beat"]["status"] == "down"
    assert checks["beat"]["detail"] == "last tick 600 s ago (limit 60 s)"
    assert checks["redis"]["status"] == "ok"


def test_healthz_stays_process_up(client):
    assert client.get("/healthz").json() == {"status": "ok"}


def families(text: str) -> dict[str, dict[tuple, float]]:
    """{family name: {(sample name, sorted labels): value}} from the Prometheus parser."""
    parsed = {}
    for family in text_string_to_metric_families(text):
        parsed[family.name] = {
            (sample.name, tuple(sorted(sample.labels.items()))): sample.value for sample in family.samples}
    return parsed


def test_metrics_report_the_rows_we_created(client, own_redis, settings, django_assert_max_num_queries):
    settings.METRICS_TOKEN = TOKEN
    run_escalation_tick()  # before any incident exists: it only records its duration here
    team = make_team("Payments")
    key, raw = make_key(team=team)
    for dedup in ("a", "b"):
        response = client.post("/v2/enqueue", {
            "routing_key": raw, "event_action": "trigger", "dedup_key": f"metrics-{dedup}",
            "payload": {"summary": "Disk full", "severity": "critical", "source": "test"}},
            content_type="application/json")
        assert response.status_code == 202, response.content
    client.post("/v2/enqueue", {"routing_key": raw, "event_action": "resolve", "dedup_key": "metrics-none"},
                content_type="application/json")
    warning = make_incident(key, severity="warning")
    Incident.objects.filter(pk=warning.pk).update(next_escalation_at=db_now() - timedelta(seconds=120))
    incident = Incident.objects.filter(severity="critical").first()
    now = db_now()
    Notification.objects.create(incident=incident, channel="email", address="a@example.com",
                                status=Notification.Status.SENT, attempts=1, dedupe_key="m1", due_at=now)
    Notification.objects.create(incident=incident, channel="email", address="a@example.com",
                                status=Notification.Status.FAILED, attempts=3, dedupe_key="m2", due_at=now)
    Notification.objects.create(incident=incident, channel="sms", address="+4915123456789",
                                status=Notification.Status.SENT, attempts=2, dedupe_key="m3", due_at=now)
    ticked(seconds_ago=30)
    queue = redis.Redis.from_url(own_redis.url(7))
    queue.delete("celery")
    queue.rpush("celery", "one", "two", "three")

    with django_assert_max_num_queries(8):
        response = client.get("/metrics", HTTP_AUTHORIZATION=f"Bearer {TOKEN}")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/plain")
    metrics = families(response.content.decode())

    events = metrics["vigil_events_recent"]
    assert events[("vigil_events_recent", (("door", "events_v2"), ("outcome", "created")))] == 3
    assert sum(events.values()) == 4  # 2 door triggers + the factory's trigger + 1 resolve
    incidents = metrics["vigil_open_incidents"]
    assert incidents[("vigil_open_incidents",
                      (("severity", "critical"), ("status", "triggered"), ("team", "Payments")))] == 2
    assert incidents[("vigil_open_incidents",
                      (("severity", "warning"), ("status", "triggered"), ("team", "Payments")))] == 1
    lag = metrics["vigil_escalation_lag_seconds"][("vigil_escalation_lag_seconds", ())]
    assert 115 <= lag < 180
    sent = metrics["vigil_notifications_recent"]
    assert sent[("vigil_notifications_recent", (("channel", "email"), ("status", "sent")))] == 1
    assert sent[("vigil_notifications_recent", (("channel", "email"), ("status", "failed")))] == 1
    assert sent[("vigil_notifications_recent", (("channel", "sms"), ("status", "sent")))] == 1
    retries = metrics["vigil_notification_retries_recent"]
    assert retries[("vigil_notification_retries_recent", (("channel", "email"),))] == 2
    assert retries[("vigil_notification_retries_recent", (("channel", "sms"),))] == 1
    assert 29 <= metrics["vigil_beat_tick_age_seconds"][("vigil_beat_tick_age_seconds", ())] < 90
    assert metrics["vigil_celery_queue_depth"][("vigil_celery_queue_depth", (("queue", "celery"),))] == 3
    ingest = metrics["vigil_ingest_seconds"]
    assert ingest[("vigil_ingest_seconds_count", (("door", "events_v2"),))] >= 3
    queue.delete("celery")

    # Every series the Grafana dashboard queries is one this scrape served.
    dashboard = json.loads((REPO / "docs" / "grafana-dashboard.json").read_text())
    queried = {re.sub(r"_(bucket|count|sum)$", "", name)
               for panel in dashboard["panels"] for target in panel["targets"]
               for name in re.findall(r"vigil_\w+", target["expr"])}
    assert len(queried) == 9
    assert queried <= set(metrics)


def test_metrics_leave_out_queue_depth_when_the_broker_is_down(client, own_redis, settings):
    settings.METRICS_TOKEN = TOKEN
    own_redis.kill()
    response = client.get("/metrics", HTTP_AUTHORIZATION=f"Bearer {TOKEN}")
    assert response.status_code == 200
    metrics = families(response.content.decode())
    assert "vigil_celery_queue_depth" not in metrics
    assert "vigil_open_incidents" in metrics


def test_metrics_are_404_with_neither_token_nor_allow_list(client, settings):
    settings.METRICS_TOKEN = ""
    settings.METRICS_ALLOWED_CIDRS = []
    assert client.get("/metrics").status_code == 404
    assert client.get("/metrics", HTTP_AUTHORIZATION="Bearer ").status_code == 404


def test_metrics_token_is_enforced(client, settings):
    settings.METRICS_TOKEN = TOKEN
    settings.METRICS_ALLOWED_CIDRS = []
    assert client.get("/metrics").status_code == 403
    assert client.get("/metrics", HTTP_AUTHORIZATION="Bearer wrong").status_code == 403
    assert client.get("/metrics", HTTP_AUTHORIZATION=TOKEN).status_code == 403
    assert client.get("/metrics", HTTP_AUTHORIZATION=f"Bearer {TOKEN}").status_code == 200


def test_metrics_allow_list_is_enforced(client, settings):
    settings.METRICS_TOKEN = ""
    settings.METRICS_ALLOWED_CIDRS = ["10.0.0.0/8"]
    assert client.get("/metrics", REMOTE_ADDR="10.1.2.3").status_code == 200
    assert client.get("/metrics", REMOTE_ADDR="192.0.2.7").status_code == 403
    assert client.get("/metrics", REMOTE_ADDR="127.0.0.1").status_code == 403


def test_metrics_report_the_last_tick_duration(client, settings):
    settings.METRICS_TOKEN = TOKEN
    report = run_escalation_tick()
    response = client.get("/metrics", HTTP_AUTHORIZATION=f"Bearer {TOKEN}")
    metrics = families(response.content.decode())
    duration = metrics["vigil_beat_tick_duration_seconds"][("vigil_beat_tick_duration_seconds", ())]
    assert duration == report.seconds
    assert metrics["vigil_beat_tick_age_seconds"][("vigil_beat_tick_age_seconds", ())] < 60
