"""T34: a user of team A never reaches team B's incidents, keys or team: 404 (not 403), no
rows through any list filter, and counts that do not leak. Superusers see everything."""

import pytest

from incidents.models import Incident, TimelineEntry
from oncall.models import TeamMembership
from tests.factories import api_client_for, make_incident, make_key, make_team, make_user

pytestmark = pytest.mark.django_db

SHARED_DEDUP_KEY = "disk-full-srv01"


@pytest.fixture
def world():
    team_a, team_b = make_team("Alpha"), make_team("Bravo")
    key_a, _ = make_key(team=team_a)
    key_b, _ = make_key(team=team_b)
    return {
        "alice": make_user("alice", team=team_a, role=TeamMembership.Role.ADMIN),
        "bob": make_user("bob", team=team_b, role=TeamMembership.Role.ADMIN),
        "team_b": team_b,
        "key_b": key_b,
        # Both teams have an incident with the same dedup key, so a filter cannot tell them apart.
        "incident_a": make_incident(key_a, dedup_key=SHARED_DEDUP_KEY),
        "incident_b": make_incident(key_b, dedup_key=SHARED_DEDUP_KEY),
    }


@pytest.fixture
def alice(world):
    return api_client_for(world["alice"])


def test_get_of_another_teams_incident_is_404(world, alice):
    assert alice.get(f"/api/v1/incidents/{world['incident_b'].pk}/").status_code == 404


@pytest.mark.parametrize("action", ["acknowledge", "resolve", "notes"])
def test_actions_on_another_teams_incident_are_404_and_change_nothing(world, alice, action):
    incident = world["incident_b"]
    response = alice.post(f"/api/v1/incidents/{incident.pk}/{action}/", {"text": "mine now"}, format="json")
    assert response.status_code == 404
    incident.refresh_from_db()
    assert incident.status == Incident.Status.TRIGGERED
    assert not TimelineEntry.objects.filter(incident=incident, actor=world["alice"]).exists()


def test_404_for_another_team_matches_404_for_a_missing_incident(world, alice):
    other = alice.get(f"/api/v1/incidents/{world['incident_b'].pk}/")
    missing = alice.get("/api/v1/incidents/987654321/")
    assert other.status_code == missing.status_code == 404
    assert other.json() == missing.json()


@pytest.mark.parametrize(
    "query",
    ["team=bravo", "integration_key={prefix}", "integration_key={key_id}", f"dedup_key={SHARED_DEDUP_KEY}", ""],
)
def test_list_filters_never_return_another_teams_rows(world, alice, query):
    query = query.format(prefix=world["key_b"].key_prefix, key_id=world["key_b"].pk)
    body = alice.get(f"/api/v1/incidents/?{query}").json()
    returned = {row["id"] for row in body["results"]}
    assert world["incident_b"].pk not in returned
    # The count is of visible rows only: it does not reveal that B's incident exists.
    assert body["count"] == len(returned) <= 1


def test_superuser_sees_every_team(world):
    root = make_user("root", is_superuser=True, is_staff=True)
    client = api_client_for(root)
    body = client.get(f"/api/v1/incidents/?dedup_key={SHARED_DEDUP_KEY}").json()
    assert body["count"] == 2
    assert client.get(f"/api/v1/incidents/{world['incident_b'].pk}/").status_code == 200


def test_user_in_no_team_sees_nothing(world):
    loner = api_client_for(make_user("loner"))
    assert loner.get("/api/v1/incidents/").json()["count"] == 0
    assert loner.get("/api/v1/integration-keys/").json()["count"] == 0
    assert loner.get("/api/v1/teams/").json()["count"] == 0


@pytest.mark.parametrize("path", ["", "revoke/", "rotate/"])
def test_another_teams_key_is_404(world, alice, path):
    key = world["key_b"]
    response = alice.get(f"/api/v1/integration-keys/{key.pk}/") if not path else alice.post(
        f"/api/v1/integration-keys/{key.pk}/{path}"
    )
    assert response.status_code == 404
    key.refresh_from_db()
    assert key.is_active and not key.rotations.exists()


def test_key_list_hides_another_teams_keys(world, alice):
    body = alice.get("/api/v1/integration-keys/").json()
    assert world["key_b"].pk not in {row["id"] for row in body["results"]}
    assert body["count"] == 1


def test_cannot_create_a_key_for_another_team(world, alice):
    response = alice.post(
        "/api/v1/integration-keys/",
        {"name": "sneaky", "escalation_policy": world["key_b"].escalation_policy_id, "team": "bravo"},
        format="json",
    )
    assert response.status_code == 400
    assert world["team_b"].integration_keys.count() == 1


def test_another_team_is_404_and_its_members_cannot_be_changed(world, alice):
    team_b = world["team_b"]
    assert alice.get(f"/api/v1/teams/{team_b.pk}/").status_code == 404
    assert alice.get("/api/v1/teams/bravo/members/").status_code == 404
    assert alice.post(f"/api/v1/teams/{team_b.pk}/members/", {"user": "alice", "role": "admin"},
                      format="json").status_code == 404
    assert alice.delete(f"/api/v1/teams/{team_b.pk}/members/{world['bob'].pk}/").status_code == 404
    assert not team_b.memberships.filter(user=world["alice"]).exists()
    assert team_b.memberships.filter(user=world["bob"]).exists()
