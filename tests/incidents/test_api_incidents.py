"""`/api/v1/incidents/`: every clause of API.md's REST table for incidents."""

import io
import re

import pytest
from django.core.management import call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext
from rest_framework.test import APIClient

from incidents.models import Alert, Incident, TimelineEntry
from oncall.models import TeamMembership
from tests.factories import api_client_for, make_incident, make_key, make_team, make_user

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def loopback_exempt_from_rate_limit(settings):
    # These tests are about the REST API; the door's limit has its own tests.
    settings.INBOUND_RATE_LIMIT_EXEMPT = ["127.0.0.0/8"]


@pytest.fixture
def responder(team):
    return make_user("rita", team=team)


@pytest.fixture
def client(responder):
    return api_client_for(responder)


def ids(response):
    return [row["id"] for row in response.json()["results"]]


def test_list_without_credentials_is_401():
    assert APIClient().get("/api/v1/incidents/").status_code == 401


def test_list_has_the_pagination_shape(client, key):
    incident = make_incident(key)
    body = client.get("/api/v1/incidents/").json()
    assert set(body) >= {"results", "count", "next"}
    assert body["count"] == 1 and body["next"] is None
    assert body["results"][0]["id"] == incident.pk
    assert body["results"][0]["integration_key"] == {"id": key.pk, "name": key.name, "prefix": key.key_prefix}


def test_list_pages_fifty_at_a_time_newest_first(client, key):
    made = [make_incident(key).pk for _ in range(51)]
    first = client.get("/api/v1/incidents/").json()
    assert first["count"] == 51
    assert len(first["results"]) == 50
    assert ids_of(first) == sorted(made, reverse=True)[:50]
    assert "page=2" in first["next"]
    second = client.get(first["next"]).json()
    assert ids_of(second) == [min(made)] and second["next"] is None


def ids_of(body):
    return [row["id"] for row in body["results"]]


def test_status_filter(client, key):
    triggered = make_incident(key)
    resolved = make_incident(key)
    client.post(f"/api/v1/incidents/{resolved.pk}/resolve/")
    assert ids(client.get("/api/v1/incidents/?status=triggered")) == [triggered.pk]
    assert ids(client.get("/api/v1/incidents/?status=resolved")) == [resolved.pk]


def test_severity_filter(client, key):
    critical = make_incident(key, severity="critical")
    info = make_incident(key, severity="info")
    assert ids(client.get("/api/v1/incidents/?severity=critical")) == [critical.pk]
    assert ids(client.get("/api/v1/incidents/?severity=info")) == [info.pk]


def test_team_filter_by_slug(team, key):
    other = make_team("Payments")
    # A member of both teams sees both, and the filter narrows to one.
    user = make_user(team=team)
    TeamMembership.objects.create(team=other, user=user)
    other_key, _ = make_key(team=other)
    mine = make_incident(key)
    theirs = make_incident(other_key)
    client = api_client_for(user)
    assert sorted(ids(client.get("/api/v1/incidents/"))) == sorted([mine.pk, theirs.pk])
    assert ids(client.get("/api/v1/incidents/?team=payments")) == [theirs.pk]
    assert ids(client.get("/api/v1/incidents/?team=sre")) == [mine.pk]


def test_integration_key_filter_by_id_and_by_prefix(client, team, key):
    second_key, _ = make_key(team=team)
    first = make_incident(key)
    second = make_incident(second_key)
    assert ids(client.get(f"/api/v1/incidents/?integration_key={key.pk}")) == [first.pk]
    assert ids(client.get(f"/api/v1/incidents/?integration_key={second_key.key_prefix}")) == [second.pk]


def test_dedup_key_filter(client, key):
    wanted = make_incident(key, dedup_key="disk-full-srv01")
    make_incident(key, dedup_key="cpu-high-srv02")
    assert ids(client.get("/api/v1/incidents/?dedup_key=disk-full-srv01")) == [wanted.pk]
    assert ids(client.get("/api/v1/incidents/?dedup_key=nothing-like-it")) == []


def test_detail_has_counts_payload_alerts_and_timeline(api, client, raw_key):
    body = {
        "routing_key": raw_key,
        "event_action": "trigger",
        "dedup_key": "disk-full-srv01",
        "payload": {"summary": "Disk usage > 90% on srv01", "severity": "critical", "source": "prometheus",
                    "custom_details": {"current_usage": "93%"}},
        "links": [{"href": "https://grafana.example/d/disk", "text": "Dashboard"}],
    }
    incident_id = api.post("/v2/enqueue", body, format="json").json()["incident_id"]
    api.post("/v2/enqueue", body, format="json")
    client.post(f"/api/v1/incidents/{incident_id}/notes/", {"text": "looking"}, format="json")

    detail = client.get(f"/api/v1/incidents/{incident_id}/").json()
    assert detail["alert_count"] == 2
    assert detail["details"] == {"current_usage": "93%"}
    assert detail["links"] == [{"href": "https://grafana.example/d/disk", "text": "Dashboard"}]
    assert "labels" in detail and isinstance(detail["labels"], dict)
    assert [a["dedup_key"] for a in detail["alerts"]] == ["disk-full-srv01"]
    assert detail["alerts"][0]["count"] == 2
    outcomes = [item["outcome"] for item in detail["timeline"] if item["kind"] == "event"]
    assert outcomes == ["created", "updated"]
    notes = [item for item in detail["timeline"] if item["kind"] == "note"]
    assert notes == [{"at": notes[0]["at"], "kind": "note", "message": "looking", "actor": "rita", "outcome": None}]


def test_detail_of_unknown_incident_is_404(client):
    assert client.get("/api/v1/incidents/999999/").status_code == 404


def test_acknowledge_as_the_requesting_user(client, responder, key):
    incident = make_incident(key)
    response = client.post(f"/api/v1/incidents/{incident.pk}/acknowledge/")
    assert response.status_code == 200
    assert response.json()["status"] == "success"
    assert response.json()["incident"]["status"] == "acknowledged"
    assert response.json()["incident"]["acknowledged_by"] == "rita"
    incident.refresh_from_db()
    assert incident.status == Incident.Status.ACKNOWLEDGED
    assert incident.acknowledged_by == responder and incident.acknowledged_via == "api"
    assert TimelineEntry.objects.get(incident=incident, kind="acknowledged").actor == responder


def test_second_acknowledge_answers_200_unchanged(client, key):
    incident = make_incident(key)
    client.post(f"/api/v1/incidents/{incident.pk}/acknowledge/")
    again = client.post(f"/api/v1/incidents/{incident.pk}/acknowledge/")
    assert again.status_code == 200
    assert again.json()["status"] == "unchanged"
    assert TimelineEntry.objects.filter(incident=incident, kind="acknowledged").count() == 1


def test_resolve_as_the_requesting_user_closes_every_alert(client, responder, key):
    incident = make_incident(key, dedup_key="disk-full-srv01")
    response = client.post(f"/api/v1/incidents/{incident.pk}/resolve/")
    assert response.status_code == 200 and response.json()["status"] == "success"
    incident.refresh_from_db()
    assert incident.status == Incident.Status.RESOLVED and incident.resolved_by == responder
    assert not Alert.objects.filter(incident=incident, status=Alert.Status.OPEN).exists()
    # The next trigger of the same dedup key opens a new incident.
    assert make_incident(key, dedup_key="disk-full-srv01").pk != incident.pk


def test_second_resolve_answers_200_unchanged(client, key):
    incident = make_incident(key)
    client.post(f"/api/v1/incidents/{incident.pk}/resolve/")
    again = client.post(f"/api/v1/incidents/{incident.pk}/resolve/")
    assert again.status_code == 200 and again.json()["status"] == "unchanged"
    assert again.json()["message"] == "already resolved"


def test_acknowledging_a_resolved_incident_is_unchanged(client, key):
    incident = make_incident(key)
    client.post(f"/api/v1/incidents/{incident.pk}/resolve/")
    response = client.post(f"/api/v1/incidents/{incident.pk}/acknowledge/")
    assert response.status_code == 200 and response.json()["status"] == "unchanged"
    incident.refresh_from_db()
    assert incident.status == Incident.Status.RESOLVED


def test_note_is_added_to_the_timeline(client, responder, key):
    incident = make_incident(key)
    response = client.post(f"/api/v1/incidents/{incident.pk}/notes/", {"text": "restarting the pod"}, format="json")
    assert response.status_code == 201
    assert response.json()["message"] == "restarting the pod" and response.json()["actor"] == "rita"
    note = TimelineEntry.objects.get(incident=incident, kind="note")
    assert note.actor == responder and note.message == "restarting the pod"


def test_blank_note_is_400_and_writes_nothing(client, key):
    incident = make_incident(key)
    response = client.post(f"/api/v1/incidents/{incident.pk}/notes/", {"text": ""}, format="json")
    assert response.status_code == 400 and "text" in response.json()
    assert not TimelineEntry.objects.filter(incident=incident, kind="note").exists()


def test_token_from_drf_create_token_authenticates(responder, key):
    incident = make_incident(key)
    out = io.StringIO()
    call_command("drf_create_token", "rita", stdout=out)
    token = re.search(r"Generated token (\w+) for user rita", out.getvalue()).group(1)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {token}")
    assert ids(client.get("/api/v1/incidents/")) == [incident.pk]
    assert client.post(f"/api/v1/incidents/{incident.pk}/acknowledge/").status_code == 200


def test_wrong_token_is_401():
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION="Token 0123456789abcdef0123456789abcdef01234567")
    assert client.get("/api/v1/incidents/").status_code == 401


def test_session_login_authenticates(responder, key):
    incident = make_incident(key)
    client = APIClient()
    assert client.login(username="rita", password="correct horse battery")
    assert ids(client.get("/api/v1/incidents/")) == [incident.pk]
    # APIClient skips CSRF checks by default, as a browser page with its token would pass them;
    # tests/security/test_csrf.py checks the token is required.
    assert client.post(f"/api/v1/incidents/{incident.pk}/acknowledge/").status_code == 200



def queries_for(client, path) -> int:
    with CaptureQueriesContext(connection) as captured:
        assert client.get(path).status_code == 200
    return len(captured)


def test_list_and_detail_query_counts_do_not_grow_with_rows(client, key):
    incident = make_incident(key, dedup_key="disk-full-srv01")
    list_queries = queries_for(client, "/api/v1/incidents/")
    detail_queries = queries_for(client, f"/api/v1/incidents/{incident.pk}/")
    for n in range(20):
        make_incident(key)
        make_incident(key, dedup_key="disk-full-srv01")  # more events on the first incident
        client.post(f"/api/v1/incidents/{incident.pk}/notes/", {"text": f"note {n}"}, format="json")
    assert queries_for(client, "/api/v1/incidents/") == list_queries
    assert queries_for(client, f"/api/v1/incidents/{incident.pk}/") == detail_queries
    # session/token lookup, count, page (+ detail: alerts, events, timeline)
    assert list_queries <= 3 and detail_queries <= 5, (list_queries, detail_queries)
