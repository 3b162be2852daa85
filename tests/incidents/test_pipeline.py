"""`apply_event`'s decisions, one by one, against real PostgreSQL: what each event writes,
what it logs, and what its commit starts. The doors' own tests cover HTTP around it."""

from datetime import timedelta

import pytest
from django.utils import timezone

from incidents.models import Alert, Event, Incident, MaintenanceWindow, SuppressionRule, TimelineEntry
from incidents.pipeline import DEDUP_KEY_KEEP, SUMMARY_MAX
from integrations.formats.base import NormalizedEvent
from integrations.formats.heartbeat import HEARTBEAT_DEDUP_KEY
from tests.factories import make_key
from tests.incidents.noise_helpers import closing, ingest, trigger

pytestmark = pytest.mark.django_db

# apply_event alone, in a test transaction (its `atomic` blocks are savepoints). New trigger:
# savepoint, one statement that finds no open alert to count and reads the maintenance window,
# one statement that inserts the incident, its alert and the event-log line, release. Repeat:
# savepoint, the same first statement (it counts the open alert, updates its incident and
# logs the event), release. The door's key lookup is remembered (integrations/key_cache.py):
# tests/reliability/test_query_budget.py pins the door's counts.
NEW_TRIGGER_QUERIES = 4
REPEAT_TRIGGER_QUERIES = 3


def logged(outcome) -> Event:
    """The event-log row of one outcome."""
    return Event.objects.get(pk=outcome.event_id)


def other_event(action: str, dedup_key: str = "x", **fields) -> NormalizedEvent:
    event = NormalizedEvent(action=action, dedup_key=dedup_key, **fields)
    event.raw = {"event_action": action}
    return event


# --- triggers -----------------------------------------------------------------------------------


def test_a_new_trigger_opens_an_incident_with_its_first_step_due_and_starts_escalation_on_commit(
    key, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks() as callbacks:
        outcome = ingest(key, trigger("disk", summary="Disk full"))
    assert outcome.outcome == "created"
    incident = Incident.objects.get(pk=outcome.incident_id)
    assert (incident.status, incident.dedup_key, incident.summary) == ("triggered", "disk", "Disk full")
    assert incident.next_escalation_at is not None and incident.escalation_held_reason == ""
    assert Alert.objects.get(incident=incident).status == "open"
    assert len(callbacks) == 1  # the escalation task
    event = logged(outcome)
    assert (event.action, event.outcome, event.incident_id, event.dedup_key) == ("trigger", "created", incident.pk, "disk")


def test_a_repeat_trigger_updates_the_open_alert_and_starts_nothing(key, django_capture_on_commit_callbacks):
    first = ingest(key, trigger("disk"))
    with django_capture_on_commit_callbacks() as callbacks:
        again = ingest(key, trigger("disk", summary="Disk still full"))
    assert (again.outcome, again.incident_id) == ("updated", first.incident_id)
    incident = Incident.objects.get()
    assert incident.alert_count == 2 and incident.latest["summary"] == "Disk still full"
    assert Alert.objects.get().count == 2
    assert callbacks == []
    assert (logged(again).outcome, logged(again).incident_id) == ("updated", first.incident_id)


def test_a_suppressed_trigger_is_only_logged(key, django_capture_on_commit_callbacks):
    rule = SuppressionRule.objects.create(field="summary", operator="contains", value="Disk")
    with django_capture_on_commit_callbacks() as callbacks:
        outcome = ingest(key, trigger("disk"))
    assert (outcome.outcome, outcome.incident_id) == ("suppressed", None)
    assert not Incident.objects.exists() and not Alert.objects.exists()
    assert callbacks == []
    event = logged(outcome)
    assert event.outcome == "suppressed" and event.suppressed_by_id == rule.pk
    assert f"suppressed by rule #{rule.pk}" in event.reason


def test_a_trigger_in_a_maintenance_window_creates_the_incident_already_held_and_starts_nothing(
    key, django_capture_on_commit_callbacks
):
    now = timezone.now()
    window = MaintenanceWindow.objects.create(
        start=now - timedelta(minutes=5), end=now + timedelta(hours=1), reason="database upgrade", integration_key=key,
    )
    with django_capture_on_commit_callbacks() as callbacks:
        outcome = ingest(key, trigger("disk"))
    assert outcome.outcome == "created"
    incident = Incident.objects.get(pk=outcome.incident_id)
    assert incident.escalation_held_reason == "maintenance: database upgrade"
    assert incident.next_escalation_at is None
    assert callbacks == []  # no escalation task fires for a held incident
    assert TimelineEntry.objects.get(incident=incident, kind="maintenance").data["window_id"] == window.pk
    assert f"maintenance window #{window.pk}" in logged(outcome).reason


def test_a_new_dedup_key_within_a_grouping_window_joins_the_open_incident(team, django_capture_on_commit_callbacks):
    key, _ = make_key(team=team, grouping_type="time_window", grouping_window_seconds=300)
    first_event = trigger("web-1")
    first = ingest(key, first_event)
    assert first_event.group_key == ""  # opening the group is the pipeline's decision, not the event's
    with django_capture_on_commit_callbacks() as callbacks:
        second = ingest(key, trigger("web-2"))
    assert (second.outcome, second.incident_id) == ("grouped", first.incident_id)
    incident = Incident.objects.get()
    assert incident.alert_count == 2 and incident.group_key == "window:{}"
    assert Alert.objects.filter(incident=incident, status="open").count() == 2
    assert callbacks == []
    assert logged(second).reason.startswith(f"grouped into incident #{first.incident_id}")


# --- acknowledge and resolve ------------------------------------------------------------------------


def test_acknowledge_reaches_the_open_alerts_incident(key):
    opened = ingest(key, trigger("disk"))
    outcome = ingest(key, closing("acknowledge", "disk"))
    assert (outcome.outcome, outcome.incident_id) == ("acknowledged", opened.incident_id)
    incident = Incident.objects.get()
    assert incident.status == "acknowledged" and incident.acknowledged_via == "alert source"
    assert incident.next_escalation_at is None
    assert logged(outcome).outcome == "acknowledged"


def test_acknowledge_and_resolve_without_an_open_alert_are_ignored(key):
    for action in ("acknowledge", "resolve"):
        outcome = ingest(key, closing(action, "nothing-open"))
        assert (outcome.outcome, outcome.incident_id, outcome.reason) == ("ignored", None, "no open alert")
        assert logged(outcome).reason == "no open alert"
    assert not Incident.objects.exists()


def test_resolve_closes_the_alert_and_its_incident(key):
    opened = ingest(key, trigger("disk"))
    outcome = ingest(key, closing("resolve", "disk"))
    assert (outcome.outcome, outcome.incident_id) == ("resolved", opened.incident_id)
    incident = Incident.objects.get()
    assert (incident.status, incident.resolved_via) == ("resolved", "alert source")
    assert Alert.objects.get().status == "resolved"
    assert logged(outcome).outcome == "resolved"


# --- heartbeats, tests, ignored and invalid events -----------------------------------------------------


def test_a_beat_records_its_time_and_resolves_the_missed_heartbeat_incident(key):
    opened = ingest(key, trigger(HEARTBEAT_DEDUP_KEY, summary="No heartbeat"))
    outcome = ingest(key, other_event("heartbeat", HEARTBEAT_DEDUP_KEY))
    assert (outcome.outcome, outcome.incident_id, outcome.reason) == ("resolved", opened.incident_id, "heartbeat resumed")
    assert Incident.objects.get().resolved_via == "heartbeat"
    key.refresh_from_db()
    assert key.last_heartbeat_at is not None
    assert (logged(outcome).action, logged(outcome).outcome) == ("heartbeat", "resolved")


def test_a_beat_with_nothing_to_resolve_is_logged_as_a_heartbeat(key):
    outcome = ingest(key, other_event("heartbeat", HEARTBEAT_DEDUP_KEY))
    assert (outcome.outcome, outcome.incident_id) == ("heartbeat", None)
    assert logged(outcome).outcome == "heartbeat"


@pytest.mark.parametrize(
    ("event", "outcome", "reason"),
    [
        (other_event("test"), "test", "test notification; nobody paged"),
        (other_event("ignore", reason="an info event pages nobody"), "ignored", "an info event pages nobody"),
        (other_event("invalid", errors=["'severity' must be one of ..."]), "rejected", "'severity' must be one of ..."),
    ],
    ids=["test", "ignore", "invalid"],
)
def test_events_that_open_nothing_are_only_logged(key, event, outcome, reason, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks() as callbacks:
        result = ingest(key, event)
    assert (result.outcome, result.incident_id, result.reason) == (outcome, None, reason)
    assert not Incident.objects.exists() and callbacks == []
    row = logged(result)
    assert (row.outcome, row.reason, row.incident_id) == (outcome, reason, None)


# --- limits and the hot path's cost ------------------------------------------------------------------


def test_long_summaries_and_dedup_keys_are_fitted_before_anything_is_written(key):
    long_key = "k" * 300
    outcome = ingest(key, trigger(long_key, summary="s" * (SUMMARY_MAX + 50)))
    incident = Incident.objects.get()
    assert len(incident.summary) == SUMMARY_MAX
    assert incident.dedup_key == outcome.dedup_key == logged(outcome).dedup_key
    assert incident.dedup_key.startswith("k" * DEDUP_KEY_KEEP + "~") and len(incident.dedup_key) <= 255
    assert ingest(key, closing("resolve", long_key)).outcome == "resolved"  # the same fitted key


def test_a_new_trigger_costs_a_fixed_number_of_queries(key, django_assert_num_queries):
    ingest(key, trigger("warm-up"))  # the suppression rules are read once, then cached
    with django_assert_num_queries(NEW_TRIGGER_QUERIES):
        assert ingest(key, trigger("fresh")).outcome == "created"


def test_a_repeat_trigger_costs_a_fixed_number_of_queries(key, django_assert_num_queries):
    ingest(key, trigger("repeat"))
    with django_assert_num_queries(REPEAT_TRIGGER_QUERIES):
        assert ingest(key, trigger("repeat")).outcome == "updated"
