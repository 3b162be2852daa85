import base64

import pytest

from incidents.models import Event, Incident
from tests.conftest import load_payload

pytestmark = pytest.mark.django_db

PATH = "/api/integrations/grafana"


def basic(raw_key, user="grafana"):
    return "Basic " + base64.b64encode(f"{user}:{raw_key}".encode()).decode()


@pytest.mark.parametrize("method", ["post", "put"])
@pytest.mark.parametrize("auth", ["bearer", "basic", "path"])
def test_documented_example_opens_one_incident_per_alert(api, raw_key, method, auth):
    body = load_payload("grafana/grafana_docs_webhook_example.json")
    send = getattr(api, method)
    if auth == "path":
        response = send(f"{PATH}/{raw_key}", body, format="json")
    else:
        header = f"Bearer {raw_key}" if auth == "bearer" else basic(raw_key)
        response = send(PATH, body, format="json", HTTP_AUTHORIZATION=header)
    assert response.status_code == 200
    events = response.json()["events"]
    assert [(e["dedup_key"], e["outcome"]) for e in events] == [
        ("c6eadffa33fcdf37", "created"), ("bc97ff14869b13e3", "created")]
    incident = Incident.objects.get(dedup_key="c6eadffa33fcdf37")
    assert incident.summary == "This alert was triggered for zone us-1"
    assert incident.details["values"] == {"B": 44.23943737541908, "C": 1}
    assert any(link["text"] == "Silence" for link in incident.links)


def test_test_notification_is_logged_as_test_and_pages_nobody(api, raw_key):
    response = api.post(PATH, load_payload("grafana/grafana_test_notification.json"), format="json",
                        HTTP_AUTHORIZATION=f"Bearer {raw_key}")
    assert response.json()["events"] == [{"dedup_key": "57c6d9296de2ad39", "incident_id": None,
                                          "outcome": "test"}]
    assert not Incident.objects.exists()
    assert Event.objects.get().outcome == "test"


def test_null_values_and_zero_times_are_accepted(api, raw_key):
    response = api.post(f"{PATH}/{raw_key}", load_payload("grafana/grafana_alerting_test_default_payload.json"),
                        format="json")
    assert response.json()["events"][0]["outcome"] == "created"
    assert Incident.objects.get().details["values"] is None


def test_image_url_becomes_an_image_and_ok_resolves(api, raw_key):
    body = load_payload("grafana/grafana_docs_webhook_example.json")
    body["alerts"] = body["alerts"][:1]
    body["alerts"][0]["imageURL"] = "https://grafana.example/render/panel.png"
    api.post(f"{PATH}/{raw_key}", body, format="json")
    assert Incident.objects.get().images[0]["src"] == "https://grafana.example/render/panel.png"
    body["status"], body["state"], body["alerts"][0]["status"] = "resolved", "ok", "resolved"
    response = api.post(f"{PATH}/{raw_key}", body, format="json")
    assert response.json()["events"][0]["outcome"] == "resolved"
    assert Incident.objects.get().status == "resolved"


def test_basic_auth_with_a_wrong_password_is_401(api, raw_key):
    response = api.post(PATH, load_payload("grafana/grafana_docs_webhook_example.json"), format="json",
                        HTTP_AUTHORIZATION=basic("ik_wrongwrongwrongwrongwrongwrong"))
    assert response.status_code == 401
    assert not Event.objects.exists()
