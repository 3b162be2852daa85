import pytest

from incidents.models import Event, Incident
from tests.conftest import load_payload

pytestmark = pytest.mark.django_db


def post(api, raw_key, body):
    return api.post(f"/api/integration/webhook/{raw_key}", body, format="json")


def test_documented_alarm_then_ok(api, raw_key):
    alarm = post(api, raw_key, load_payload("temperstack/temperstack_docs_alarm.json"))
    assert alarm.status_code == 200
    incident = Incident.objects.get()
    assert alarm.json() == {"status": "success", "message": "Event processed",
                            "dedup_key": "alert-12345", "incident_id": incident.pk}
    assert incident.summary == "Multiple requests are failing."
    assert incident.severity == "critical"
    assert incident.runbook == "https://runbooks.example.com/checkout-5xx"
    assert incident.links == [{"href": "https://monitoring.example.com/alerts/alert-12345",
                               "text": "Temperstack alert"}]
    assert incident.labels["resource_name"] == "checkout-api"
    ok = post(api, raw_key, load_payload("temperstack/temperstack_docs_ok.json"))
    assert ok.status_code == 200 and ok.json()["incident_id"] == incident.pk
    assert Incident.objects.get().status == "resolved"


def test_repeat_alarm_dedups(api, raw_key):
    body = load_payload("temperstack/temperstack_docs_alarm.json")
    post(api, raw_key, body)
    post(api, raw_key, body)
    assert Incident.objects.get().alert_count == 2


@pytest.mark.parametrize("value,expected", [("Critical", "critical"), ("Medium", "warning")])
def test_priority_table(api, raw_key, value, expected):
    post(api, raw_key, {"alert_name": "a", "status": "Alarm", "alert_priority": value})
    assert Incident.objects.get().severity == expected


def test_ok_without_open_alert_is_ignored(api, raw_key):
    response = post(api, raw_key, {"alert_name": "a", "status": "ok"})
    assert response.status_code == 200 and response.json()["incident_id"] is None
    assert Event.objects.get().outcome == "ignored"


def test_bad_request_is_a_400_naming_every_field(api, raw_key):
    response = post(api, raw_key, {"status": "Maybe"})
    assert response.status_code == 400
    errors = " ".join(response.json()["errors"])
    assert "'status'" in errors and "'alert_name'" in errors
    assert Event.objects.get().outcome == "rejected"
