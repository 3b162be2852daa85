"""The incident actions one by one, against real PostgreSQL: each `check_*` refusal, each
`do_*` transition with its timeline entry, the row lock it takes, and what it hands to
Celery after the commit."""

from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from escalation import dispatch
from escalation.models import ContactMethod, EscalationPolicy, EscalationStep, Notification
from incidents import actions
from incidents.models import Alert, Incident, TimelineEntry
from oncall.models import Schedule
from tests.factories import make_incident, make_key, make_team, make_user

pytestmark = pytest.mark.django_db


@pytest.fixture
def sent(monkeypatch):
    """What reached the broker, as (task name, args): the publish itself is replaced, the
    enqueue logic around it (back-off, not-enqueued callback) is the real one."""
    published = []
    monkeypatch.setattr(dispatch, "_publish", lambda name, args, countdown=None: published.append((name, args)))
    return published


@pytest.fixture
def team():
    return make_team("Actions")


@pytest.fixture
def alice(team):
    user = make_user("alice", team=team, first_name="Alice", last_name="Adams")
    ContactMethod.objects.create(user=user, kind=ContactMethod.Kind.EMAIL, address="alice@example.com")
    return user


@pytest.fixture
def key(team, alice):
    policy = EscalationPolicy.objects.create(name="alice first", team=team)
    EscalationStep.objects.create(policy=policy, order=0, delay_minutes=0).users.set([alice])
    return make_key(team=team, policy=policy)[0]


@pytest.fixture
def incident(key):
    return make_incident(key)


def timeline(incident, kind):
    return list(TimelineEntry.objects.filter(incident=incident, kind=kind).order_by("pk"))


def locked_tables(queries) -> list[str]:
    """The tables locked FOR UPDATE, in the order the queries locked them."""
    tables = {Incident._meta.db_table: "incident", Alert._meta.db_table: "alert"}
    return [name for q in queries if "FOR UPDATE" in q["sql"]
            for table, name in tables.items() if f'FROM "{table}"' in q["sql"]]


def sent_page(incident, user) -> Notification:
    method = ContactMethod.objects.get(user=user)
    return Notification.objects.create(
        incident=incident, user=user, contact_method=method, kind=Notification.Kind.PAGE,
        status=Notification.Status.SENT, channel=method.kind, address=method.address,
        dedupe_key=f"test-page:{incident.pk}:{user.pk}", due_at=timezone.now(),
    )


# --- acknowledge ------------------------------------------------------------------------


def test_check_acknowledge_refuses_anything_but_a_triggered_incident(incident):
    assert actions.check_acknowledge(incident) is None
    incident.status = Incident.Status.ACKNOWLEDGED
    assert actions.check_acknowledge(incident) == "already acknowledged"
    incident.status = Incident.Status.RESOLVED
    assert actions.check_acknowledge(incident) == "already resolved"


def test_do_acknowledge_stops_escalation_and_writes_the_timeline_under_the_incident_lock(incident, alice):
    with CaptureQueriesContext(connection) as queries:
        result = actions.do_acknowledge_incident(incident.pk, by=alice, via="api")
    assert locked_tables(queries.captured_queries) == ["incident"]
    assert result.changed and result.message == "acknowledged"
    incident.refresh_from_db()
    assert incident.status == "acknowledged" and incident.next_escalation_at is None
    assert (incident.acknowledged_by, incident.acknowledged_via) == (alice, "api")
    [entry] = timeline(incident, "acknowledged")
    assert entry.message == "Acknowledged by Alice Adams (api)" and entry.actor == alice


def test_do_acknowledge_twice_changes_nothing_the_second_time(incident):
    actions.do_acknowledge_incident(incident.pk, via="alert source")
    again = actions.do_acknowledge_incident(incident.pk, via="api")
    assert (again.changed, again.message) == (False, "already acknowledged")
    assert len(timeline(incident, "acknowledged")) == 1
    assert Incident.objects.get(pk=incident.pk).acknowledged_via == "alert source"


# --- resolve ----------------------------------------------------------------------------


def test_check_resolve_refuses_only_a_resolved_incident(incident):
    assert actions.check_resolve(incident) is None
    incident.status = Incident.Status.ACKNOWLEDGED
    assert actions.check_resolve(incident) is None
    incident.status = Incident.Status.RESOLVED
    assert actions.check_resolve(incident) == "already resolved"


def test_do_resolve_locks_the_alerts_then_the_incident_and_closes_every_alert(incident, alice):
    with CaptureQueriesContext(connection) as queries:
        result = actions.do_resolve_incident(incident.pk, by=alice, via="web")
    assert locked_tables(queries.captured_queries) == ["alert", "incident"]
    assert result.changed and result.message == "resolved"
    incident.refresh_from_db()
    assert incident.status == "resolved" and incident.resolved_by == alice and incident.next_escalation_at is None
    assert not Alert.objects.filter(incident=incident, status=Alert.Status.OPEN).exists()
    [entry] = timeline(incident, "resolved")
    assert entry.message == "Resolved by Alice Adams (web)"
    again = actions.do_resolve_incident(incident.pk, by=alice, via="web")
    assert (again.changed, again.message) == (False, "already resolved")


def test_do_resolve_writes_the_recovery_notes_at_once_and_sends_them_after_the_commit(
    incident, alice, sent, django_capture_on_commit_callbacks
):
    page = sent_page(incident, alice)
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        actions.do_resolve_incident(incident.pk, by=alice, via="web")
    # Written with the resolve: a broker down after the commit cannot lose the note.
    [recovery] = Notification.objects.filter(incident=incident, kind="recovery")
    assert (recovery.user, recovery.contact_method, recovery.status) == (alice, page.contact_method, "pending")
    assert sent == []
    for callback in callbacks:
        callback()
    assert sent == [(dispatch.SEND_NOTIFICATION, (recovery.pk,))]


def test_a_failed_enqueue_of_the_recovery_leaves_it_for_the_next_tick_at_once(
    incident, alice, monkeypatch, django_capture_on_commit_callbacks
):
    sent_page(incident, alice)

    def broker_down(name, args, countdown=None):
        raise ConnectionError("broker down")

    monkeypatch.setattr(dispatch, "_publish", broker_down)
    with django_capture_on_commit_callbacks(execute=True):
        actions.do_resolve_incident(incident.pk, by=alice, via="web")
    recovery = Notification.objects.get(incident=incident, kind="recovery")
    assert recovery.status == "pending" and recovery.enqueued_at is None


def test_do_mark_resolved_expects_the_caller_to_hold_the_lock(incident):
    with CaptureQueriesContext(connection) as queries:
        locked = Incident.objects.select_for_update().get(pk=incident.pk)
        actions.do_mark_resolved(locked, now=timezone.now(), via="alert source")
    assert locked_tables(queries.captured_queries) == ["incident"]  # the caller's own lock only
    incident.refresh_from_db()
    assert (incident.status, incident.resolved_via) == ("resolved", "alert source")
    assert timeline(incident, "resolved")[0].message == "Resolved by alert source"


# --- notes ------------------------------------------------------------------------------


def test_do_add_note_writes_one_timeline_row_and_locks_nothing(incident, alice):
    with CaptureQueriesContext(connection) as queries:
        entry = actions.do_add_note(incident.pk, by=alice, text="looking at it")
    assert locked_tables(queries.captured_queries) == []
    assert (entry.kind, entry.message, entry.actor) == ("note", "looking at it", alice)
    assert Incident.objects.get(pk=incident.pk).status == "triggered"


# --- escalate now -----------------------------------------------------------------------


def test_check_escalate_now_refuses_a_resolved_or_spent_incident(incident):
    assert actions.check_escalate_now(incident) is None
    incident.status = Incident.Status.ACKNOWLEDGED
    assert actions.check_escalate_now(incident) is None
    incident.status = Incident.Status.RESOLVED
    assert actions.check_escalate_now(incident) == "a resolved incident does not escalate"
    incident.status = Incident.Status.TRIGGERED
    incident.escalation_snapshot = {"steps": [{}]}
    incident.escalation_step = 1
    assert actions.check_escalate_now(incident) == "every escalation step has fired already"


def test_do_escalate_now_brings_the_step_forward_and_enqueues_the_engine_after_the_commit(
    incident, alice, sent, django_capture_on_commit_callbacks
):
    Incident.objects.filter(pk=incident.pk).update(next_escalation_at=timezone.now() + timedelta(hours=1))
    with CaptureQueriesContext(connection) as queries, django_capture_on_commit_callbacks(execute=True):
        result = actions.do_escalate_now(incident.pk, by=alice)
        assert sent == []
    assert locked_tables(queries.captured_queries) == ["incident"]
    assert result.changed and result.message == "escalating now"
    assert Incident.objects.get(pk=incident.pk).next_escalation_at <= timezone.now()
    [entry] = timeline(incident, "escalation")
    assert entry.data == {"escalate_now": True, "step": 0}
    assert sent == [(dispatch.ADVANCE_ESCALATION, (incident.pk,))]


def test_do_escalate_now_on_an_acknowledged_incident_triggers_it_again_from_the_next_step(
    incident, alice, sent, django_capture_on_commit_callbacks
):
    actions.do_acknowledge_incident(incident.pk, by=alice, via="web")
    Incident.objects.filter(pk=incident.pk).update(escalation_step=1)
    with django_capture_on_commit_callbacks(execute=True):
        result = actions.do_escalate_now(incident.pk, by=alice)
    incident.refresh_from_db()
    assert result.changed
    assert (incident.status, incident.acknowledged_by, incident.acknowledged_at) == ("triggered", None, None)
    assert incident.escalation_step == 1 and incident.next_escalation_at <= timezone.now()
    [entry] = timeline(incident, "escalation")
    assert entry.message == "Re-opened and escalated by Alice Adams (web)"
    assert sent == [(dispatch.ADVANCE_ESCALATION, (incident.pk,))]


def test_do_escalate_now_refused_writes_and_enqueues_nothing(incident, sent, django_capture_on_commit_callbacks):
    actions.do_resolve_incident(incident.pk, via="api")
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        result = actions.do_escalate_now(incident.pk, by=None)
    assert not result.changed and callbacks == [] and sent == []
    assert timeline(incident, "escalation") == []


# --- reassign ---------------------------------------------------------------------------


def test_check_reassign_refuses_a_resolved_incident_and_needs_exactly_one_target(incident, alice):
    assert actions.check_reassign(incident, user=alice) is None
    with pytest.raises(ValueError):
        actions.check_reassign(incident)
    with pytest.raises(ValueError):
        actions.check_reassign(incident, user=alice, schedule=Schedule(name="x"))
    incident.status = Incident.Status.RESOLVED
    assert actions.check_reassign(incident, user=alice) == "a resolved incident is not reassigned"


def test_do_reassign_pages_the_person_outside_the_policy_and_sends_after_the_commit(
    incident, team, alice, sent, django_capture_on_commit_callbacks
):
    bob = make_user("bob", team=team)
    ContactMethod.objects.create(user=bob, kind=ContactMethod.Kind.EMAIL, address="bob@example.com")
    with CaptureQueriesContext(connection) as queries, django_capture_on_commit_callbacks(execute=True):
        result = actions.do_reassign_incident(incident.pk, by=alice, user=bob)
    assert locked_tables(queries.captured_queries) == ["incident"]
    assert (result.changed, result.message) == (True, "reassigned to bob; paging bob")
    [page] = Notification.objects.filter(incident=incident)
    assert (page.user, page.kind, page.step_index, page.repeat_index, page.status) == (bob, "page", -1, 1, "pending")
    assert page.enqueued_at is not None
    [entry] = timeline(incident, "reassigned")
    assert entry.message == "Reassigned to bob by Alice Adams (web); paging bob"
    assert entry.data["notification_ids"] == [page.pk] and entry.data["paged_user_ids"] == [bob.pk]
    assert sent == [(dispatch.SEND_NOTIFICATION, (page.pk,))]

    # A second reassignment to the same person is a new page, not a deduplicated one.
    actions.do_reassign_incident(incident.pk, by=alice, user=bob)
    assert sorted(Notification.objects.filter(user=bob).values_list("repeat_index", flat=True)) == [1, 2]


def test_do_reassign_stops_the_old_escalation_and_cancels_its_unsent_pages(incident, team, alice, sent):
    bob = make_user("bob", team=team)
    ContactMethod.objects.create(user=bob, kind=ContactMethod.Kind.EMAIL, address="bob@example.com")
    later = Notification.objects.create(
        incident=incident, user=alice, contact_method=alice.contact_methods.get(), kind="page", step_index=0,
        channel="email", address="alice@example.com", due_at=timezone.now() + timedelta(minutes=5),
        dedupe_key=f"page:{incident.pk}:later",
    )
    Incident.objects.filter(pk=incident.pk).update(next_escalation_at=timezone.now() + timedelta(minutes=10))
    actions.do_reassign_incident(incident.pk, by=alice, user=bob)
    incident.refresh_from_db()
    later.refresh_from_db()
    assert incident.next_escalation_at is None
    assert (later.status, later.status_reason) == ("cancelled", "cancelled: the incident was reassigned")
    [page] = Notification.objects.filter(incident=incident, user=bob)
    assert (page.step_index, page.status) == (-1, "pending")
    assert timeline(incident, "reassigned")[0].data["cancelled_policy_pages"] == 1


def test_do_reassign_of_an_acknowledged_incident_triggers_it_for_the_new_assignee(incident, team, alice, sent):
    bob = make_user("bob", team=team)
    ContactMethod.objects.create(user=bob, kind=ContactMethod.Kind.EMAIL, address="bob@example.com")
    actions.do_acknowledge_incident(incident.pk, by=alice, via="web")
    actions.do_reassign_incident(incident.pk, by=alice, user=bob)
    incident.refresh_from_db()
    assert (incident.status, incident.acknowledged_by) == ("triggered", None)


def test_do_reassign_to_a_schedule_with_nobody_on_call_pages_nobody(incident, team, alice, sent):
    empty = Schedule.objects.create(name="Nights", team=team, time_zone="UTC")
    result = actions.do_reassign_incident(incident.pk, by=alice, schedule=empty)
    assert result.message == "reassigned to schedule Nights; nobody paged (nobody is on call for Nights)"
    assert not Notification.objects.filter(incident=incident).exists()
    [entry] = timeline(incident, "reassigned")
    assert entry.data["notes"] == ["nobody is on call for Nights"]


def test_do_reassign_refuses_a_resolved_incident_and_writes_nothing(incident, alice):
    actions.do_resolve_incident(incident.pk, via="api")
    result = actions.do_reassign_incident(incident.pk, by=alice, user=alice)
    assert (result.changed, result.message) == (False, "a resolved incident is not reassigned")
    assert timeline(incident, "reassigned") == []
