"""T04, T05 and T29: dedup scoping, PagerDuty's lifecycle and field limits, beyond what
tests/integrations/test_door_events_v2.py already proves (generated keys, trigger after
resolve, unknown closes, trigger while acknowledged, the 300-character dedup key)."""

from __future__ import annotations

import hashlib

import pytest

from incidents.models import Alert, Event, Incident
from tests.factories import make_key

pytestmark = pytest.mark.django_db


def trigger(raw_key, dedup_key="disk-full-srv01", **payload):
    body = {
        "routing_key": raw_key,
        "event_action": "trigger",
        "dedup_key": dedup_key,
        "payload": {"summary": "Disk usage > 90% on srv01", "severity": "critical", "source": "prometheus"},
    }
    body["payload"].update(payload)
    return body


def close(raw_key, action, dedup_key="disk-full-srv01"):
    return {"routing_key": raw_key, "event_action": action, "dedup_key": dedup_key}


# --- T04: dedup is scoped to the integration key ------------------------------------------


def test_same_dedup_key_on_two_integration_keys_makes_two_incidents(api, raw_key, key):
    other_key, other_raw = make_key(team=key.team)
    first = api.post("/v2/enqueue", trigger(raw_key), format="json").json()
    second = api.post("/v2/enqueue", trigger(other_raw), format="json").json()
    assert first["incident_id"] != second["incident_id"]
    assert Incident.objects.get(pk=first["incident_id"]).integration_key == key
    assert Incident.objects.get(pk=second["incident_id"]).integration_key == other_key
    # Resolving through one key leaves the other key's incident open.
    api.post("/v2/enqueue", close(raw_key, "resolve"), format="json")
    assert Incident.objects.get(pk=first["incident_id"]).status == "resolved"
    assert Incident.objects.get(pk=second["incident_id"]).status == "triggered"


def test_no_alert_row_ever_has_an_empty_dedup_key(api, raw_key):
    for body in (trigger(raw_key, dedup_key=None), trigger(raw_key, dedup_key=""), trigger(raw_key, dedup_key="  ")):
        assert api.post("/v2/enqueue", body, format="json").status_code == 202
    assert Alert.objects.count() == 3
    assert not Alert.objects.filter(dedup_key__regex=r"^\s*$").exists()
    assert not Event.objects.filter(dedup_key="").exists()


# --- T05: lifecycle -------------------------------------------------------------------------


def test_acknowledge_while_acknowledged_is_accepted_and_changes_nothing(api, raw_key):
    incident_id = api.post("/v2/enqueue", trigger(raw_key), format="json").json()["incident_id"]
    api.post("/v2/enqueue", close(raw_key, "acknowledge"), format="json")
    acknowledged_at = Incident.objects.get().acknowledged_at
    again = api.post("/v2/enqueue", close(raw_key, "acknowledge"), format="json")
    assert again.status_code == 202 and again.json()["incident_id"] == incident_id
    incident = Incident.objects.get()
    assert (incident.status, incident.acknowledged_at) == ("acknowledged", acknowledged_at)
    assert Event.objects.order_by("-id").first().outcome == "ignored"


def test_trigger_on_an_acknowledged_incident_pages_nobody(api, raw_key, django_capture_on_commit_callbacks):
    api.post("/v2/enqueue", trigger(raw_key), format="json")
    api.post("/v2/enqueue", close(raw_key, "acknowledge"), format="json")
    before = Incident.objects.get()
    with django_capture_on_commit_callbacks() as callbacks:
        response = api.post("/v2/enqueue", trigger(raw_key, summary="Disk 99%"), format="json")
    assert response.status_code == 202
    after = Incident.objects.get()
    assert (after.status, after.alert_count) == ("acknowledged", 2)
    # Escalation does not restart: nothing due, same step, and no task handed to the broker.
    assert after.next_escalation_at is None
    assert (after.escalation_step, after.escalation_repeat) == (before.escalation_step, before.escalation_repeat)
    assert callbacks == []


def test_closing_an_unknown_dedup_key_leaves_other_incidents_alone(api, raw_key):
    api.post("/v2/enqueue", trigger(raw_key), format="json")
    before = Incident.objects.values().get()
    for action in ("acknowledge", "resolve"):
        response = api.post("/v2/enqueue", close(raw_key, action, dedup_key="never-seen"), format="json")
        assert response.status_code == 202 and response.json()["incident_id"] is None
    assert Incident.objects.values().get() == before
    assert list(Event.objects.order_by("id").values_list("outcome", flat=True)) == ["created", "ignored", "ignored"]


def test_every_resolve_after_the_first_is_ignored(api, raw_key):
    incident_id = api.post("/v2/enqueue", trigger(raw_key), format="json").json()["incident_id"]
    for _ in range(2):
        assert api.post("/v2/enqueue", close(raw_key, "resolve"), format="json").status_code == 202
    assert Incident.objects.get(pk=incident_id).status == "resolved"
    assert list(Event.objects.order_by("id").values_list("outcome", flat=True)) == ["created", "resolved", "ignored"]


# --- T29: field limits at their exact boundaries ---------------------------------------------


def test_summary_of_1024_is_kept_whole_and_1025_loses_only_its_last_character(api, raw_key):
    exact = "".join(chr(ord("a") + i % 26) for i in range(1024))
    api.post("/v2/enqueue", trigger(raw_key, dedup_key="exact", summary=exact), format="json")
    api.post("/v2/enqueue", trigger(raw_key, dedup_key="over", summary=exact + "Z"), format="json")
    assert Incident.objects.get(dedup_key="exact").summary == exact
    assert Incident.objects.get(dedup_key="over").summary == exact


def test_dedup_key_of_255_is_kept_and_256_follows_the_long_key_rule(api, raw_key):
    kept, long = "k" * 255, "k" * 256
    a = api.post("/v2/enqueue", trigger(raw_key, dedup_key=kept), format="json").json()
    b = api.post("/v2/enqueue", trigger(raw_key, dedup_key=long), format="json").json()
    assert a["dedup_key"] == kept
    assert b["dedup_key"] == "k" * 190 + "~" + hashlib.sha256(long.encode()).hexdigest()
    assert len(b["dedup_key"]) == 255
    acked = api.post("/v2/enqueue", close(raw_key, "acknowledge", dedup_key=long), format="json").json()
    assert acked["incident_id"] == b["incident_id"]
    assert Incident.objects.get(pk=b["incident_id"]).status == "acknowledged"
    assert Incident.objects.get(pk=a["incident_id"]).status == "triggered"


def eventapi(api, raw_key, body):
    return api.post("/api/webhook/ingest", body, format="json", HTTP_AUTHORIZATION=f"Bearer {raw_key}")


def test_eventapi_names_every_offending_field(api, raw_key):
    response = eventapi(api, raw_key, {"summary": "", "severity": "urgent",
                                       "labels": {"service": "api", "owner": {"team": "sre"}, "tags": ["a"]}})
    assert response.status_code == 400
    joined = " ".join(response.json()["errors"])
    for field in ("'summary'", "'severity'", "'labels.owner'", "'labels.tags'"):
        assert field in joined
    assert "'labels.service'" not in joined
    assert not Incident.objects.exists()


@pytest.mark.parametrize("severity", ["bogus", "P1", "warning", "sev1"])
def test_eventapi_severity_outside_its_table_is_400(api, raw_key, severity):
    response = eventapi(api, raw_key, {"summary": "API 5xx", "severity": severity})
    assert response.status_code == 400
    assert "'severity'" in " ".join(response.json()["errors"])


def test_eventapi_summary_over_1024_is_cut(api, raw_key):
    response = eventapi(api, raw_key, {"summary": "s" * 1500, "severity": "high"})
    assert response.status_code == 202
    assert Incident.objects.get().summary == "s" * 1024
