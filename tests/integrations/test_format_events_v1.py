import pytest

from integrations.formats import FORMATS
from integrations.formats.base import FormatError
from tests.conftest import load_payload

parse = FORMATS["events_v1"]


def test_documented_trigger_field_for_field():
    [event] = parse(load_payload("pagerduty/pd_v1_docs_trigger.json"))
    assert event.action == "trigger"
    assert event.summary == "FAILURE for production/HTTP on machine srv01.acme.com"
    assert event.source == "Sample Monitoring Service"
    assert event.details == {"ping time": "1500ms", "load avg": 0.75}
    assert event.links == [
        {"href": "http://acme.pagerduty.com", "text": "View in custom tool"},
        {"href": "http://acme.pagerduty.com", "text": "View the incident on PagerDuty"},
        {"href": "https://monitoring.service.com", "text": "Sample Monitoring Service"},
    ]
    assert event.images[0]["src"].startswith("https://chart.googleapis.com/chart")
    assert (event.severity, event.original_severity) == ("warning", "")


def test_trigger_without_incident_key_gets_a_generated_one():
    body = load_payload("pagerduty/pd_v1_docs_trigger.json")
    assert "incident_key" not in body
    a, b = parse(body)[0], parse(body)[0]
    assert a.dedup_key and b.dedup_key and a.dedup_key != b.dedup_key


@pytest.mark.parametrize("name,action", [("pd_v1_docs_acknowledge.json", "acknowledge"),
                                         ("pd_v1_docs_resolve.json", "resolve")])
def test_documented_acknowledge_and_resolve(name, action):
    [event] = parse(load_payload(f"pagerduty/{name}"))
    assert (event.action, event.dedup_key) == (action, "srv01/HTTP")


def test_alertmanager_service_key_resolve_with_its_empty_v2_fields():
    [event] = parse(load_payload("pagerduty/alertmanager_pagerduty_v1_resolve.json"))
    assert event.action == "resolve"
    assert event.dedup_key.startswith("3c8b1e8e")


def test_every_offending_field_is_named():
    with pytest.raises(FormatError) as caught:
        parse({"event_type": "explode", "incident_key": ["x"]})
    joined = " ".join(caught.value.errors)
    assert "'event_type'" in joined and "'incident_key'" in joined


def test_trigger_needs_a_description():
    with pytest.raises(FormatError) as caught:
        parse({"event_type": "trigger", "description": "  "})
    assert caught.value.errors == ["'description' is missing or blank"]


def test_resolve_needs_an_incident_key():
    with pytest.raises(FormatError) as caught:
        parse({"event_type": "resolve"})
    assert caught.value.errors == ["'incident_key' is required to resolve"]
