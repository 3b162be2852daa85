import pytest

from incidents.models import Event, Incident
from tests.conftest import load_payload

pytestmark = pytest.mark.django_db

PATH = "/api/webhook/ingest"


def post(api, raw_key, body, **headers):
    headers.setdefault("HTTP_AUTHORIZATION", f"Bearer {raw_key}")
    return api.post(PATH, body, format="json", **headers)


def test_documented_example_opens_an_incident_that_shows_every_extra_field(api, raw_key, key):
    response = post(api, raw_key, load_payload("eventapi/api_md_example.json"))
    assert response.status_code == 202
    incident = Incident.objects.get()
    assert response.json() == {"status": "success", "message": "Event processed",
                               "dedup_key": incident.dedup_key, "incident_id": incident.pk}
    assert incident.summary == "K8s prod API 5xx spike"
    assert (incident.severity, incident.original_severity) == ("error", "high")
    assert incident.labels == {"service": "api", "env": "prod"}
    assert incident.details == {"details": "5xx spiking since 12:03 UTC", "team": "sre"}
    assert (incident.entity, incident.runbook) == ("svc-api", "rb-5xx")
    assert incident.team == key.team


def test_repeat_with_same_summary_and_labels_dedups(api, raw_key):
    body = load_payload("eventapi/api_md_example.json")
    first = post(api, raw_key, body).json()
    body["labels"] = {"env": "prod", "service": "api"}  # same labels, other order
    second = post(api, raw_key, body).json()
    assert first["incident_id"] == second["incident_id"]
    assert first["dedup_key"] == second["dedup_key"]
    assert Incident.objects.get().alert_count == 2


def test_other_labels_are_another_incident(api, raw_key):
    body = load_payload("eventapi/api_md_example.json")
    first = post(api, raw_key, body).json()
    body["labels"]["env"] = "staging"
    assert post(api, raw_key, body).json()["incident_id"] != first["incident_id"]


def test_acknowledge_and_resolve_by_summary_and_labels(api, raw_key):
    body = load_payload("eventapi/api_md_example.json")
    incident_id = post(api, raw_key, body).json()["incident_id"]
    closing = {"summary": body["summary"], "labels": body["labels"]}
    ack = post(api, raw_key, {**closing, "action": "acknowledge"})
    assert ack.status_code == 202 and ack.json()["incident_id"] == incident_id
    assert Incident.objects.get().status == "acknowledged"
    assert post(api, raw_key, {**closing, "action": "resolve"}).status_code == 202
    assert Incident.objects.get().status == "resolved"


def test_resolve_by_dedup_key(api, raw_key):
    post(api, raw_key, {"summary": "s", "severity": "low", "dedupKey": "mine"})
    response = post(api, raw_key, {"action": "resolve", "dedupKey": "mine", "severity": "not-a-severity"})
    assert response.status_code == 202
    assert Incident.objects.get().status == "resolved"


def test_resolve_with_no_open_alert_is_ignored(api, raw_key):
    response = post(api, raw_key, {"action": "resolve", "dedupKey": "never"})
    assert response.status_code == 202
    assert response.json()["incident_id"] is None
    assert Event.objects.get().outcome == "ignored"


@pytest.mark.parametrize("value,expected", [("low", "info"), ("medium", "warning"), ("high", "error"),
                                            ("critical", "critical")])
def test_severity_table(api, raw_key, value, expected):
    assert post(api, raw_key, {"summary": "s", "severity": value}).status_code == 202
    incident = Incident.objects.get()
    assert (incident.severity, incident.original_severity) == (expected, value)


def test_bad_severity_and_nested_label_are_named_and_logged_as_rejected(api, raw_key):
    response = post(api, raw_key, {"summary": "s", "severity": "error", "labels": {"deep": {"x": 1}}})
    assert response.status_code == 400
    errors = " ".join(response.json()["errors"])
    assert "'severity'" in errors and "'labels.deep'" in errors
    assert not Incident.objects.exists()
    assert Event.objects.get().outcome == "rejected"


def test_missing_summary_and_severity_are_named(api, raw_key):
    response = post(api, raw_key, load_payload("negative/cloudwatch_alarm_sns_payload.json"))
    assert response.status_code == 400
    errors = " ".join(response.json()["errors"])
    assert "'summary'" in errors and "'severity'" in errors


@pytest.mark.parametrize("header", [None, "Token abc", "Bearer", "Basic Zm9vOmJhcg=="])
def test_without_a_bearer_key_is_401(api, header):
    headers = {"HTTP_AUTHORIZATION": header} if header else {}
    response = api.post(PATH, {"summary": "s", "severity": "low"}, format="json", **headers)
    assert response.status_code == 401
    assert not Event.objects.exists()


def test_the_key_in_the_body_is_not_enough(api, raw_key):
    response = api.post(PATH, {"summary": "s", "severity": "low", "routing_key": raw_key}, format="json")
    assert response.status_code == 401
