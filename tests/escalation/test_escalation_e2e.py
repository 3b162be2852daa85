"""RELIABILITY T21 (time-controlled end-to-end escalation, GoAlert's TestEscalation style),
T19 (catch-up after the beat was down) and the basic promises of the engine.

Every test ends with 'no other message': the inbox of the real SMTP server holds exactly
the pages expected, nothing more."""

from datetime import timedelta

import pytest
from django.utils import timezone

from escalation.models import Notification
from incidents import actions
from incidents.models import Incident, TimelineEntry
from tests.factories import api_client_for, make_incident

pytestmark = pytest.mark.django_db


def test_t21_pages_each_step_at_its_delay_then_repeats_once_and_stops(
    smtp, clock, tick, committed, t21_key
):
    incident = committed(make_incident, t21_key)
    assert smtp.take() == ["alice@example.com"]  # step 1 at once, no tick needed

    expected = {
        4: [],
        5: ["bob@example.com"],
        14: [],
        15: ["carol@example.com"],
        24: [],
        25: ["alice@example.com"],  # the repeat: 10 minutes after the last step
        30: ["bob@example.com"],
        40: ["carol@example.com"],
        60: [],
        120: [],
    }
    for minute, recipients in expected.items():
        clock.to(minute)
        tick()
        assert smtp.take() == recipients, f"at t+{minute} min"

    incident.refresh_from_db()
    assert incident.next_escalation_at is None
    steps = TimelineEntry.objects.filter(incident=incident, kind="escalation", data__has_key="step")
    assert [(e.data["step"], e.data["repeat"]) for e in steps.order_by("id")] == [
        (0, 0), (1, 0), (2, 0), (0, 1), (1, 1), (2, 1),
    ]
    assert TimelineEntry.objects.filter(incident=incident, kind="notification").count() == 6
    assert smtp.recipients() == [
        "alice@example.com", "bob@example.com", "carol@example.com",
        "alice@example.com", "bob@example.com", "carol@example.com",
    ]


def test_t21_acknowledge_at_minute_seven_stops_every_later_page(smtp, clock, tick, committed, t21_key, people):
    incident = committed(make_incident, t21_key)
    clock.to(5)
    tick()
    assert smtp.take() == ["alice@example.com", "bob@example.com"]

    clock.to(7)
    response = api_client_for(people["bob"]).post(f"/api/v1/incidents/{incident.pk}/acknowledge/")
    assert response.status_code == 200
    for minute in (15, 25, 30, 40, 90):
        clock.to(minute)
        tick()
    assert smtp.take() == []
    incident.refresh_from_db()
    assert incident.status == "acknowledged" and incident.next_escalation_at is None


def test_t19_after_twenty_minutes_of_downtime_each_overdue_step_fires_once_in_order(
    smtp, clock, tick, committed, t21_key
):
    incident = committed(make_incident, t21_key)
    assert smtp.take() == ["alice@example.com"]

    clock.to(20)  # beat was down: steps 2 (due +5) and 3 (due +15) are overdue
    report = tick()
    assert report.steps == 2
    assert smtp.take() == ["bob@example.com", "carol@example.com"]
    late = TimelineEntry.objects.filter(incident=incident, kind="escalation", data__step=1).get()
    assert late.data["late_seconds"] >= 15 * 60 - 5
    assert "late" in late.message

    tick()  # a second tick right after: nothing doubled
    assert smtp.take() == []
    incident.refresh_from_db()
    # The repeat keeps the policy's cadence: 10 minutes after step 3 was due (+15).
    clock.to(24.9)
    tick()
    assert smtp.take() == []
    clock.to(25)
    tick()
    assert smtp.take() == ["alice@example.com"]


def test_a_due_step_is_sent_by_the_tick_when_the_enqueued_task_was_lost(smtp, clock, tick, t21_key):
    # No on-commit callbacks run here: the pipeline's task never reached a worker.
    incident = make_incident(t21_key)
    assert smtp.take() == []
    assert incident.next_escalation_at is not None
    tick()
    assert smtp.take() == ["alice@example.com"]
    tick()
    assert smtp.take() == []


def test_every_member_of_a_team_step_is_paged(smtp, clock, tick, committed, sre, people):
    from escalation.models import EscalationPolicy
    from tests.escalation.conftest import add_step
    from tests.factories import make_key

    policy = EscalationPolicy.objects.create(name="whole team", team=sre)
    add_step(policy, 0, teams=[sre])
    committed(make_incident, make_key(team=sre, policy=policy)[0])
    assert sorted(smtp.take()) == ["alice@example.com", "bob@example.com", "carol@example.com"]


def test_a_person_named_twice_in_one_step_is_paged_once(smtp, tick, committed, sre, people):
    from escalation.models import EscalationPolicy
    from tests.escalation.conftest import add_step, always_on_call
    from tests.factories import make_key

    policy = EscalationPolicy.objects.create(name="overlap", team=sre)
    add_step(policy, 0, users=[people["alice"]], schedules=[always_on_call(people["alice"], team=sre)])
    committed(make_incident, make_key(team=sre, policy=policy)[0])
    assert smtp.take() == ["alice@example.com"]


def test_a_policy_without_steps_pages_nobody_and_says_so_on_the_timeline(smtp, tick, committed, sre):
    from tests.factories import make_key

    incident = committed(make_incident, make_key(team=sre)[0])
    tick()
    assert smtp.take() == []
    incident.refresh_from_db()
    assert incident.next_escalation_at is None
    warning = TimelineEntry.objects.get(incident=incident, kind="escalation")
    assert warning.data == {"warning": "no_escalation_steps"}
    assert "Nobody will be paged" in warning.message


def test_a_user_without_contact_method_is_named_on_the_timeline(smtp, tick, committed, sre, t21_policy):
    from tests.escalation.conftest import add_step
    from tests.factories import make_key, make_user

    silent = make_user("silent", team=sre)
    t21_policy.steps.all().delete()
    add_step(t21_policy, 0, users=[silent])
    incident = committed(make_incident, make_key(team=sre, policy=t21_policy)[0])
    assert smtp.take() == []
    entry = TimelineEntry.objects.get(incident=incident, kind="escalation", data__step=0)
    assert "silent has no enabled contact method" in entry.message


def test_maintenance_hold_skips_the_incident_until_it_is_released(smtp, clock, tick, t21_key):
    incident = make_incident(t21_key)
    Incident.objects.filter(pk=incident.pk).update(escalation_held_reason="maintenance window #1")
    clock.to(30)
    tick()
    assert smtp.take() == []
    Incident.objects.filter(pk=incident.pk).update(escalation_held_reason="")
    tick()
    assert smtp.take()[0] == "alice@example.com"


def test_an_acknowledged_incident_is_never_claimed(smtp, clock, tick, t21_key):
    incident = make_incident(t21_key)
    actions.do_acknowledge_incident(incident.pk, via="test")
    clock.to(60)
    assert tick().steps == 0
    assert smtp.take() == []
    assert not Notification.objects.filter(incident=incident).exists()


def test_t23_a_worker_clock_ten_minutes_fast_changes_no_escalation_timing(smtp, tick, committed, t21_key,
                                                                          time_machine):
    committed(make_incident, t21_key)
    assert smtp.take() == ["alice@example.com"]
    # The worker's own clock runs 10 minutes ahead; the database's does not.
    time_machine.move_to(timezone.now() + timedelta(minutes=10), tick=True)
    tick()
    assert smtp.take() == []  # bob's step is due 5 minutes after the trigger, by the database
