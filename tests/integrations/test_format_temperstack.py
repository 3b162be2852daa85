import pytest

from integrations.formats import FORMATS
from integrations.formats.base import FormatError
from tests.conftest import load_payload

parse = FORMATS["temperstack"]


def test_documented_alarm_field_for_field():
    [event] = parse(load_payload("temperstack/temperstack_docs_alarm.json"))
    assert event.action == "trigger"
    assert event.dedup_key == "alert-12345"
    assert event.summary == "Multiple requests are failing."
    assert (event.severity, event.original_severity) == ("critical", "Critical")
    assert event.details == "Requests to the checkout API are failing with 5xx."
    assert event.links == [{"href": "https://monitoring.example.com/alerts/alert-12345", "text": "Temperstack alert"}]
    assert event.runbook == "https://runbooks.example.com/checkout-5xx"
    assert event.labels == {"metric_name": "http_5xx_rate", "resource_id": "res-001",
                            "resource_name": "checkout-api", "resource_type": "API"}
    assert (event.source, event.component, event.event_class, event.entity) == (
        "checkout-api", "http_5xx_rate", "API", "res-001",
    )


def test_documented_ok_resolves_by_alert_id():
    [event] = parse(load_payload("temperstack/temperstack_docs_ok.json"))
    assert (event.action, event.dedup_key) == ("resolve", "alert-12345")


def test_alert_name_is_the_dedup_key_without_alert_id():
    [event] = parse({"alert_name": "Disk full", "status": "alarm"})
    assert event.dedup_key == "Disk full"
    [closing] = parse({"alert_name": "Disk full", "status": "ok"})
    assert (closing.action, closing.dedup_key) == ("resolve", "Disk full")


@pytest.mark.parametrize("value,expected", [("Critical", "critical"), ("Medium", "warning"),
                                            ("CRITICAL", "critical"), ("Low", "warning"), (None, "warning")])
def test_priority_table_is_lenient(value, expected):
    [event] = parse({"alert_name": "a", "status": "Alarm", "alert_priority": value})
    assert event.severity == expected


def test_every_offending_field_is_named():
    with pytest.raises(FormatError) as caught:
        parse({"status": "Broken"})
    assert "'status'" in caught.value.errors[0]
    with pytest.raises(FormatError) as caught:
        parse({"status": "Alarm", "alert_name": ""})
    assert caught.value.errors == ["'alert_name' is missing or blank"]
    with pytest.raises(FormatError) as caught:
        parse({"alert_id": {"x": 1}})
    joined = " ".join(caught.value.errors)
    assert "'status'" in joined and "'alert_id'" in joined and "'alert_name'" in joined


def test_resolve_needs_something_to_find_the_alert_by():
    with pytest.raises(FormatError) as caught:
        parse({"status": "OK"})
    assert caught.value.errors == ["'alert_id' or 'alert_name' is required to resolve"]
