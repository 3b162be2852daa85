import pytest

from integrations.formats import FORMATS
from integrations.formats.base import FormatError
from tests.conftest import load_payload

parse = FORMATS["pagertree"]

# Uptime Kuma's PagerTree provider: lower-case fields, no description, numeric monitor id,
# its own heartbeat and monitor objects (transcribed, see payloads/SOURCES.md).
UPTIME_KUMA_DOWN = "pagertree/uptime_kuma_down.json"
UPTIME_KUMA_UP = "pagertree/uptime_kuma_up_resolve.json"
APPRISE_CREATE = "pagertree/apprise_create.json"


def test_documented_example_field_for_field():
    [event] = parse(load_payload("pagertree/pagertree_docs_create.json"))
    assert event.action == "trigger"
    assert event.dedup_key == "example-id-123"
    assert event.summary == "Example Incident Title"
    assert (event.severity, event.original_severity) == ("critical", "SEV-1")
    assert event.labels == {"a": "", "b": ""}
    assert event.details == {
        "description": "Example Incident Description",
        "meta": {"incident": True, "incident_severity": "SEV-1"},
    }


def test_librenms_numeric_id_is_the_dedup_key():
    [event] = parse(load_payload("pagertree/librenms_pagertree_alert_numeric_id.json"))
    assert event.dedup_key == "4711"
    assert event.summary == "Device Down! Due to no ICMP response."
    assert event.details == {"description": "<p><strong>core-sw-02</strong> is down</p>"}


def test_librenms_test_message():
    [event] = parse(load_payload("pagertree/librenms_pagertree_test.json"))
    assert (event.action, event.dedup_key, event.summary) == (
        "trigger", "TEST-154321", "LibreNMS PagerTree Test Alert",
    )


def test_uptime_kuma_lower_case_fields_and_no_description():
    body = load_payload(UPTIME_KUMA_DOWN)
    [event] = parse(body)
    assert event.action == "trigger"
    assert event.dedup_key == "7"
    assert event.summary == 'Uptime Kuma Monitor "checkout" is DOWN'
    assert (event.severity, event.original_severity) == ("error", "high")
    # Uptime Kuma's own objects are kept and shown.
    assert event.details["monitor"]["name"] == "checkout"
    assert event.details["heartbeat"]["status"] == 0


def test_uptime_kuma_resolve_with_null_title():
    [event] = parse(load_payload(UPTIME_KUMA_UP))
    assert (event.action, event.dedup_key, event.summary) == ("resolve", "7", "")


def test_apprise_lower_case_fields():
    [event] = parse(load_payload(APPRISE_CREATE))
    assert event.dedup_key == "3d2f4c43-54b8-4e4b-9d0a-5b6a1e0f3a11"
    assert event.summary == "Backup failed"
    assert (event.severity, event.original_severity) == ("critical", "critical")
    assert event.labels == {"backup": "", "env": "prod"}
    assert event.details["description"] == "The nightly backup of db-1 failed."
    assert event.details["meta"] == {"host": "db-1"}


def test_capitalised_field_wins_over_lower_case():
    [event] = parse({"event_type": "create", "Id": "upper", "id": "lower", "Title": "T", "title": "t"})
    assert (event.dedup_key, event.summary) == ("upper", "T")


def test_title_falls_back_to_description_then_no_title():
    assert parse({"id": "1", "description": "<b>From</b> description"})[0].summary == "From description"
    assert parse({"id": "1"})[0].summary == "(no title)"


@pytest.mark.parametrize(
    "event_type,action",
    [("create", "trigger"), (" Create ", "trigger"), ("ACKNOWLEDGE", "acknowledge"), ("resolve", "resolve")],
)
def test_event_types_trimmed_and_case_insensitive(event_type, action):
    [event] = parse({"event_type": event_type, "id": "x"})
    assert event.action == action


def test_unknown_event_type_is_ignored_not_refused():
    [event] = parse({"event_type": "snooze", "id": "x"})
    assert event.action == "ignore"
    assert "snooze" in event.reason


def test_id_is_the_only_required_field():
    with pytest.raises(FormatError) as caught:
        parse({"event_type": "create", "title": "no id"})
    assert caught.value.errors == ["'id' (or 'Id') is missing or blank"]
    with pytest.raises(FormatError):
        parse({"event_type": "resolve", "id": {"not": "an id"}})


@pytest.mark.parametrize(
    "value,expected",
    [("SEV-1", "critical"), ("SEV-2", "error"), ("SEV-3", "warning"), ("SEV-4", "info"), ("SEV-5", "info"),
     ("sev-2", "error"), ("SEV-9", "warning")],
)
def test_incident_severity_table(value, expected):
    [event] = parse({"id": "x", "urgency": "low", "Meta": {"incident_severity": value}})
    assert (event.severity, event.original_severity) == (expected, value)


@pytest.mark.parametrize(
    "value,expected",
    [("critical", "critical"), ("high", "error"), ("medium", "warning"), ("low", "info"), ("silent", "info"),
     ("Urgent-ish", "warning")],
)
def test_urgency_table_when_no_incident_severity(value, expected):
    [event] = parse({"id": "x", "urgency": value})
    assert (event.severity, event.original_severity) == (expected, value)


def test_tags_with_values_become_labels_with_values():
    [event] = parse({"id": "x", "tags": ["env:prod", "team=sre", "plain"]})
    assert event.labels == {"env": "prod", "team": "sre", "plain": ""}
