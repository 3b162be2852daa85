from datetime import timedelta

import pytest
from django.utils import timezone

from config.periodic import PERIODIC_TASKS, sync_periodic_tasks
from incidents import actions
from incidents.models import Incident
from integrations.formats.heartbeat import HEARTBEAT_DEDUP_KEY
from integrations.heartbeat import check_heartbeats
from integrations.models import IntegrationKey
from integrations.tasks import check_heartbeats_task

pytestmark = pytest.mark.django_db


@pytest.fixture
def watched(key):
    """A key that expects a beat every 5 minutes, with 1 minute of grace, last beat 10 min ago."""
    key.heartbeat_interval_seconds, key.heartbeat_grace_seconds = 300, 60
    key.last_heartbeat_at = timezone.now() - timedelta(minutes=10)
    key.save()
    return key


def test_a_silent_key_gets_one_incident(watched):
    [outcome] = check_heartbeats()
    assert outcome.outcome == "created"
    incident = Incident.objects.get()
    assert incident.dedup_key == HEARTBEAT_DEDUP_KEY
    assert incident.summary.startswith(f"No heartbeat from {watched.name} for ")
    assert incident.summary.endswith(" s")
    assert (incident.severity, incident.team) == ("critical", watched.team)


def test_the_check_says_it_at_most_once_per_silence(watched):
    check_heartbeats()
    assert check_heartbeats() == []
    assert check_heartbeats(timezone.now() + timedelta(hours=1)) == []
    assert Incident.objects.get().alert_count == 1


def test_no_new_incident_after_a_person_resolves_it_while_still_silent(watched):
    [outcome] = check_heartbeats()
    actions.do_resolve_incident(outcome.incident_id, via="web")
    assert check_heartbeats() == []


def test_a_new_silence_after_beats_resume_is_a_new_incident(watched, api, raw_key):
    [first] = check_heartbeats()
    api.get(f"/api/heartbeat/{raw_key}")
    [second] = check_heartbeats(timezone.now() + timedelta(minutes=7))
    assert second.incident_id != first.incident_id
    assert Incident.objects.get(pk=second.incident_id).status == "triggered"


def test_within_interval_and_grace_nothing_happens(watched):
    watched.last_heartbeat_at = timezone.now() - timedelta(seconds=350)
    watched.save()
    assert check_heartbeats() == []


def test_a_key_that_never_beat_counts_from_its_creation(watched):
    IntegrationKey.objects.filter(pk=watched.pk).update(
        last_heartbeat_at=None, created_at=timezone.now() - timedelta(hours=1)
    )
    assert [o.outcome for o in check_heartbeats()] == ["created"]


def test_keys_without_interval_or_revoked_are_not_checked(watched, team):
    from tests.factories import make_key

    make_key(team=team, last_heartbeat_at=timezone.now() - timedelta(days=1))
    watched.revoke()
    assert check_heartbeats() == []


def test_the_task_runs_the_check(watched):
    check_heartbeats_task()
    assert Incident.objects.filter(dedup_key=HEARTBEAT_DEDUP_KEY).count() == 1


def test_the_check_is_a_periodic_task_every_minute():
    assert PERIODIC_TASKS["check-heartbeats"][:2] == ("integrations.tasks.check_heartbeats_task", 60)
    sync_periodic_tasks()
    from django_celery_beat.models import PeriodicTask

    task = PeriodicTask.objects.get(name="check-heartbeats")
    assert (task.task, task.interval.every, task.enabled) == ("integrations.tasks.check_heartbeats_task", 60, True)
