"""Maintenance windows (issue 5): incidents open, nobody is paged; when the window ends, the
incidents still open start escalating."""

from datetime import timedelta

import pytest
import time_machine
from django.core.exceptions import ValidationError
from django.utils import timezone

from incidents import actions
from incidents.models import Event, Incident, MaintenanceWindow, TimelineEntry
from incidents.noise import maintenance
from tests.factories import make_key, make_team
from tests.incidents.noise_helpers import closing, ingest, trigger

pytestmark = pytest.mark.django_db


def window(minutes_left=60, started_minutes_ago=5, reason="database upgrade", **scope):
    now = timezone.now()
    return MaintenanceWindow.objects.create(
        start=now - timedelta(minutes=started_minutes_ago), end=now + timedelta(minutes=minutes_left),
        reason=reason, **scope,
    )


def test_a_trigger_in_a_window_opens_the_incident_but_holds_its_escalation(key):
    active = window(integration_key=key)
    outcome = ingest(key, trigger())
    assert outcome.outcome == "created"
    incident = Incident.objects.get(pk=outcome.incident_id)
    assert incident.status == "triggered"
    assert incident.escalation_held_reason == "maintenance: database upgrade"
    assert incident.next_escalation_at is None  # nothing is due: the tick never pages it
    reason = Event.objects.get().reason
    assert f"maintenance window #{active.pk}" in reason and "nobody paged (database upgrade)" in reason
    entry = TimelineEntry.objects.get(incident=incident, kind="maintenance")
    assert "nobody is paged until it ends" in entry.message and entry.data["window_id"] == active.pk


@pytest.mark.parametrize("scope", ["team", "everything"])
def test_team_and_everything_windows_cover_the_key(key, team, scope):
    window(**({"team": team} if scope == "team" else {}))
    incident = Incident.objects.get(pk=ingest(key, trigger()).incident_id)
    assert incident.escalation_held_reason == "maintenance: database upgrade"


def test_windows_of_other_keys_and_teams_do_not_apply(key, team):
    other_team = make_team("Payments")
    other_key, _ = make_key(team=other_team)
    window(integration_key=other_key)
    window(team=other_team)
    incident = Incident.objects.get(pk=ingest(key, trigger()).incident_id)
    assert incident.escalation_held_reason == "" and incident.next_escalation_at is not None


def test_past_and_future_windows_do_not_apply(key):
    window(minutes_left=-1, started_minutes_ago=60)
    window(minutes_left=120, started_minutes_ago=-60)
    incident = Incident.objects.get(pk=ingest(key, trigger()).incident_id)
    assert incident.escalation_held_reason == ""


def test_acknowledge_and_resolve_reach_a_held_incident(key):
    window(integration_key=key)
    incident_id = ingest(key, trigger("a")).incident_id
    assert ingest(key, closing("acknowledge", "a")).outcome == "acknowledged"
    assert ingest(key, closing("resolve", "a")).outcome == "resolved"
    assert Incident.objects.get(pk=incident_id).status == "resolved"


def test_repeat_triggers_in_a_window_update_as_usual(key):
    window(integration_key=key)
    first = ingest(key, trigger("a"))
    assert ingest(key, trigger("a")).incident_id == first.incident_id
    assert Incident.objects.get().alert_count == 2


def test_when_the_window_ends_held_incidents_start_escalating(key, django_capture_on_commit_callbacks):
    active = window(integration_key=key, minutes_left=30)
    incident_id = ingest(key, trigger()).incident_id
    assert maintenance.release_maintenance_holds() == 0  # still in the window
    after = active.end + timedelta(seconds=1)
    with time_machine.travel(after, tick=False):
        with django_capture_on_commit_callbacks() as callbacks:
            assert maintenance.release_maintenance_holds() == 1
    incident = Incident.objects.get(pk=incident_id)
    assert incident.escalation_held_reason == ""
    assert incident.next_escalation_at == after
    assert len(callbacks) == 1  # the escalation task, after the commit
    assert TimelineEntry.objects.filter(incident=incident, kind="maintenance").last().message == (
        "Maintenance window ended: escalation starts now."
    )


def test_an_acknowledged_held_incident_is_released_without_escalating(key):
    active = window(integration_key=key)
    incident_id = ingest(key, trigger("a")).incident_id
    actions.do_acknowledge_incident(incident_id, via="api")
    with time_machine.travel(active.end + timedelta(seconds=1), tick=False):
        assert maintenance.release_maintenance_holds() == 1
    incident = Incident.objects.get(pk=incident_id)
    assert incident.escalation_held_reason == "" and incident.next_escalation_at is None


def test_a_resolved_held_incident_is_left_alone(key):
    active = window(integration_key=key)
    incident_id = ingest(key, trigger("a")).incident_id
    ingest(key, closing("resolve", "a"))
    with time_machine.travel(active.end + timedelta(seconds=1), tick=False):
        assert maintenance.release_maintenance_holds() == 0
    assert Incident.objects.get(pk=incident_id).next_escalation_at is None


def test_a_following_window_that_still_covers_the_incident_keeps_holding_it(key, team):
    first = window(integration_key=key, minutes_left=10)
    window(team=team, minutes_left=120)  # the team's longer window continues the hold
    ingest(key, trigger())
    with time_machine.travel(first.end + timedelta(seconds=1), tick=False):
        assert maintenance.release_maintenance_holds() == 0
    assert Incident.objects.get().escalation_held_reason.startswith("maintenance: ")


def test_a_window_must_end_after_it_starts(key):
    now = timezone.now()
    with pytest.raises(ValidationError) as refused:
        MaintenanceWindow(start=now, end=now, reason="x").full_clean()
    assert "end" in refused.value.message_dict


def test_the_release_task_is_registered():
    from django_celery_beat.models import PeriodicTask

    task = PeriodicTask.objects.get(name="release-maintenance-holds")
    assert task.task == "incidents.noise.tasks.release_maintenance_holds_task"
    assert task.enabled and task.interval.every == 60


# --- with the escalation engine ------------------------------------------------------------------


def test_the_engine_pages_nobody_during_the_window_and_once_after_it(team, django_capture_on_commit_callbacks):
    from escalation.engine import run_escalation_tick
    from escalation.models import Notification
    from tests.incidents.noise_helpers import paged_key, tasks_inline

    key = paged_key(team)
    active = window(integration_key=key)
    with tasks_inline(), django_capture_on_commit_callbacks(execute=True):
        incident_id = ingest(key, trigger()).incident_id  # the pipeline's advance task runs too
        run_escalation_tick()
    assert not Notification.objects.filter(incident_id=incident_id).exists()

    MaintenanceWindow.objects.filter(pk=active.pk).update(end=timezone.now() - timedelta(seconds=1))
    with tasks_inline(), django_capture_on_commit_callbacks(execute=True):
        assert maintenance.release_maintenance_holds() == 1
        run_escalation_tick()
    pages = Notification.objects.filter(incident_id=incident_id, kind="page")
    assert pages.count() == 1 and pages.get().address == "oncall@example.com"
