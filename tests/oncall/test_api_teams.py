"""`/api/v1/teams/`: members see their teams, superusers create them, team admins manage members."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from rest_framework.test import APIClient

from oncall.models import Team, TeamMembership
from tests.factories import api_client_for, make_team, make_user

pytestmark = pytest.mark.django_db

URL = "/api/v1/teams/"
ADMIN, RESPONDER = TeamMembership.Role.ADMIN, TeamMembership.Role.RESPONDER


@pytest.fixture
def ada(team):
    return make_user("ada", team=team, role=ADMIN)


@pytest.fixture
def rita(team):
    return make_user("rita", team=team, role=RESPONDER)


@pytest.fixture
def admin_api(ada):
    return api_client_for(ada)


def test_anonymous_is_401():
    assert APIClient().get(URL).status_code == 401


def test_list_shows_only_my_teams_with_members_and_roles(admin_api, team, rita):
    make_team("Payments")
    body = admin_api.get(URL).json()
    assert body["count"] == 1
    (row,) = body["results"]
    assert (row["id"], row["name"], row["slug"]) == (team.pk, "SRE", "sre")
    assert {(m["username"], m["role"]) for m in row["members"]} == {("ada", "admin"), ("rita", "responder")}


def test_superuser_lists_every_team(team):
    make_team("Payments")
    root = api_client_for(make_user("root", is_superuser=True))
    assert {row["slug"] for row in root.get(URL).json()["results"]} == {"sre", "payments"}


def test_detail_by_id_or_slug(admin_api, team):
    assert admin_api.get(f"{URL}{team.pk}/").json()["slug"] == "sre"
    assert admin_api.get(f"{URL}sre/").json()["id"] == team.pk


def test_superuser_creates_a_team_with_a_generated_slug(db):
    root = api_client_for(make_user("root", is_superuser=True))
    response = root.post(URL, {"name": "Data Platform"}, format="json")
    assert response.status_code == 201
    assert response.json()["slug"] == "data-platform"
    assert Team.objects.filter(slug="data-platform").exists()


def test_duplicate_slug_is_400(team):
    root = api_client_for(make_user("root", is_superuser=True))
    response = root.post(URL, {"name": "Another SRE", "slug": "sre"}, format="json")
    assert response.status_code == 400 and "slug" in response.json()


def test_team_admin_cannot_create_teams(admin_api):
    assert admin_api.post(URL, {"name": "Shadow IT"}, format="json").status_code == 403
    assert not Team.objects.filter(name="Shadow IT").exists()


def test_team_admin_renames_the_team_and_a_responder_cannot(admin_api, team, rita):
    assert api_client_for(rita).patch(f"{URL}{team.pk}/", {"name": "Ops"}, format="json").status_code == 403
    assert admin_api.patch(f"{URL}{team.pk}/", {"name": "Site Reliability"}, format="json").status_code == 200
    team.refresh_from_db()
    assert team.name == "Site Reliability"


def test_only_superusers_delete_teams(admin_api, team):
    assert admin_api.delete(f"{URL}{team.pk}/").status_code == 403
    root = api_client_for(make_user("root", is_superuser=True))
    assert root.delete(f"{URL}{team.pk}/").status_code == 204
    assert not Team.objects.filter(pk=team.pk).exists()


def test_members_list(admin_api, team, rita):
    members = admin_api.get(f"{URL}{team.pk}/members/").json()
    assert {(m["username"], m["role"]) for m in members} == {("ada", "admin"), ("rita", "responder")}


def test_a_superuser_adds_a_member_by_username_or_id(team):
    root = api_client_for(make_user("root", is_superuser=True))
    bob, carol = make_user("bob"), make_user("carol")
    added = root.post(f"{URL}{team.pk}/members/", {"user": "bob"}, format="json")
    assert added.status_code == 201 and added.json() == {"user_id": bob.pk, "username": "bob", "role": "responder"}
    by_id = root.post(f"{URL}{team.pk}/members/", {"user": str(carol.pk), "role": "admin"}, format="json")
    assert by_id.status_code == 201
    assert TeamMembership.objects.get(team=team, user=carol).role == ADMIN


def test_a_team_admin_cannot_add_a_user_directly(admin_api, team):
    """Issue 12: a team admin invites by email; naming a non-member adds nobody (T45 in test_invitations.py)."""
    bob = make_user("bob")
    for value in ("bob", str(bob.pk)):
        response = admin_api.post(f"{URL}{team.pk}/members/", {"user": value}, format="json")
        assert response.status_code == 400
    assert not TeamMembership.objects.filter(team=team, user=bob).exists()


def test_posting_an_existing_member_changes_the_role(admin_api, team, rita):
    response = admin_api.post(f"{URL}{team.pk}/members/", {"user": "rita", "role": "admin"}, format="json")
    assert response.status_code == 200 and response.json()["role"] == "admin"
    assert TeamMembership.objects.filter(team=team, user=rita).count() == 1


def test_a_promoted_member_can_manage_the_team(admin_api, team, rita):
    admin_api.post(f"{URL}{team.pk}/members/", {"user": "rita", "role": "admin"}, format="json")
    make_user("dave")
    response = api_client_for(rita).post(f"{URL}{team.pk}/members/", {"email": "dave@example.com"}, format="json")
    assert response.status_code == 202


def test_unknown_user_or_role_is_400(admin_api, team):
    assert admin_api.post(f"{URL}{team.pk}/members/", {"user": "ghost"}, format="json").status_code == 400
    make_user("bob")
    assert admin_api.post(f"{URL}{team.pk}/members/", {"user": "bob", "role": "owner"},
                          format="json").status_code == 400
    assert not TeamMembership.objects.filter(team=team, user__username="bob").exists()


def test_team_admin_removes_a_member(admin_api, team, rita):
    assert admin_api.delete(f"{URL}{team.pk}/members/{rita.pk}/").status_code == 204
    assert not TeamMembership.objects.filter(team=team, user=rita).exists()


def test_removing_someone_not_in_the_team_is_404(admin_api, team):
    outsider = make_user("outsider")
    assert admin_api.delete(f"{URL}{team.pk}/members/{outsider.pk}/").status_code == 404


def test_responder_cannot_add_or_remove_members(team, ada, rita):
    responder = api_client_for(rita)
    make_user("bob")
    assert responder.post(f"{URL}{team.pk}/members/", {"user": "bob"}, format="json").status_code == 403
    assert responder.delete(f"{URL}{team.pk}/members/{ada.pk}/").status_code == 403
    assert TeamMembership.objects.filter(team=team).count() == 2


def test_the_last_admin_cannot_leave_or_be_demoted(admin_api, team, ada):
    demote = admin_api.post(f"{URL}{team.pk}/members/", {"user": "ada", "role": "responder"}, format="json")
    assert demote.status_code == 400
    assert admin_api.delete(f"{URL}{team.pk}/members/{ada.pk}/").status_code == 400
    assert TeamMembership.objects.get(team=team, user=ada).role == ADMIN


def test_an_admin_may_leave_when_another_admin_remains(admin_api, team, ada):
    make_user("ben", team=team, role=ADMIN)
    assert admin_api.delete(f"{URL}{team.pk}/members/{ada.pk}/").status_code == 204


def test_list_query_count_does_not_grow_with_teams_or_members(ada, team):
    root = api_client_for(make_user("root", is_superuser=True))

    def queries() -> int:
        with CaptureQueriesContext(connection) as captured:
            assert root.get(URL).status_code == 200
        return len(captured)

    few = queries()
    for n in range(10):
        other = make_team(f"Team number {n}")
        make_user(team=other, role=ADMIN)
        make_user(team=other)
    assert queries() == few <= 4
