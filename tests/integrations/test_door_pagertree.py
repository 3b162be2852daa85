import pytest

from incidents.models import Event, Incident
from tests.conftest import load_payload

pytestmark = pytest.mark.django_db


def post(api, raw_key, body, **headers):
    return api.post(f"/integration/{raw_key}", body, format="json", **headers)


def test_documented_create_opens_an_incident(api, raw_key):
    response = post(api, raw_key, load_payload("pagertree/pagertree_docs_create.json"))
    assert response.status_code == 200
    incident = Incident.objects.get()
    assert response.json() == {"status": "success", "message": "Event processed",
                               "dedup_key": "example-id-123", "incident_id": incident.pk}
    assert incident.summary == "Example Incident Title"
    assert (incident.severity, incident.original_severity) == ("critical", "SEV-1")
    assert incident.labels == {"a": "", "b": ""}
    assert incident.details["meta"] == {"incident": True, "incident_severity": "SEV-1"}


def test_repeat_create_dedups(api, raw_key):
    body = load_payload("pagertree/pagertree_docs_create.json")
    first = post(api, raw_key, body).json()
    assert post(api, raw_key, body).json()["incident_id"] == first["incident_id"]
    assert Incident.objects.get().alert_count == 2


def test_uptime_kuma_down_then_up_resolves(api, raw_key):
    down = post(api, raw_key, load_payload("pagertree/uptime_kuma_down.json"))
    assert down.status_code == 200
    incident = Incident.objects.get()
    assert incident.summary == 'Uptime Kuma Monitor "checkout" is DOWN'
    assert incident.details["monitor"]["url"] == "https://checkout.example.com/health"
    up = post(api, raw_key, load_payload("pagertree/uptime_kuma_up_resolve.json"))
    assert up.status_code == 200 and up.json()["incident_id"] == incident.pk
    assert Incident.objects.get().status == "resolved"


def test_apprise_create_then_acknowledge(api, raw_key):
    body = load_payload("pagertree/apprise_create.json")
    incident_id = post(api, raw_key, body).json()["incident_id"]
    ack = post(api, raw_key, {"id": body["id"], "event_type": "acknowledge"})
    assert ack.json()["incident_id"] == incident_id
    assert Incident.objects.get().status == "acknowledged"


def test_librenms_numeric_id(api, raw_key):
    response = post(api, raw_key, load_payload("pagertree/librenms_pagertree_alert_numeric_id.json"))
    assert response.status_code == 200
    assert response.json()["dedup_key"] == "4711"


def test_unknown_event_type_is_accepted_and_logged_as_ignored(api, raw_key):
    response = post(api, raw_key, {"event_type": "snooze", "id": "x"})
    assert response.status_code == 200
    assert response.json()["incident_id"] is None
    event = Event.objects.get()
    assert (event.outcome, event.action) == ("ignored", "none")
    assert not Incident.objects.exists()


def test_missing_id_is_a_400_naming_it(api, raw_key):
    response = post(api, raw_key, {"event_type": "create", "title": "t"})
    assert response.status_code == 400
    assert response.json()["errors"] == ["'id' (or 'Id') is missing or blank"]


@pytest.mark.parametrize("value,expected", [("SEV-1", "critical"), ("SEV-2", "error"), ("SEV-3", "warning"),
                                            ("SEV-4", "info"), ("SEV-5", "info")])
def test_incident_severity_table(api, raw_key, value, expected):
    post(api, raw_key, {"id": "x", "Meta": {"incident_severity": value}})
    assert Incident.objects.get().severity == expected


@pytest.mark.parametrize("value,expected", [("critical", "critical"), ("high", "error"), ("medium", "warning"),
                                            ("low", "info"), ("silent", "info"), ("whatever", "warning")])
def test_urgency_table(api, raw_key, value, expected):
    assert post(api, raw_key, {"id": "x", "urgency": value}).status_code == 200
    assert Incident.objects.get().severity == expected


class TestPagerTreeToken:
    @pytest.fixture
    def key_with_token(self, key):
        key.set_pagertree_token("s3cret")
        key.save()
        return key

    def test_right_token_is_accepted(self, api, raw_key, key_with_token):
        response = post(api, raw_key, {"id": "x"}, HTTP_PAGERTREE_TOKEN="s3cret")
        assert response.status_code == 200

    @pytest.mark.parametrize("headers", [{}, {"HTTP_PAGERTREE_TOKEN": "wrong"}, {"HTTP_PAGERTREE_TOKEN": ""}])
    def test_missing_or_wrong_token_is_401_and_nothing_written(self, api, raw_key, key_with_token, headers):
        response = post(api, raw_key, {"id": "x"}, **headers)
        assert response.status_code == 401
        assert response.json()["errors"] == ["Invalid pagertree-token"]
        assert not Event.objects.exists()

    def test_a_token_sent_to_a_key_without_one_is_ignored(self, api, raw_key):
        assert post(api, raw_key, {"id": "x"}, HTTP_PAGERTREE_TOKEN="anything").status_code == 200
