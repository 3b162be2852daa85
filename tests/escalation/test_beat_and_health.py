"""Beat registration (a fresh install has the tick and the cleanup with no clicks), the
watchdog `/health/escalation` (RELIABILITY T25) and T24 (no long ETAs on the broker)."""

import ast
from pathlib import Path

import pytest
from django.utils import timezone
from django_celery_beat.models import PeriodicTask

from config.celery import app
from config.periodic import sync_periodic_tasks
from escalation.engine import run_escalation_tick
from incidents.models import Incident

pytestmark = pytest.mark.django_db

REPO = Path(__file__).resolve().parents[2]


def test_migrate_registers_the_tick_every_minute_expiring_stale_runs():
    tick = PeriodicTask.objects.get(name="check-inbound-escalation-timeouts")
    assert tick.task == "check_inbound_escalation_timeouts" and tick.enabled
    assert (tick.interval.every, tick.interval.period) == (60, "seconds")
    assert tick.expire_seconds == 55


def test_migrate_registers_the_daily_cleanup():
    cleanup = PeriodicTask.objects.get(name="cleanup-old-inbound-events")
    assert cleanup.task == "cleanup_old_inbound_events" and cleanup.enabled
    assert cleanup.interval.every == 24 * 3600


def test_a_second_sync_keeps_one_row_each():
    sync_periodic_tasks()
    assert PeriodicTask.objects.filter(task="check_inbound_escalation_timeouts").count() == 1


def test_the_beat_task_names_are_registered_with_celery():
    app.loader.import_default_modules()
    assert {"check_inbound_escalation_timeouts", "cleanup_old_inbound_events"} <= set(app.tasks)


def test_health_is_503_before_any_tick(client):
    response = client.get("/health/escalation")
    assert response.status_code == 503
    assert response.json()["last_tick_age_s"] is None


def test_health_is_200_after_a_tick_and_503_once_the_beat_stopped(client, settings):
    run_escalation_tick()
    response = client.get("/health/escalation")
    assert response.status_code == 200, response.json()
    assert 0 <= response.json()["last_tick_age_s"] < 5

    settings.ESCALATION_CLOCK_OFFSET_SECONDS = 181  # three ticks missed
    stale = client.get("/health/escalation")
    assert stale.status_code == 503
    assert stale.json()["last_tick_age_s"] >= 181


def test_health_is_503_while_an_incident_is_overdue(client, settings, t21_key):
    run_escalation_tick()
    from tests.factories import make_incident

    incident = make_incident(t21_key)
    Incident.objects.filter(pk=incident.pk).update(next_escalation_at=timezone.now() - timezone.timedelta(minutes=10))
    response = client.get("/health/escalation")
    assert response.status_code == 503 and response.json()["overdue_incidents"] == 1


def _long_waits(tree: ast.AST) -> list[str]:
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            for keyword in node.keywords:
                if keyword.arg == "eta":
                    found.append(f"line {node.lineno}: eta=")
                if keyword.arg == "countdown" and isinstance(keyword.value, ast.Constant):
                    if isinstance(keyword.value.value, int | float) and keyword.value.value > 60:
                        found.append(f"line {node.lineno}: countdown={keyword.value.value}")
    return found


def test_t24_no_task_is_scheduled_with_an_eta_or_a_long_countdown():
    offenders = {}
    for path in REPO.glob("*/**/*.py"):
        if any(part in {".venv", "node_modules", "tests", "migrations"} for part in path.parts):
            continue
        waits = _long_waits(ast.parse(path.read_text(), filename=str(path)))
        if waits:
            offenders[str(path.relative_to(REPO))] = waits
    assert offenders == {}


def test_t24_retries_are_capped_at_a_minute():
    from escalation.notify import retry_delay

    assert [retry_delay(n) for n in (1, 2, 3, 4, 10)] == [10, 20, 40, 60, 60]


def test_t25_the_watchdog_answers_within_a_second_over_ten_thousand_open_incidents(client, t21_key):
    import time

    later = timezone.now() + timezone.timedelta(hours=1)
    Incident.objects.bulk_create(
        Incident(integration_key=t21_key, summary=f"open {i}", dedup_key=f"open-{i}", next_escalation_at=later)
        for i in range(10_000)
    )
    run_escalation_tick()
    began = time.monotonic()
    response = client.get("/health/escalation")
    took = time.monotonic() - began
    print(f"\nT25 /health/escalation over 10k open incidents: {took * 1000:.0f} ms")
    assert response.status_code == 200 and took < 1.0


def test_an_incident_whose_steps_are_all_spent_is_not_claimed_again(t21_key):
    from tests.factories import make_incident

    incident = make_incident(t21_key)
    Incident.objects.filter(pk=incident.pk).update(
        escalation_snapshot={"policy_id": None, "policy_name": "", "repeat_count": 0,
                             "repeat_delay_seconds": 0, "steps": []},
    )
    assert run_escalation_tick().incidents == 1
    incident.refresh_from_db()
    assert incident.next_escalation_at is None
    assert run_escalation_tick().incidents == 0
