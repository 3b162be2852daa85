"""`/api/v1/escalation-policies/` with nested steps, and the user's own contact methods and
notification rules: team admins write, members read, other teams get 404."""

import pytest

from escalation.models import ContactMethod, EscalationPolicy, NotificationRule
from oncall.models import TeamMembership
from tests.escalation.conftest import always_on_call
from tests.factories import api_client_for, make_team, make_user

pytestmark = pytest.mark.django_db


@pytest.fixture
def admin(sre):
    return make_user("sre-admin", team=sre, role=TeamMembership.Role.ADMIN)


@pytest.fixture
def outsider():
    return make_user("dba-admin", team=make_team("DBA"), role=TeamMembership.Role.ADMIN)


def policy_body(people, schedule, **fields):
    body = {
        "name": "Database", "team": "sre-on-call", "repeat_count": 2, "repeat_delay_minutes": 20,
        "steps": [
            {"delay_minutes": 0, "users": [people["alice"].pk]},
            {"delay_minutes": 5, "schedules": [schedule.pk]},
            {"delay_minutes": 10, "users": [people["bob"].pk], "teams": [schedule.team_id]},
        ],
    }
    body.update(fields)
    return body


@pytest.fixture
def schedule(sre, people):
    return always_on_call(people["carol"], team=sre)


def test_a_team_admin_creates_a_policy_with_ordered_steps(admin, people, schedule):
    response = api_client_for(admin).post("/api/v1/escalation-policies/", policy_body(people, schedule), format="json")
    assert response.status_code == 201, response.json()
    data = response.json()
    assert [s["order"] for s in data["steps"]] == [0, 1, 2]
    assert [s["delay_minutes"] for s in data["steps"]] == [0, 5, 10]
    assert data["steps"][1]["schedules"] == [schedule.pk]
    assert data["team"] == "sre-on-call" and data["repeat_count"] == 2 and data["repeat_delay_minutes"] == 20
    policy = EscalationPolicy.objects.get(pk=data["id"])
    assert list(policy.steps.values_list("order", flat=True)) == [0, 1, 2]


def test_updating_steps_replaces_them_in_the_given_order(admin, people, schedule):
    client = api_client_for(admin)
    created = client.post("/api/v1/escalation-policies/", policy_body(people, schedule), format="json").json()
    response = client.patch(f"/api/v1/escalation-policies/{created['id']}/",
                            {"steps": [{"delay_minutes": 3, "users": [people["bob"].pk]}]}, format="json")
    assert response.status_code == 200
    assert [(s["order"], s["users"]) for s in response.json()["steps"]] == [(0, [people["bob"].pk])]


def test_a_responder_reads_but_cannot_write(admin, people, schedule):
    created = api_client_for(admin).post("/api/v1/escalation-policies/", policy_body(people, schedule),
                                         format="json").json()
    responder = api_client_for(people["alice"])
    assert responder.get(f"/api/v1/escalation-policies/{created['id']}/").status_code == 200
    assert responder.post("/api/v1/escalation-policies/", policy_body(people, schedule),
                          format="json").status_code == 403
    assert responder.patch(f"/api/v1/escalation-policies/{created['id']}/", {"name": "x"},
                           format="json").status_code == 403


def test_another_teams_policy_is_a_404(admin, outsider, people, schedule):
    created = api_client_for(admin).post("/api/v1/escalation-policies/", policy_body(people, schedule),
                                         format="json").json()
    client = api_client_for(outsider)
    assert client.get(f"/api/v1/escalation-policies/{created['id']}/").status_code == 404
    assert client.delete(f"/api/v1/escalation-policies/{created['id']}/").status_code == 404
    assert created["id"] not in [p["id"] for p in client.get("/api/v1/escalation-policies/").json()["results"]]


def test_a_step_cannot_name_people_or_schedules_of_another_team(admin, outsider, people, schedule):
    foreign_schedule = always_on_call(outsider, team=outsider.teams.get(), name="DBA")
    client = api_client_for(admin)
    for step in ({"users": [outsider.pk]}, {"schedules": [foreign_schedule.pk]}, {"users": [999999]}, {}):
        body = policy_body(people, schedule, steps=[{"delay_minutes": 0, **step}])
        response = client.post("/api/v1/escalation-policies/", body, format="json")
        assert response.status_code == 400, step
    assert not EscalationPolicy.objects.filter(name="Database").exists()


def test_contact_methods_and_rules_are_the_users_own(people):
    alice, bob = api_client_for(people["alice"]), api_client_for(people["bob"])
    method = alice.post("/api/v1/contact-methods/", {"kind": "email", "address": "pager@example.org"},
                        format="json").json()
    rule = alice.post("/api/v1/notification-rules/", {"contact_method": method["id"], "delay_minutes": 5},
                      format="json")
    assert rule.status_code == 201
    assert NotificationRule.objects.get().user == people["alice"]
    assert bob.get(f"/api/v1/contact-methods/{method['id']}/").status_code == 404
    assert bob.post("/api/v1/notification-rules/", {"contact_method": method["id"], "delay_minutes": 0},
                    format="json").status_code == 400
    assert [m["address"] for m in bob.get("/api/v1/contact-methods/").json()["results"]] == ["bob@example.com"]
    assert ContactMethod.objects.filter(user=people["alice"]).count() == 2


def test_t45_a_policy_pages_only_members_of_its_team(admin, outsider, people, schedule, sre):
    """T45: another team's admin, made visible to this admin through a second shared team,
    is still not a member of the policy's team: refused, at create, at update and when the
    policy moves to a team they are not in."""
    dba = outsider.teams.get()
    TeamMembership.objects.create(team=dba, user=admin, role=TeamMembership.Role.ADMIN)  # now visible to admin
    client = api_client_for(admin)
    body = policy_body(people, schedule, steps=[{"delay_minutes": 0, "users": [outsider.pk]}])
    response = client.post("/api/v1/escalation-policies/", body, format="json")
    assert response.status_code == 400
    assert response.json()["steps"] == [
        f"User {outsider.pk} is not a member of the policy's team; invite them to the team first."]
    created = client.post("/api/v1/escalation-policies/", policy_body(people, schedule), format="json").json()
    patched = client.patch(f"/api/v1/escalation-policies/{created['id']}/",
                           {"steps": [{"delay_minutes": 0, "users": [outsider.pk]}]}, format="json")
    assert patched.status_code == 400
    moved = client.patch(f"/api/v1/escalation-policies/{created['id']}/", {"team": dba.slug}, format="json")
    assert moved.status_code == 400 and "not a member of the policy's team" in str(moved.json())
    policy = EscalationPolicy.objects.get(pk=created["id"])
    assert policy.team == sre
    assert not policy.steps.filter(users=outsider).exists()
