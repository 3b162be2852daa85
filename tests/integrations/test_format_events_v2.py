"""The Events API v2 format alone (dict in, events out), with PagerDuty's documented bodies
and what Zabbix, Alertmanager and Datadog send; the door's own cases are in
test_door_events_v2.py."""

import pytest

from integrations.formats import FORMATS
from integrations.formats.base import FormatError
from tests.conftest import load_payload

parse = FORMATS["events_v2"]


def test_documented_trigger_field_for_field():
    [event] = parse(load_payload("pagerduty/pd_docs_trigger.json"))
    assert (event.action, event.dedup_key) == ("trigger", "samplekeyhere")
    assert event.summary == "Example alert on host1.example.com"
    assert (event.severity, event.original_severity) == ("info", "info")
    assert (event.component, event.group, event.event_class) == ("postgres", "prod-datapipe", "deploy")
    assert event.details == {"ping time": "1500ms", "load avg": 0.75}
    assert event.links == [
        {"href": "https://example.com/", "text": "Link text"},
        {"href": "https://monitoring.example.com", "text": "Sample Monitoring Service"},
    ]
    assert event.images[0]["alt"] == "Example text"


@pytest.mark.parametrize("name", ["pd_docs_resolve.json", "alertmanager_pagerduty_configs_resolve.json",
                                  "zabbix_media_resolve.json"])
def test_documented_resolves_need_only_the_action_and_the_dedup_key(name):
    body = load_payload(f"pagerduty/{name}")
    [event] = parse(body)
    assert (event.action, event.dedup_key) == ("resolve", body["dedup_key"])


def test_zabbix_trigger_keeps_its_event_id_as_the_dedup_key():
    [event] = parse(load_payload("pagerduty/zabbix_media_trigger.json"))
    assert (event.dedup_key, event.severity, event.source) == ("28617", "error", "web-01 : 10.0.0.21")


@pytest.mark.parametrize("transition,action", [("Triggered", "trigger"), ("Re-Warn", "trigger"),
                                               ("No Data", "trigger"), ("Recovered", "resolve")])
def test_datadog_transitions_are_actions(transition, action):
    body = {"event_action": transition, "dedup_key": "dd-1",
            "payload": {"summary": "CPU high", "severity": "P2", "source": "datadog"}}
    [event] = parse(body)
    assert event.action == action


def test_a_trigger_names_every_missing_field_and_a_severity_in_no_table():
    with pytest.raises(FormatError) as error:
        parse({"event_action": "trigger", "payload": {"severity": "bogus"}})
    assert error.value.errors == [
        "'payload.summary' is missing or blank",
        "'payload.source' is missing or blank",
        "'payload.severity' 'bogus' is not one of critical, error, warning, info "
        "(or a Datadog priority or Zabbix severity name)",
    ]


def test_a_trigger_without_a_dedup_key_gets_a_fresh_one():
    body = {"event_action": "trigger", "payload": {"summary": "x", "severity": "info", "source": "y"}}
    assert parse(body)[0].dedup_key != parse(body)[0].dedup_key
