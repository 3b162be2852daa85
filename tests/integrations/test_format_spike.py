import pytest

from integrations.formats import FORMATS
from tests.conftest import load_payload

parse = FORMATS["spike"]


def test_documented_create_field_for_field():
    [event] = parse(load_payload("spike/spike_docs_create.json"))
    assert event.action == "trigger"
    assert event.dedup_key == event.summary == "CPU usage above 90% on api-1"
    assert (event.severity, event.original_severity) == ("critical", "sev1")
    assert event.details == {"host": "api-1", "cpu": "93%"}
    assert event.dedupable


def test_documented_resolve():
    [event] = parse(load_payload("spike/spike_docs_resolve.json"))
    assert (event.action, event.dedup_key) == ("resolve", "CPU usage above 90% on api-1")


def test_body_may_be_a_string():
    [event] = parse({"title": "t", "body": "plain text"})
    assert event.details == "plain text"


@pytest.mark.parametrize(
    "value,expected",
    [("sev1", "critical"), ("sev2", "error"), ("sev3", "warning"),
     # Keep's Spike severities
     ("critical", "critical"), ("high", "error"), ("medium", "warning"), ("warning", "warning"),
     ("low", "info"), ("info", "info"), ("SEV2", "error"), ("sev9", "warning")],
)
def test_severity_table(value, expected):
    [event] = parse({"title": "t", "severity": value, "priority": "p5"})
    assert (event.severity, event.original_severity) == (expected, value)


@pytest.mark.parametrize(
    "value,expected",
    [("p1", "critical"), ("p2", "error"), ("p3", "warning"), ("p4", "info"), ("p5", "info"), ("P2", "error"),
     ("urgent", "warning")],
)
def test_priority_table_when_severity_is_absent(value, expected):
    [event] = parse({"title": "t", "priority": value})
    assert (event.severity, event.original_severity) == (expected, value)


@pytest.mark.parametrize("status", ["resolve", "resolved", "RESOLVED"])
def test_resolve_statuses(status):
    assert parse({"title": "t", "status": status})[0].action == "resolve"


def test_untitled_alerts_never_dedup():
    a, b = parse({"body": "x"})[0], parse({"title": "  ", "body": "x"})[0]
    assert a.summary == b.summary == ""
    assert not a.dedupable and not b.dedupable
    assert a.dedup_key != b.dedup_key


def test_untitled_resolve_is_ignored():
    [event] = parse({"status": "resolve"})
    assert event.action == "ignore"
