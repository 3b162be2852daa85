"""Retention: `cleanup_old_inbound_events` (the daily beat task and the command) deletes
resolved incidents older than INBOUND_RETENTION_DAYS with everything that hangs off them,
and stray events by the same age rule; it never touches an open incident, however old."""

from datetime import timedelta
from io import StringIO

import pytest
from django.core.management import call_command
from django.utils import timezone

from escalation.models import Notification
from incidents import actions
from incidents.cleanup import cleanup_old_inbound_events
from incidents.models import Alert, ChangeEvent, Event, Incident, TimelineEntry
from incidents.tasks import cleanup_old_inbound_events as cleanup_task

# The escalation tests' fixtures: incidents paged and resolved through the real engine and
# a local SMTP server, so old incidents have notifications to delete.
from tests.escalation.conftest import (  # noqa: F401
    committed,
    empty_redis,
    fast_password_hashing,
    people,
    smtp,
    sre,
    t21_key,
    t21_policy,
    tasks_inline,
)
from tests.factories import make_incident

pytestmark = pytest.mark.django_db


def aged(incident: Incident, days: int) -> Incident:
    """Move an incident and its rows `days` into the past."""
    incident.refresh_from_db()
    then = timezone.now() - timedelta(days=days)
    fields = {"first_seen_at": then, "last_seen_at": then}
    if incident.status == "resolved":
        fields["resolved_at"] = then
    Incident.objects.filter(pk=incident.pk).update(**fields)
    Event.objects.filter(incident=incident).update(received_at=then)
    return incident


@pytest.fixture
def history(committed, smtp, t21_key, people):  # noqa: F811 (the imported fixtures)
    """Two old resolved incidents, a recent resolved one, and old open ones."""
    old = []
    for _ in range(2):
        incident = committed(make_incident, t21_key)
        committed(actions.do_resolve_incident, incident.pk, by=people["alice"], via="test")
        old.append(aged(incident, 100))
    recent = committed(make_incident, t21_key)
    committed(actions.do_resolve_incident, recent.pk, by=people["alice"], via="test")
    aged(recent, 30)
    old_triggered = aged(make_incident(t21_key), 400)
    old_acked = make_incident(t21_key)
    actions.do_acknowledge_incident(old_acked.pk, via="test")
    aged(old_acked, 400)
    long_ago = timezone.now() - timedelta(days=120)
    stray = Event.objects.create(format="events_v2", action="acknowledge", outcome="ignored", received_at=long_ago)
    fresh_stray = Event.objects.create(format="events_v2", action="resolve", outcome="ignored")
    change = ChangeEvent.objects.create(summary="deploy 1.2", received_at=long_ago)
    return {"old": old, "recent": recent, "open": [old_triggered, old_acked], "stray": stray,
            "fresh_stray": fresh_stray, "change": change}


def test_dry_run_prints_the_counts_and_deletes_nothing(history):
    before = {m: m.objects.count() for m in (Incident, Alert, Event, TimelineEntry, Notification, ChangeEvent)}
    out = StringIO()
    call_command("cleanup_old_inbound_events", "--dry-run", stdout=out)
    text = out.getvalue()
    old_ids = [i.pk for i in history["old"]]
    assert "Would delete 2 resolved incidents" in text
    assert f"Would delete {Alert.objects.filter(incident_id__in=old_ids).count()} alerts" in text
    assert f"Would delete {Event.objects.filter(incident_id__in=old_ids).count()} events of those incidents" in text
    assert f"Would delete {Notification.objects.filter(incident_id__in=old_ids).count()} notifications" in text
    assert "Would delete 1 events that never made an incident" in text
    assert "Would delete 1 change events" in text
    assert before == {m: m.objects.count() for m in before}


def test_cleanup_deletes_old_resolved_incidents_with_their_rows_and_keeps_the_rest(history):
    old_ids = [i.pk for i in history["old"]]
    notifications = Notification.objects.filter(incident_id__in=old_ids).count()
    assert notifications == 4  # a page and a recovery each

    report = cleanup_old_inbound_events(batch_size=1)
    assert (report.incidents, report.notifications, report.orphan_events, report.change_events) == (2, 4, 1, 1)
    assert report.batches >= 4  # bounded batches: one incident per transaction here

    assert not Incident.objects.filter(pk__in=old_ids).exists()
    for model in (Alert, Event, TimelineEntry, Notification):
        assert not model.objects.filter(incident_id__in=old_ids).exists()
    kept = set(Incident.objects.values_list("pk", flat=True))
    assert kept == {history["recent"].pk, *(i.pk for i in history["open"])}
    assert not Event.objects.filter(pk=history["stray"].pk).exists()
    assert Event.objects.filter(pk=history["fresh_stray"].pk).exists()
    assert not ChangeEvent.objects.exists()


def test_open_incidents_are_never_deleted_however_old(history, settings):
    settings.INBOUND_RETENTION_DAYS = 1
    cleanup_old_inbound_events()
    assert set(Incident.objects.values_list("status", flat=True)) == {"triggered", "acknowledged"}


def test_the_daily_task_runs_the_same_cleanup(history):
    result = cleanup_task()
    assert result["incidents"] == 2 and result["dry_run"] is False
    assert cleanup_task()["incidents"] == 0  # nothing left to do


def test_the_command_refuses_a_zero_batch():
    from django.core.management.base import CommandError

    with pytest.raises(CommandError):
        call_command("cleanup_old_inbound_events", "--batch-size", "0")
