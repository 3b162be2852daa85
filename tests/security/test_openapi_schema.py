"""`/api/schema/` serves the OpenAPI 3 document, ingest doors included."""

import pytest
from rest_framework.test import APIClient

pytestmark = pytest.mark.django_db


@pytest.fixture
def schema():
    response = APIClient().get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json")
    assert response.status_code == 200
    return response.json()


def test_schema_is_openapi_3(schema):
    assert schema["openapi"].startswith("3.")
    assert schema["info"]["title"] == "Vigil"


def test_schema_has_the_ingest_door(schema):
    assert "post" in schema["paths"]["/v2/enqueue"]
    assert "post" in schema["paths"]["/api/events/ingest"]


def test_schema_has_the_incident_endpoints(schema):
    paths = schema["paths"]
    assert {"get"} <= set(paths["/api/v1/incidents/"])
    assert {"get"} <= set(paths["/api/v1/incidents/{id}/"])
    for action in ["acknowledge", "resolve", "notes"]:
        assert "post" in paths[f"/api/v1/incidents/{{id}}/{action}/"]
    parameters = {p["name"] for p in paths["/api/v1/incidents/"]["get"]["parameters"]}
    assert {"status", "severity", "team", "integration_key", "dedup_key", "page"} <= parameters


def test_schema_has_keys_and_teams(schema):
    paths = schema["paths"]
    assert {"get", "post"} <= set(paths["/api/v1/integration-keys/"])
    assert "post" in paths["/api/v1/integration-keys/{id}/rotate/"]
    assert "post" in paths["/api/v1/integration-keys/{id}/revoke/"]
    assert {"get", "post"} <= set(paths["/api/v1/teams/"])
    assert {"get", "post"} <= set(paths["/api/v1/teams/{id}/members/"])
