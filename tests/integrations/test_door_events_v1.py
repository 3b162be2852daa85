import pytest

from incidents.models import Event, Incident
from tests.conftest import load_payload

pytestmark = pytest.mark.django_db

PATH = "/generic/2010-04-15/create_event.json"


def body(name, raw_key, **fields):
    payload = load_payload(f"pagerduty/{name}")
    payload["service_key"] = raw_key
    payload.update(fields)
    return payload


def test_documented_trigger_gets_a_generated_incident_key(api, raw_key):
    response = api.post(PATH, body("pd_v1_docs_trigger.json", raw_key), format="json")
    assert response.status_code == 200
    answer = response.json()
    assert set(answer) == {"status", "message", "incident_key"}
    assert (answer["status"], answer["message"]) == ("success", "Event processed")
    incident = Incident.objects.get()
    assert incident.dedup_key == answer["incident_key"]
    assert incident.summary == "FAILURE for production/HTTP on machine srv01.acme.com"
    assert incident.details == {"ping time": "1500ms", "load avg": 0.75}
    assert incident.images and len(incident.links) == 3


def test_documented_acknowledge_and_resolve(api, raw_key):
    api.post(PATH, body("pd_v1_docs_trigger.json", raw_key, incident_key="srv01/HTTP"), format="json")
    ack = api.post(PATH, body("pd_v1_docs_acknowledge.json", raw_key), format="json")
    assert ack.json() == {"status": "success", "message": "Event processed", "incident_key": "srv01/HTTP"}
    assert Incident.objects.get().status == "acknowledged"
    api.post(PATH, body("pd_v1_docs_resolve.json", raw_key), format="json")
    assert Incident.objects.get().status == "resolved"


def test_repeat_trigger_with_incident_key_dedups(api, raw_key):
    first = body("pd_v1_docs_trigger.json", raw_key, incident_key="k")
    api.post(PATH, first, format="json")
    api.post(PATH, first, format="json")
    assert Incident.objects.get().alert_count == 2


def test_old_alertmanager_service_key_config_trigger_and_resolve(api, raw_key):
    api.post(PATH, body("alertmanager_pagerduty_v1_trigger.json", raw_key), format="json")
    response = api.post(PATH, body("alertmanager_pagerduty_v1_resolve.json", raw_key), format="json")
    assert response.status_code == 200
    assert Incident.objects.get().status == "resolved"


def test_missing_description_is_named(api, raw_key):
    response = api.post(PATH, {"service_key": raw_key, "event_type": "trigger"}, format="json")
    assert response.status_code == 400
    assert response.json()["errors"] == ["'description' is missing or blank"]
    assert Event.objects.get().outcome == "rejected"


def test_invalid_service_key_is_invalid_routing_key(api):
    response = api.post(PATH, body("pd_v1_docs_trigger.json", "ik_nope"), format="json")
    assert response.status_code == 400
    assert response.json()["errors"] == ["Invalid routing key"]
