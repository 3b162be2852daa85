import copy

import pytest

from integrations.formats import FORMATS
from integrations.formats.base import FormatError, fingerprint
from tests.conftest import load_payload

parse = FORMATS["alertmanager"]


def firing(fingerprint_="fp1", **labels):
    return {"status": "firing", "labels": {"alertname": "HighLoad", **labels},
            "annotations": {"summary": "Load is high"}, "fingerprint": fingerprint_}


def envelope(*alerts, **fields):
    return {"version": "4", "status": "firing", "groupKey": "{}:{alertname=\"HighLoad\"}", "receiver": "vigil",
            "groupLabels": {"alertname": "HighLoad"}, "commonLabels": {}, "commonAnnotations": {},
            "externalURL": "http://am.example:9093", "truncatedAlerts": 0, "alerts": list(alerts), **fields}


def test_kubejobcompletion_envelope_field_for_field():
    body = load_payload("alertmanager/kubejobcompletion_v4_envelope.json")
    [event] = parse(body)
    alert = body["alerts"][0]
    assert event.action == "trigger"
    # No fingerprint in this alert: a hash of its sorted labels.
    assert event.dedup_key == fingerprint(alert["labels"])
    # Only `message` and `runbook_url` annotations: the summary is the alertname.
    assert event.summary == "KubeJobCompletion"
    assert (event.severity, event.original_severity) == ("warning", "warning")
    assert event.labels == alert["labels"]
    assert event.runbook == alert["annotations"]["runbook_url"]
    assert event.links[0] == {"href": alert["generatorURL"], "text": "Source"}
    assert {"href": "http://alertmanager.example:9093", "text": "Alertmanager"} in event.links
    assert event.details["annotations"]["message"].startswith("Job default/email-tracking")
    assert event.details["commonLabels"] == body["commonLabels"]
    assert event.details["groupLabels"] == {"alertname": "KubeJobCompletion"}
    assert event.details["externalURL"] == "http://alertmanager.example:9093"
    assert event.details["truncatedAlerts"] == 0
    assert event.group_key == body["groupKey"]
    assert event.source == "10.143.139.7:8443"
    assert event.raw == alert


def test_grafana_oncall_example_keeps_its_extra_alert_field():
    [event] = parse(load_payload("alertmanager/grafana_oncall_example_payload.json"))
    assert event.summary == "This alert was sent by user for the demonstration purposes"
    assert event.details["amixr_demo"] is True
    # An empty generatorURL is no link.
    assert all(link["text"] != "Source" for link in event.links)
    assert event.severity == "warning"  # no severity label


def test_community_resolved_alert_with_capitalised_severity():
    [event] = parse(load_payload("alertmanager/community_k8s_resolved.json"))
    assert (event.action, event.dedup_key) == ("resolve", "fbab788ec4c1018b")
    assert event.summary == "Kubernetes Deployment Replicas Mismatch"


def test_summary_falls_back_to_description_then_alertname():
    alert = firing()
    alert["annotations"] = {"description": "from description"}
    assert parse(envelope(alert))[0].summary == "from description"
    alert["annotations"] = {}
    assert parse(envelope(alert))[0].summary == "HighLoad"


def test_one_event_per_alert():
    events = parse(envelope(firing("a"), firing("b"), {**firing("c"), "status": "resolved"}))
    assert [(e.action, e.dedup_key) for e in events] == [("trigger", "a"), ("trigger", "b"), ("resolve", "c")]


def test_one_bad_alert_becomes_an_invalid_event_and_the_others_stand():
    bad_status = {**firing("b"), "status": "exploded"}
    events = parse(envelope(firing("a"), "not an object", bad_status, {**firing("d"), "labels": ["x"]}))
    assert [e.action for e in events] == ["trigger", "invalid", "invalid", "invalid"]
    assert events[1].errors == ["alerts[1]: is not an object"]
    assert "alerts[2]: 'status'" in events[2].errors[0]
    assert events[2].dedup_key == "b"
    assert "alerts[3]: 'labels' must be an object" in events[3].errors


def test_empty_alerts_is_no_events():
    assert parse(envelope()) == []


@pytest.mark.parametrize("body", [{}, {"alerts": "nope"}, {"alerts": {"a": 1}}])
def test_alerts_must_be_a_list(body):
    with pytest.raises(FormatError) as caught:
        parse(body)
    assert caught.value.errors == ["'alerts' is missing or not a list"]


def test_truncated_alerts_are_recorded():
    [event] = parse(envelope(firing(), truncatedAlerts=3))
    assert event.details["truncatedAlerts"] == 3
    assert "3 alert(s)" in event.reason


@pytest.mark.parametrize(
    "value,expected",
    [("critical", "critical"), ("page", "critical"), ("P1", "critical"), ("error", "error"), ("high", "error"),
     ("major", "error"), ("p2", "error"), ("warning", "warning"), ("warn", "warning"), ("medium", "warning"),
     ("p3", "warning"), ("info", "info"), ("low", "info"), ("none", "info"), ("p4", "info"), ("p5", "info"),
     ("Warning", "warning"), ("disaster", "warning")],
)
def test_severity_table_is_lenient(value, expected):
    [event] = parse(envelope(firing(severity=value)))
    assert (event.severity, event.original_severity) == (expected, value)


@pytest.mark.parametrize("alertname", ["Watchdog", "DeadMansSwitch"])
def test_watchdog_alerts_are_heartbeats(alertname):
    [event] = parse(envelope(firing(alertname=alertname)))
    assert event.action == "heartbeat"


def test_a_key_can_name_more_watchdog_alerts():
    [event] = parse(envelope(firing(alertname="AlwaysOn")), watchdog_alertnames=["AlwaysOn"])
    assert event.action == "heartbeat"


def test_a_resolved_watchdog_is_ignored():
    [event] = parse(envelope({**firing(alertname="Watchdog"), "status": "resolved"}))
    assert event.action == "ignore"


def test_group_mode_makes_one_event_per_notification_keyed_by_group_key():
    body = envelope(firing("a", severity="warning"), firing("b", severity="critical"),
                    firing("w", alertname="Watchdog"),
                    commonAnnotations={"summary": "Load is high"})
    events = parse(body, group_by_group_key=True)
    assert [e.action for e in events] == ["trigger", "heartbeat"]
    group = events[0]
    assert group.dedup_key == group.group_key == body["groupKey"]
    assert group.summary == "Load is high"
    assert group.severity == "critical"  # the most severe member without a common severity
    assert [a["dedup_key"] for a in group.details["alerts"]] == ["a", "b"]


def test_group_mode_resolves_when_the_group_is_resolved():
    resolved = [{**firing("a"), "status": "resolved"}, {**firing("b"), "status": "resolved"}]
    body = envelope(*resolved, status="resolved")
    [event] = parse(body, group_by_group_key=True)
    assert (event.action, event.dedup_key) == ("resolve", body["groupKey"])


def test_group_mode_summary_falls_back_to_group_labels():
    body = envelope(firing("a"))
    [event] = parse(body, group_by_group_key=True)
    assert event.summary == "alertname=HighLoad"


def test_parse_does_not_change_the_body():
    body = load_payload("alertmanager/kubejobcompletion_v4_envelope.json")
    before = copy.deepcopy(body)
    parse(body)
    assert body == before
