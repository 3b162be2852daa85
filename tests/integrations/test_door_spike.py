import pytest

from incidents.models import Event, Incident
from tests.conftest import load_payload

pytestmark = pytest.mark.django_db


def post(api, raw_key, body):
    return api.post(f"/{raw_key}/push-events", body, format="json")


def test_documented_create_then_resolve(api, raw_key):
    created = post(api, raw_key, load_payload("spike/spike_docs_create.json"))
    assert created.status_code == 200
    incident = Incident.objects.get()
    assert created.json() == {"Ok": True, "status": "success", "message": "Event processed",
                              "dedup_key": "CPU usage above 90% on api-1", "incident_id": incident.pk}
    assert incident.severity == "critical"
    assert incident.details == {"host": "api-1", "cpu": "93%"}
    resolved = post(api, raw_key, load_payload("spike/spike_docs_resolve.json"))
    assert resolved.status_code == 200 and resolved.json()["Ok"] is True
    assert Incident.objects.get().status == "resolved"


def test_same_title_updates_the_open_incident(api, raw_key):
    first = post(api, raw_key, {"title": "Disk full", "body": "90%"}).json()
    second = post(api, raw_key, {"title": "Disk full", "body": "95%"}).json()
    assert first["incident_id"] == second["incident_id"]
    assert Incident.objects.get().alert_count == 2


def test_same_title_on_another_key_is_another_incident(api, raw_key, team):
    from tests.factories import make_key

    _other, other_raw = make_key(team=team)
    a = post(api, raw_key, {"title": "Disk full"}).json()
    b = post(api, other_raw, {"title": "Disk full"}).json()
    assert a["incident_id"] != b["incident_id"]


def test_untitled_alerts_are_separate_incidents_with_empty_titles(api, raw_key):
    a = post(api, raw_key, {"body": "something broke"}).json()
    b = post(api, raw_key, {"body": "something broke"}).json()
    assert a["incident_id"] != b["incident_id"]
    assert list(Incident.objects.values_list("summary", flat=True)) == ["", ""]


def test_untitled_resolve_resolves_nothing(api, raw_key):
    post(api, raw_key, {"body": "x"})
    response = post(api, raw_key, {"status": "resolved"})
    assert response.status_code == 200 and response.json()["incident_id"] is None
    assert Incident.objects.get().status == "triggered"
    assert Event.objects.order_by("-id").first().outcome == "ignored"


@pytest.mark.parametrize("value,expected", [("sev1", "critical"), ("sev2", "error"), ("sev3", "warning"),
                                            ("critical", "critical"), ("high", "error"), ("medium", "warning"),
                                            ("warning", "warning"), ("low", "info"), ("info", "info"),
                                            ("unheard-of", "warning")])
def test_severity_table(api, raw_key, value, expected):
    assert post(api, raw_key, {"title": "t", "severity": value}).status_code == 200
    assert Incident.objects.get().severity == expected


@pytest.mark.parametrize("value,expected", [("p1", "critical"), ("p2", "error"), ("p3", "warning"),
                                            ("p4", "info"), ("p5", "info")])
def test_priority_table(api, raw_key, value, expected):
    post(api, raw_key, {"title": "t", "priority": value})
    assert Incident.objects.get().severity == expected
