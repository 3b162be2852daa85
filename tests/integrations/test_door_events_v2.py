import copy

import pytest

from incidents.models import Alert, Event, Incident
from tests.conftest import load_payload

pytestmark = pytest.mark.django_db

PATHS = ["/api/events/ingest", "/v2/enqueue", "/api/events/ingest/", "/v2/enqueue/"]


def trigger(raw_key, dedup_key="disk-full-srv01", **payload):
    body = {
        "routing_key": raw_key,
        "event_action": "trigger",
        "dedup_key": dedup_key,
        "payload": {"summary": "Disk usage > 90% on srv01", "severity": "critical", "source": "prometheus"},
    }
    body["payload"].update(payload)
    return body


@pytest.mark.parametrize("path", PATHS)
def test_trigger_creates_an_incident_and_answers_202(api, raw_key, key, path):
    response = api.post(path, trigger(raw_key), format="json")
    assert response.status_code == 202
    incident = Incident.objects.get()
    assert response.json() == {
        "status": "success",
        "message": "Event processed",
        "dedup_key": "disk-full-srv01",
        "incident_id": incident.pk,
    }
    assert incident.severity == "critical"
    assert incident.team == key.team
    assert Event.objects.get().outcome == "created"


def test_documented_pagerduty_trigger_is_accepted_unchanged(api, raw_key):
    body = load_payload("pagerduty/pd_docs_trigger.json")
    body["routing_key"] = raw_key
    response = api.post("/v2/enqueue", body, format="json")
    assert response.status_code == 202, response.json()
    incident = Incident.objects.get(pk=response.json()["incident_id"])
    assert incident.summary == "Example alert on host1.example.com"
    assert incident.component == "postgres"
    assert incident.details == {"ping time": "1500ms", "load avg": 0.75}
    assert {"href": "https://example.com/", "text": "Link text"} in incident.links
    assert incident.images[0]["src"].endswith("pagerduty-logo-green.png")


def test_repeat_trigger_updates_the_open_incident(api, raw_key):
    first = api.post("/v2/enqueue", trigger(raw_key), format="json").json()
    second = api.post("/v2/enqueue", trigger(raw_key, summary="Disk 95%"), format="json").json()
    assert first["incident_id"] == second["incident_id"]
    incident = Incident.objects.get()
    assert incident.alert_count == 2
    assert incident.summary == "Disk usage > 90% on srv01"  # title stays the first summary
    assert incident.latest["summary"] == "Disk 95%"
    assert list(Event.objects.order_by("id").values_list("outcome", flat=True)) == ["created", "updated"]


def test_trigger_without_dedup_key_gets_a_generated_one(api, raw_key):
    body = trigger(raw_key)
    del body["dedup_key"]
    a = api.post("/v2/enqueue", body, format="json").json()
    b = api.post("/v2/enqueue", dict(body, dedup_key=""), format="json").json()
    assert a["dedup_key"] and b["dedup_key"] and a["dedup_key"] != b["dedup_key"]
    assert a["incident_id"] != b["incident_id"]
    assert not Alert.objects.filter(dedup_key="").exists()


def test_acknowledge_then_resolve(api, raw_key):
    incident_id = api.post("/v2/enqueue", trigger(raw_key), format="json").json()["incident_id"]
    ack = api.post("/v2/enqueue", {"routing_key": raw_key, "event_action": "acknowledge",
                                   "dedup_key": "disk-full-srv01"}, format="json")
    assert ack.status_code == 202 and ack.json()["incident_id"] == incident_id
    assert Incident.objects.get().status == "acknowledged"
    # A trigger on an acknowledged incident counts it and leaves it acknowledged.
    api.post("/v2/enqueue", trigger(raw_key), format="json")
    incident = Incident.objects.get()
    assert (incident.status, incident.alert_count) == ("acknowledged", 2)
    resolve = api.post("/v2/enqueue", {"routing_key": raw_key, "event_action": "RESOLVE",
                                       "dedup_key": "disk-full-srv01",
                                       "payload": {"severity": "bogus", "timestamp": "not a time"}},
                       format="json")
    assert resolve.status_code == 202
    assert Incident.objects.get().status == "resolved"
    # After the resolve, the same dedup key opens a new incident.
    again = api.post("/v2/enqueue", trigger(raw_key), format="json").json()
    assert again["incident_id"] != incident_id


@pytest.mark.parametrize("action", ["acknowledge", "resolve"])
def test_closing_an_unknown_dedup_key_is_accepted_and_ignored(api, raw_key, action):
    response = api.post("/v2/enqueue", {"routing_key": raw_key, "event_action": action,
                                        "dedup_key": "never-seen"}, format="json")
    assert response.status_code == 202
    assert response.json() == {"status": "success", "message": "Event processed",
                               "dedup_key": "never-seen", "incident_id": None}
    assert Event.objects.get().outcome == "ignored"
    assert not Incident.objects.exists()


def test_every_offending_field_is_named(api, raw_key):
    response = api.post("/v2/enqueue", {"routing_key": raw_key, "event_action": "trigger",
                                        "payload": {"severity": "bogus"}}, format="json")
    assert response.status_code == 400
    body = response.json()
    assert body["status"] == "invalid event" and body["message"] == "Event object is invalid"
    joined = " ".join(body["errors"])
    for field in ("payload.summary", "payload.source", "payload.severity"):
        assert field in joined
    assert not Incident.objects.exists()


@pytest.mark.parametrize("routing_key", [None, "", "ik_unknownunknownunknownunknown1"])
def test_missing_or_unknown_key_is_invalid_routing_key(api, routing_key):
    body = trigger(routing_key)
    if routing_key is None:
        del body["routing_key"]
    response = api.post("/v2/enqueue", body, format="json")
    assert response.status_code == 400
    assert response.json()["errors"] == ["Invalid routing key"]
    assert not Event.objects.exists()


def test_revoked_key_is_invalid_routing_key(api, key, raw_key):
    key.revoke()
    response = api.post("/v2/enqueue", trigger(raw_key), format="json")
    assert response.status_code == 400 and response.json()["errors"] == ["Invalid routing key"]
    assert not Event.objects.exists()


def test_routing_key_header_fallback(api, raw_key):
    body = trigger(raw_key)
    del body["routing_key"]
    response = api.post("/v2/enqueue", body, format="json", HTTP_X_ROUTING_KEY=raw_key)
    assert response.status_code == 202


def test_unparseable_json_gets_pagerduty_envelope(api):
    response = api.generic("POST", "/v2/enqueue", b"{not json", content_type="application/json")
    assert response.status_code == 400
    body = response.json()
    assert body["status"] == "Unrecognized object"
    assert body["message"] == "Event object format is unrecognized"
    assert "JSON parse error" in body["errors"]


def test_json_is_parsed_whatever_the_content_type(api, raw_key):
    import json

    response = api.generic("POST", "/v2/enqueue", json.dumps(trigger(raw_key)), content_type="text/plain")
    assert response.status_code == 202


def test_summary_is_cut_to_1024(api, raw_key):
    api.post("/v2/enqueue", trigger(raw_key, summary="x" * 1025), format="json")
    assert len(Incident.objects.get().summary) == 1024


def test_long_dedup_key_rule_agrees_on_trigger_and_resolve(api, raw_key):
    import hashlib

    long_a = "a" * 300
    long_b = "a" * 299 + "b"
    a = api.post("/v2/enqueue", trigger(raw_key, dedup_key=long_a), format="json").json()
    b = api.post("/v2/enqueue", trigger(raw_key, dedup_key=long_b), format="json").json()
    assert a["dedup_key"] == "a" * 190 + "~" + hashlib.sha256(long_a.encode()).hexdigest()
    assert a["incident_id"] != b["incident_id"]
    api.post("/v2/enqueue", {"routing_key": raw_key, "event_action": "resolve", "dedup_key": long_a},
             format="json")
    assert Incident.objects.get(pk=a["incident_id"]).status == "resolved"
    assert Incident.objects.get(pk=b["incident_id"]).status == "triggered"


@pytest.mark.parametrize(
    "transition,action",
    [("Triggered", "trigger"), ("Re-Triggered", "trigger"), ("Warn", "trigger"), ("Re-Warn", "trigger"),
     ("No Data", "trigger"), ("Re-No Data", "trigger"), ("Renotify", "trigger"), ("Recovered", "resolve")],
)
def test_datadog_alert_transitions(api, raw_key, transition, action):
    api.post("/v2/enqueue", trigger(raw_key, dedup_key="dd"), format="json")
    body = copy.deepcopy(trigger(raw_key, dedup_key="dd"))
    body["event_action"] = transition
    assert api.post("/v2/enqueue", body, format="json").status_code == 202
    expected = "updated" if action == "trigger" else "resolved"
    assert Event.objects.order_by("-id").first().outcome == expected


@pytest.mark.parametrize(
    "value,expected",
    [("critical", "critical"), ("ERROR", "error"), ("warning", "warning"), ("info", "info"),
     ("P1", "critical"), ("P2", "error"), ("P3", "warning"), ("P4", "info"), ("P5", "info"),
     ("Normal", "warning"), ("Low", "info"), ("Disaster", "critical"), ("High", "error"),
     ("Average", "warning"), ("Warning", "warning"), ("Information", "info"),
     ("Not classified", "info")],
)
def test_severity_table(api, raw_key, value, expected):
    response = api.post("/v2/enqueue", trigger(raw_key, severity=value), format="json")
    assert response.status_code == 202
    incident = Incident.objects.get()
    assert (incident.severity, incident.original_severity) == (expected, value)


def test_unknown_severity_on_trigger_is_400(api, raw_key):
    response = api.post("/v2/enqueue", trigger(raw_key, severity="bogus"), format="json")
    assert response.status_code == 400
    assert "payload.severity" in response.json()["errors"][0]


def test_oversized_body_is_413(api, raw_key):
    body = trigger(raw_key, custom_details={"blob": "x" * (512 * 1024)})
    response = api.post("/v2/enqueue", body, format="json")
    assert response.status_code == 413
    assert not Event.objects.exists()


def test_alertmanager_pagerduty_configs_trigger_then_resolve_with_the_full_payload(api, raw_key):
    """Alertmanager's pagerduty_configs send the whole payload on resolve too (its default
    severity "error", templated custom_details): only the key, action and dedup key count."""
    trigger = load_payload("pagerduty/alertmanager_pagerduty_configs_trigger.json")
    trigger["routing_key"] = raw_key
    created = api.post("/v2/enqueue", trigger, format="json").json()
    incident = Incident.objects.get(pk=created["incident_id"])
    assert incident.summary == "[FIRING:1] KubeJobCompletion (default kube-state-metrics warning)"
    assert (incident.severity, incident.source) == ("error", "Alertmanager")
    assert incident.details["num_firing"] == "1"
    resolve = load_payload("pagerduty/alertmanager_pagerduty_configs_resolve.json")
    resolve["routing_key"] = raw_key
    response = api.post("/v2/enqueue", resolve, format="json")
    assert response.status_code == 202
    assert response.json()["incident_id"] == created["incident_id"]
    assert Incident.objects.get().status == "resolved"
    assert Event.objects.order_by("-id").first().outcome == "resolved"
