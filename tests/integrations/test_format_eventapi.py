import pytest

from integrations.formats import FORMATS
from integrations.formats.base import FormatError
from integrations.formats.eventapi import dedup_key_for
from tests.conftest import load_payload

parse = FORMATS["eventapi"]


def test_documented_example_field_for_field():
    body = load_payload("eventapi/api_md_example.json")
    [event] = parse(body)
    assert event.action == "trigger"
    assert event.summary == "K8s prod API 5xx spike"
    assert (event.severity, event.original_severity) == ("error", "high")
    assert event.labels == {"service": "api", "env": "prod"}
    assert event.entity == "svc-api"
    assert event.runbook == "rb-5xx"
    # The extra field "team" is kept beside the details text.
    assert event.details == {"details": "5xx spiking since 12:03 UTC", "team": "sre"}
    assert event.raw is body


def test_without_extra_fields_details_stay_the_text():
    [event] = parse({"summary": "s", "severity": "low", "details": "plain text"})
    assert event.details == "plain text"


def test_dedup_key_is_a_stable_fingerprint_of_summary_and_sorted_labels():
    a = parse({"summary": "s", "severity": "low", "labels": {"a": "1", "b": "2"}})[0]
    b = parse({"summary": "s", "severity": "high", "labels": {"b": "2", "a": "1"}, "extra": 1})[0]
    c = parse({"summary": "s", "severity": "low", "labels": {"a": "1", "b": "3"}})[0]
    assert a.dedup_key == b.dedup_key == dedup_key_for("s", {"a": "1", "b": "2"})
    assert a.dedup_key != c.dedup_key


def test_dedup_key_field_wins_over_the_fingerprint():
    [event] = parse({"summary": "s", "severity": "low", "dedupKey": "mine"})
    assert event.dedup_key == "mine"


@pytest.mark.parametrize(
    "value,expected",
    [("low", "info"), ("medium", "warning"), ("high", "error"), ("critical", "critical"), ("HIGH", "error")],
)
def test_severity_table(value, expected):
    [event] = parse({"summary": "s", "severity": value})
    assert (event.severity, event.original_severity) == (expected, value)


@pytest.mark.parametrize("value", ["bogus", "error", "warning", 3, ["high"]])
def test_severity_outside_the_table_is_refused(value):
    with pytest.raises(FormatError) as caught:
        parse({"summary": "s", "severity": value})
    assert any("'severity'" in e for e in caught.value.errors)


def test_every_offending_field_is_named():
    with pytest.raises(FormatError) as caught:
        parse({"labels": {"nested": {"a": 1}, "ok": "x"}, "details": {"not": "text"}, "entityId": ["x"],
               "runbookId": {"x": 1}})
    joined = " ".join(caught.value.errors)
    for name in ("'summary'", "'severity'", "'labels.nested'", "'details'", "'entityId'", "'runbookId'"):
        assert name in joined
    assert "'labels.ok'" not in joined


def test_labels_must_be_an_object():
    with pytest.raises(FormatError) as caught:
        parse({"summary": "s", "severity": "low", "labels": ["a"]})
    assert caught.value.errors == ["'labels' must be an object of strings, numbers or booleans"]


def test_scalar_labels_become_text():
    [event] = parse({"summary": "s", "severity": "low", "labels": {"n": 3, "b": True, "f": 1.5}})
    assert event.labels == {"n": "3", "b": "true", "f": "1.5"}


@pytest.mark.parametrize("action", ["acknowledge", "resolve", "RESOLVE"])
def test_closing_by_summary_and_labels_finds_the_same_dedup_key(action):
    trigger = parse({"summary": "s", "severity": "low", "labels": {"a": "1"}})[0]
    [event] = parse({"action": action, "summary": "s", "labels": {"a": "1"}, "severity": "nonsense"})
    assert event.action == action.lower()
    assert event.dedup_key == trigger.dedup_key
    assert event.original_severity == "nonsense"  # kept, never a reason to refuse a close


def test_closing_needs_a_dedup_key_or_a_summary():
    with pytest.raises(FormatError) as caught:
        parse({"action": "resolve"})
    assert "'dedupKey' or 'summary'" in caught.value.errors[0]


def test_unknown_action_is_refused():
    with pytest.raises(FormatError) as caught:
        parse({"action": "explode", "summary": "s", "severity": "low"})
    assert caught.value.errors == ["'action' must be trigger, acknowledge or resolve"]


def test_cloudwatch_sns_body_sent_by_mistake_names_summary_and_severity():
    with pytest.raises(FormatError) as caught:
        parse(load_payload("negative/cloudwatch_alarm_sns_payload.json"))
    joined = " ".join(caught.value.errors)
    assert "'summary'" in joined and "'severity'" in joined
