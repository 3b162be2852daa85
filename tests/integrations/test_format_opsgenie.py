"""Opsgenie's Alert API bodies, from its documentation and from Alertmanager's notifier."""

import json

import pytest

from integrations.formats.base import FormatError
from integrations.formats.heartbeat import named_dedup_key
from integrations.formats.opsgenie import (
    UNALIASED_PREFIX,
    parse,
    parse_acknowledge,
    parse_close,
    parse_description,
    parse_message,
    parse_note,
    parse_ping,
    parse_unacknowledge,
)
from tests.conftest import LOCAL_PAYLOADS

PAYLOADS = LOCAL_PAYLOADS / "opsgenie"


def load(name: str) -> dict:
    return json.loads((PAYLOADS / name).read_text())


def test_the_documented_create_is_a_critical_trigger_deduped_by_its_alias():
    [event] = parse(load("opsgenie_docs_create_alert.json"))
    assert (event.action, event.dedup_key, event.summary) == (
        "trigger", "Life is too short for no alias", "An example alert message")
    assert (event.severity, event.original_severity, event.entity) == ("critical", "P1", "An example entity")
    assert event.labels == {"key1": "value1", "key2": "value2"}
    assert event.details["description"] == "Every alert needs a description"
    assert event.details["tags"] == ["OverwriteQuietHours", "Critical"]
    assert len(event.details["responders"]) == 8 and event.details["actions"] == ["Restart", "AnExampleAction"]


def test_alertmanagers_create_keeps_its_message_and_labels():
    body = load("alertmanager_opsgenie_create.json")
    [event] = parse(body)
    assert event.summary == "[FIRING:1] DiskFull srv01 (critical)"
    assert event.dedup_key == body["alias"] and event.dedupable
    assert event.labels["severity"] == "critical" and event.severity == "warning"  # no priority: P3
    assert event.source.startswith("http://alertmanager:9093")


@pytest.mark.parametrize("priority,severity", [("P1", "critical"), ("P2", "error"), ("P3", "warning"),
                                               ("P4", "info"), ("P5", "info"), ("p2", "error")])
def test_priority_maps_to_severity(priority, severity):
    [event] = parse({"message": "m", "priority": priority})
    assert event.severity == severity


def test_a_create_without_alias_never_dedups():
    first, second = parse({"message": "m"})[0], parse({"message": "m"})[0]
    assert first.dedup_key.startswith(UNALIASED_PREFIX) and first.dedup_key != second.dedup_key
    assert not first.dedupable


def test_a_long_message_is_kept_whole():
    [event] = parse({"message": "x" * 500})
    assert len(event.summary) == 500


@pytest.mark.parametrize("body,named", [
    ({}, "'message' is required"),
    ({"message": "  "}, "'message' can not be empty"),
    ({"message": 5}, "'message' must be a string"),
    ({"message": "m", "alias": "a" * 513}, "'alias' is longer than 512"),
    ({"message": "m", "priority": "P9"}, "'priority'"),
    ({"message": "m", "details": ["a"]}, "'details'"),
    ({"message": "m", "tags": "a,b"}, "'tags' must be a list"),
])
def test_invalid_creates_name_the_field(body, named):
    with pytest.raises(FormatError) as raised:
        parse(body)
    assert named in " ".join(raised.value.errors)


def test_close_by_alias_resolves_that_dedup_key():
    [event] = parse_close(load("alertmanager_opsgenie_close.json"), {"identifier": "abc", "identifierType": "alias"})
    assert (event.action, event.dedup_key, event.incident_ref) == ("resolve", "abc", None)


def test_close_defaults_to_the_incident_id_as_opsgenie_defaults_to_id():
    [event] = parse_close(load("opsgenie_docs_close_alert.json"), {"identifier": "42"})
    assert (event.action, event.incident_ref) == ("resolve", 42)
    [tiny] = parse_acknowledge({}, {"identifier": "42", "identifierType": "tiny"})
    assert (tiny.action, tiny.incident_ref) == ("acknowledge", 42)


def test_an_id_that_is_no_incident_id_matches_nothing():
    [event] = parse_close({}, {"identifier": "8743a1b2-11da-480e-8493-744660987bef"})
    assert event.incident_ref == -1


def test_an_unknown_identifier_type_is_refused():
    with pytest.raises(FormatError, match="identifierType"):
        parse_close({}, {"identifier": "a", "identifierType": "name"})


def test_unacknowledge_is_understood_and_ignored():
    [event] = parse_unacknowledge({}, {"identifier": "a", "identifierType": "alias"})
    assert event.action == "ignore" and "un-acknowledge" in event.reason


def test_a_note_carries_its_text_and_user():
    [event] = parse_note(load("opsgenie_docs_add_note.json"), {"identifier": "a", "identifierType": "alias"})
    assert (event.action, event.note) == ("note", "Action executed via Alert API (Monitoring Script)")
    with pytest.raises(FormatError, match="'note' is required"):
        parse_note({}, {"identifier": "a"})


def test_message_and_description_updates():
    alias = {"identifier": "a", "identifierType": "alias"}
    [message] = parse_message(load("opsgenie_docs_update_message.json"), alias)
    [description] = parse_description(load("alertmanager_opsgenie_update_description.json"), alias)
    assert (message.action, message.updates) == ("update", {"summary": "New message"})
    assert description.updates["description"].startswith("Disk usage above 95%")


def test_a_ping_names_its_heartbeat():
    [event] = parse_ping({}, {"name": "nightly-backup"})
    assert (event.action, event.heartbeat_name, event.dedup_key) == (
        "heartbeat", "nightly-backup", named_dedup_key("nightly-backup"))
    with pytest.raises(FormatError):
        parse_ping({}, {"name": "x" * 101})
