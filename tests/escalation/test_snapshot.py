"""RELIABILITY T22: the policy is frozen onto the incident when escalation starts. Editing
or deleting the policy mid-escalation changes nothing for that incident (OnCall's rule)."""

import pytest

from escalation.models import EscalationPolicy
from incidents.models import TimelineEntry
from tests.escalation.conftest import add_step, responder
from tests.factories import api_client_for, make_incident, make_key, make_user

pytestmark = pytest.mark.django_db


@pytest.fixture
def admin(sre):
    from oncall.models import TeamMembership

    return make_user("sre-admin", team=sre, role=TeamMembership.Role.ADMIN)


def test_the_snapshot_holds_steps_delays_targets_and_repeats(committed, smtp, t21_key, people):
    incident = committed(make_incident, t21_key)
    incident.refresh_from_db()
    snapshot = incident.escalation_snapshot
    assert snapshot["policy_id"] == t21_key.escalation_policy_id
    assert snapshot["repeat_count"] == 1 and snapshot["repeat_delay_seconds"] == 600
    assert [s["delay_seconds"] for s in snapshot["steps"]] == [0, 300, 600]
    assert snapshot["steps"][0]["user_ids"] == [people["alice"].pk]
    assert snapshot["steps"][2]["schedule_ids"] and not snapshot["steps"][2]["user_ids"]


def test_editing_the_policy_mid_escalation_does_not_change_the_incident(
    smtp, clock, tick, committed, sre, t21_key, admin
):
    dave = responder("dave", team=sre)
    incident = committed(make_incident, t21_key)
    assert smtp.take() == ["alice@example.com"]

    response = api_client_for(admin).patch(
        f"/api/v1/escalation-policies/{t21_key.escalation_policy_id}/",
        {"repeat_count": 0, "steps": [{"delay_minutes": 1, "users": [dave.pk]}]},
        format="json",
    )
    assert response.status_code == 200, response.json()

    clock.to(5)
    tick()
    assert smtp.take() == ["bob@example.com"]  # the snapshot's step 2, not dave
    clock.to(15)
    tick()
    assert smtp.take() == ["carol@example.com"]

    # A new incident follows the edited policy.
    committed(make_incident, t21_key)
    clock.to(16)
    tick()
    assert "dave@example.com" in smtp.take()
    assert incident.pk


def test_deleting_the_policy_mid_escalation_never_strands_the_incident(
    smtp, clock, tick, committed, sre, t21_key, admin
):
    incident = committed(make_incident, t21_key)
    assert smtp.take() == ["alice@example.com"]
    client = api_client_for(admin)
    old_policy = t21_key.escalation_policy_id

    # In use by an integration key: refused with the reason, nothing deleted.
    refused = client.delete(f"/api/v1/escalation-policies/{old_policy}/")
    assert refused.status_code == 409
    assert t21_key.name in refused.json()["detail"]

    t21_key.escalation_policy = EscalationPolicy.objects.create(name="replacement", team=sre)
    t21_key.save(update_fields=["escalation_policy"])
    assert client.delete(f"/api/v1/escalation-policies/{old_policy}/").status_code == 204

    incident.refresh_from_db()
    assert incident.escalation_policy_id is None and incident.escalation_snapshot["policy_id"] == old_policy
    clock.to(5)
    tick()
    assert smtp.take() == ["bob@example.com"]
    clock.to(15)
    tick()
    assert smtp.take() == ["carol@example.com"]


def test_a_policy_deleted_before_the_first_step_is_flagged_on_the_timeline(smtp, tick, sre):
    policy = EscalationPolicy.objects.create(name="doomed", team=sre)
    add_step(policy, 0, users=[responder("erin", team=sre)])
    key = make_key(team=sre, policy=policy)[0]
    incident = make_incident(key)  # its task is lost; the policy goes before the tick
    key.escalation_policy = EscalationPolicy.objects.create(name="other", team=sre)
    key.save(update_fields=["escalation_policy"])
    policy.delete()

    tick()
    assert smtp.take() == []
    incident.refresh_from_db()
    assert incident.next_escalation_at is None
    entry = TimelineEntry.objects.get(incident=incident, kind="escalation")
    assert entry.data == {"warning": "no_escalation_steps"}
    assert "policy is missing" in entry.message


def test_a_schedule_deleted_mid_escalation_is_named_on_the_timeline(smtp, clock, tick, committed, t21_key):
    from oncall.models import Schedule

    incident = committed(make_incident, t21_key)
    Schedule.objects.all().delete()
    clock.to(15)
    tick()
    assert smtp.take() == ["alice@example.com", "bob@example.com"]
    step3 = TimelineEntry.objects.get(incident=incident, kind="escalation", data__step=2)
    assert "no longer exists" in step3.message and "paged nobody" in step3.message
