"""`/api/v1/integration-keys/`: list, create (raw key once), revoke, rotate, team admins only."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from rest_framework.test import APIClient

from integrations import keys
from integrations.models import IntegrationKey
from oncall.models import TeamMembership
from tests.factories import api_client_for, make_key, make_policy, make_team, make_user

pytestmark = pytest.mark.django_db

URL = "/api/v1/integration-keys/"


@pytest.fixture(autouse=True)
def loopback_exempt_from_rate_limit(settings):
    settings.INBOUND_RATE_LIMIT_EXEMPT = ["127.0.0.0/8"]


@pytest.fixture
def admin_user(team):
    return make_user("ada", team=team, role=TeamMembership.Role.ADMIN)


@pytest.fixture
def admin_api(admin_user):
    return api_client_for(admin_user)


@pytest.fixture
def policy(team):
    return make_policy("SRE primary", team=team)


def trigger(raw_key):
    return {"routing_key": raw_key, "event_action": "trigger",
            "payload": {"summary": "x", "severity": "info", "source": "t"}}


def test_anonymous_is_401():
    assert APIClient().get(URL).status_code == 401


def test_list_shows_the_teams_keys_with_prefix_only(admin_api, key, raw_key):
    body = admin_api.get(URL).json()
    assert body["count"] == 1
    row = body["results"][0]
    assert row["id"] == key.pk and row["key_prefix"] == raw_key[:8]
    assert row["team"] == "sre" and row["escalation_policy"] == key.escalation_policy_id
    assert row["is_active"] is True and row["revoked_at"] is None
    assert "key" not in row and "key_digest" not in row


def test_responders_see_keys_too(team, key):
    assert api_client_for(make_user(team=team)).get(URL).json()["count"] == 1


def test_superuser_lists_every_key_including_teamless(key):
    teamless, _ = make_key(team=None)
    other, _ = make_key(team=make_team("Payments"))
    root = api_client_for(make_user("root", is_superuser=True))
    assert {row["id"] for row in root.get(URL).json()["results"]} == {key.pk, teamless.pk, other.pk}


def test_team_admin_creates_a_key_and_gets_the_raw_key_once(admin_api, admin_user, policy, api):
    response = admin_api.post(URL, {
        "name": "Alertmanager prod", "escalation_policy": policy.pk, "team": "sre",
        "grouping_type": "time_window", "grouping_window_seconds": 120, "grouping_labels": ["service"],
    }, format="json")
    assert response.status_code == 201, response.json()
    body = response.json()
    raw = body["key"]
    key = IntegrationKey.objects.get(pk=body["id"])
    assert keys.digest(raw) == key.key_digest and body["key_prefix"] == raw[:8]
    assert key.created_by == admin_user and key.team.slug == "sre"
    assert (key.grouping_type, key.grouping_window_seconds, key.grouping_labels) == ("time_window", 120, ["service"])
    assert api.post("/v2/enqueue", trigger(raw), format="json").status_code == 202
    assert raw not in admin_api.get(f"{URL}{key.pk}/").content.decode()


def test_team_may_be_given_by_id(admin_api, team, policy):
    response = admin_api.post(URL, {"name": "by id", "escalation_policy": policy.pk, "team": team.pk}, format="json")
    assert response.status_code == 201 and response.json()["team"] == "sre"


def test_a_shared_policy_may_be_used(admin_api):
    shared = make_policy("Company-wide", team=None)
    response = admin_api.post(URL, {"name": "k", "escalation_policy": shared.pk, "team": "sre"}, format="json")
    assert response.status_code == 201


def test_responder_cannot_create(team, policy):
    responder = api_client_for(make_user(team=team))
    response = responder.post(URL, {"name": "k", "escalation_policy": policy.pk, "team": "sre"}, format="json")
    assert response.status_code == 403
    assert not IntegrationKey.objects.exists()


def test_non_superuser_must_name_a_team(admin_api, policy):
    shared = make_policy("shared", team=None)
    response = admin_api.post(URL, {"name": "k", "escalation_policy": shared.pk}, format="json")
    assert response.status_code == 400 and "team" in response.json()


def test_superuser_may_create_a_teamless_key(policy):
    shared = make_policy("shared", team=None)
    root = api_client_for(make_user("root", is_superuser=True))
    response = root.post(URL, {"name": "k", "escalation_policy": shared.pk}, format="json")
    assert response.status_code == 201 and response.json()["team"] is None


def test_policy_of_another_team_is_400(admin_api):
    foreign = make_policy("theirs", team=make_team("Payments"))
    response = admin_api.post(URL, {"name": "k", "escalation_policy": foreign.pk, "team": "sre"}, format="json")
    assert response.status_code == 400 and "escalation_policy" in response.json()
    assert not IntegrationKey.objects.exists()


def test_missing_fields_are_named(admin_api):
    response = admin_api.post(URL, {}, format="json")
    assert response.status_code == 400
    assert {"name", "escalation_policy"} <= set(response.json())


def test_grouping_labels_must_be_a_list_of_names(admin_api, policy):
    response = admin_api.post(URL, {"name": "k", "escalation_policy": policy.pk, "team": "sre",
                                    "grouping_labels": {"a": 1}}, format="json")
    assert response.status_code == 400 and "grouping_labels" in response.json()


def test_revoke_stops_the_key_and_is_idempotent(admin_api, key, raw_key, api):
    response = admin_api.post(f"{URL}{key.pk}/revoke/")
    assert response.status_code == 200
    assert response.json()["revoked_at"] is not None and response.json()["is_active"] is False
    assert api.post("/v2/enqueue", trigger(raw_key), format="json").status_code == 400
    first_revoked_at = response.json()["revoked_at"]
    again = admin_api.post(f"{URL}{key.pk}/revoke/")
    assert again.status_code == 200 and again.json()["revoked_at"] == first_revoked_at


def test_rotate_returns_the_new_raw_key_once_with_the_same_settings(admin_api, team, api):
    key, raw_key = make_key(team=team, grouping_type="time_window", grouping_window_seconds=90)
    response = admin_api.post(f"{URL}{key.pk}/rotate/")
    assert response.status_code == 201
    body = response.json()
    new_key = IntegrationKey.objects.get(pk=body["id"])
    assert keys.digest(body["key"]) == new_key.key_digest
    assert body["rotated_from"] == key.pk
    assert (new_key.escalation_policy, new_key.team, new_key.grouping_type, new_key.grouping_window_seconds) == (
        key.escalation_policy, key.team, "time_window", 90)
    assert api.post("/v2/enqueue", trigger(raw_key), format="json").status_code == 202
    assert api.post("/v2/enqueue", trigger(body["key"]), format="json").status_code == 202
    assert body["key"] not in admin_api.get(URL).content.decode()


def test_a_revoked_key_cannot_be_rotated(admin_api, key):
    key.revoke()
    assert admin_api.post(f"{URL}{key.pk}/rotate/").status_code == 400
    assert not key.rotations.exists()


def test_state_filter(admin_api, team, key):
    gone, _ = make_key(team=team)
    gone.revoke()
    assert [r["id"] for r in admin_api.get(f"{URL}?state=active").json()["results"]] == [key.pk]
    assert [r["id"] for r in admin_api.get(f"{URL}?state=revoked").json()["results"]] == [gone.pk]


def test_team_admin_renames_a_key_but_cannot_move_it(admin_api, key):
    make_team("Payments")
    response = admin_api.patch(f"{URL}{key.pk}/", {"name": "renamed", "team": "payments"}, format="json")
    assert response.status_code == 200
    key.refresh_from_db()
    assert key.name == "renamed" and key.team.slug == "sre"


def test_responder_cannot_edit(team, key):
    responder = api_client_for(make_user(team=team))
    assert responder.patch(f"{URL}{key.pk}/", {"name": "mine"}, format="json").status_code == 403
    key.refresh_from_db()
    assert key.name != "mine"


def test_keys_cannot_be_deleted_through_the_api(admin_api, key):
    # Revocation keeps the history (events, incidents) attached; deletion is not offered.
    assert admin_api.delete(f"{URL}{key.pk}/").status_code == 405
    assert IntegrationKey.objects.filter(pk=key.pk).exists()


def test_list_query_count_does_not_grow_with_keys(admin_api, team, key):
    def queries() -> int:
        with CaptureQueriesContext(connection) as captured:
            assert admin_api.get(URL).status_code == 200
        return len(captured)

    few = queries()
    for _ in range(15):
        make_key(team=team, policy=make_policy(team=team))
    assert queries() == few <= 3
