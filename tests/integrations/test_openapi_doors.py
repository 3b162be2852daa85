import pytest

from integrations.formats import DOORS

pytestmark = pytest.mark.django_db

DOOR_PATHS = [
    "/api/events/ingest",
    "/v2/enqueue",
    "/v2/change/enqueue",
    "/generic/2010-04-15/create_event.json",
    "/api/webhook/ingest",
    "/integration/{key}",
    "/api/integration/webhook/{key}",
    "/{key}/push-events",
    "/v1/alerts/{key}",
    "/v2/alerts",
    "/api/integrations/alertmanager",
    "/api/integrations/alertmanager/{key}",
    "/api/integrations/grafana",
    "/api/integrations/grafana/{key}",
]


@pytest.fixture(scope="module")
def document(django_db_blocker):
    from rest_framework.test import APIClient

    with django_db_blocker.unblock():
        response = APIClient().get("/api/schema/", {"format": "json"})
    assert response.status_code == 200
    return response.json()


def request_schema(document, operation):
    content = operation["requestBody"]["content"]
    assert list(content) == ["application/json"]
    media = content["application/json"]
    ref = media["schema"]["$ref"].rsplit("/", 1)[-1]
    return document["components"]["schemas"][ref], media


@pytest.mark.parametrize("path", DOOR_PATHS)
def test_every_door_is_listed_with_a_request_schema_and_an_example(document, path):
    operation = document["paths"][path]["post"]
    schema, media = request_schema(document, operation)
    assert schema["properties"]
    assert media["examples"]
    assert "ingest" in operation["tags"]
    assert {"400", "413", "429"} <= set(operation["responses"])


SPEC_OPERATIONS = [
    (spec, door_path, method)
    for spec in DOORS
    for door_path in spec.paths
    for method in door_path.methods
]


@pytest.mark.parametrize("spec,door_path,method", SPEC_OPERATIONS,
                         ids=[f"{method}:/{door_path.route}" for _spec, door_path, method in SPEC_OPERATIONS])
def test_every_declared_door_operation_is_documented_from_its_spec(document, spec, door_path, method):
    path = "/" + door_path.route
    operation = document["paths"][path][method]
    assert "ingest" in operation["tags"] and operation["summary"]
    # A report of an earlier request (Opsgenie's request status) answers 200 or 404.
    answers = {"200", "401", "404"} if door_path.report else {str(spec.ok_status), "401", "429"}
    assert answers <= set(operation["responses"])
    parameters = [p["name"] for p in operation.get("parameters", [])]
    assert ("key" in parameters) == ("{key}" in path)
    assert set(door_path.params) <= set(parameters)
    if spec.reads_body if door_path.reads_body is None else door_path.reads_body:
        media = operation["requestBody"]["content"]["application/json"]
        if door_path.takes_example:
            assert media["examples"]["Example"]["value"] == spec.example
        assert {"400", "413"} <= set(operation["responses"])


def test_door_operation_ids_are_unique(document):
    ids = [op["operationId"] for entry in document["paths"].values() for op in entry.values()]
    assert len(ids) == len(set(ids))


def test_grafana_doors_list_put_too(document):
    for path in ("/api/integrations/grafana", "/api/integrations/grafana/{key}"):
        request_schema(document, document["paths"][path]["put"])


def test_heartbeat_is_listed_for_get_and_post(document):
    entry = document["paths"]["/api/heartbeat/{key}"]
    assert {"get", "post"} <= set(entry)
    assert entry["get"]["responses"]["200"]


def test_required_fields_are_marked(document):
    eventapi, _ = request_schema(document, document["paths"]["/api/webhook/ingest"]["post"])
    assert set(eventapi["required"]) == {"summary", "severity"}
    alertmanager, _ = request_schema(document, document["paths"]["/api/integrations/alertmanager"]["post"])
    assert alertmanager["required"] == ["alerts"]
