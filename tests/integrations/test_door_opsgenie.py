"""The Opsgenie door over HTTP: Opsgenie's answers and envelope, every action on an alert,
request status, named heartbeats, and API.md's common rules in Opsgenie's shapes."""

import json
import uuid
from datetime import timedelta

import pytest
from django.utils import timezone

from incidents.models import Event, Incident, TimelineEntry
from integrations.formats.heartbeat import named_dedup_key
from integrations.heartbeat import check_heartbeats
from integrations.models import NamedHeartbeat
from tests.conftest import load_payload
from tests.integrations.test_door_common_rules import rows_written

pytestmark = pytest.mark.django_db


def genie(raw_key: str) -> dict:
    return {"HTTP_AUTHORIZATION": f"GenieKey {raw_key}"}


def send(api, raw_key, path, body=None, method="POST", raw=None):
    data = raw if raw is not None else ("" if body is None else json.dumps(body))
    return api.generic(method, path, data, content_type="application/json", **genie(raw_key))


def create(api, raw_key, **fields):
    return send(api, raw_key, "/v2/alerts", {"message": "Disk full on srv01", "alias": "disk-srv01", **fields})


def assert_envelope(response, status: int, *fields: str) -> dict:
    assert response.status_code == status, response.content
    body = response.json()
    assert set(body) == {*fields, "took", "requestId"}
    assert isinstance(body["took"], float) and uuid.UUID(body["requestId"])
    return body


def test_create_is_202_in_opsgenies_shape_with_the_event_already_stored(api, raw_key):
    response = create(api, raw_key, priority="P2")
    body = assert_envelope(response, 202, "result")
    assert body["result"] == "Request will be processed"
    incident = Incident.objects.get()
    assert (incident.summary, incident.dedup_key, incident.severity) == ("Disk full on srv01", "disk-srv01", "error")
    assert str(Event.objects.get().request_id) == body["requestId"]


def test_the_documented_create_opens_a_critical_incident(api, raw_key):
    assert send(api, raw_key, "/v2/alerts", load_payload("opsgenie/opsgenie_docs_create_alert.json")).status_code == 202
    incident = Incident.objects.get()
    assert (incident.severity, incident.entity, incident.labels["key1"]) == ("critical", "An example entity", "value1")


def test_the_same_alias_dedups_and_no_alias_opens_a_new_incident_each_time(api, raw_key):
    create(api, raw_key)
    create(api, raw_key)
    assert Incident.objects.get().alert_count == 2
    send(api, raw_key, "/v2/alerts", {"message": "no alias"})
    send(api, raw_key, "/v2/alerts", {"message": "no alias"})
    assert Incident.objects.filter(summary="no alias").count() == 2


def test_a_512_character_alias_is_fitted_like_any_long_dedup_key(api, raw_key):
    alias = "a" * 512
    create(api, raw_key, alias=alias)
    create(api, raw_key, alias=alias)
    incident = Incident.objects.get()
    assert incident.alert_count == 2 and len(incident.dedup_key) <= 255
    send(api, raw_key, f"/v2/alerts/{alias}/close?identifierType=alias", {})
    assert Incident.objects.get().status == "resolved"


def test_alertmanagers_close_by_alias_resolves(api, raw_key):
    body = load_payload("opsgenie/alertmanager_opsgenie_create.json")
    send(api, raw_key, "/v2/alerts", body)
    response = send(api, raw_key, f"/v2/alerts/{body['alias']}/close?identifierType=alias",
                    load_payload("opsgenie/alertmanager_opsgenie_close.json"))
    assert assert_envelope(response, 202, "result")["result"] == "Request will be processed"
    assert Incident.objects.get().status == "resolved"


@pytest.mark.parametrize("identifier_type", ["id", "tiny", None])
def test_close_and_acknowledge_by_the_incident_id(api, raw_key, identifier_type):
    send(api, raw_key, "/v2/alerts", {"message": "no alias"})
    incident = Incident.objects.get()
    query = f"?identifierType={identifier_type}" if identifier_type else ""  # Opsgenie's default is id
    assert send(api, raw_key, f"/v2/alerts/{incident.pk}/acknowledge{query}").status_code == 202
    assert Incident.objects.get().status == "acknowledged"
    assert send(api, raw_key, f"/v2/alerts/{incident.pk}/close{query}", {"note": "done"}).status_code == 202
    assert Incident.objects.get().status == "resolved"


def test_an_unknown_id_or_alias_is_accepted_and_ignored(api, raw_key):
    for path in ("/v2/alerts/8743a1b2-11da-480e-8493-744660987bef/close", "/v2/alerts/999999/acknowledge",
                 "/v2/alerts/nope/close?identifierType=alias"):
        assert send(api, raw_key, path, {}).status_code == 202
    assert set(Event.objects.values_list("outcome", flat=True)) == {"ignored"}
    assert not Incident.objects.exists()


def test_another_keys_incident_id_is_not_reachable(api, raw_key, team):
    from tests.conftest import make_key

    _other, other_raw = make_key(team=team)
    send(api, other_raw, "/v2/alerts", {"message": "theirs"})
    theirs = Incident.objects.get()
    send(api, raw_key, f"/v2/alerts/{theirs.pk}/close", {})
    assert Incident.objects.get().status == "triggered"


def test_unacknowledge_is_accepted_and_leaves_the_acknowledgement(api, raw_key):
    create(api, raw_key)
    send(api, raw_key, "/v2/alerts/disk-srv01/acknowledge?identifierType=alias")
    response = send(api, raw_key, "/v2/alerts/disk-srv01/unacknowledge?identifierType=alias")
    assert response.status_code == 202
    assert Incident.objects.get().status == "acknowledged"
    assert "un-acknowledge" in Event.objects.first().reason


def test_a_note_lands_on_the_timeline_even_after_the_close(api, raw_key):
    create(api, raw_key)
    send(api, raw_key, "/v2/alerts/disk-srv01/close?identifierType=alias")
    response = send(api, raw_key, "/v2/alerts/disk-srv01/notes?identifierType=alias",
                    load_payload("opsgenie/opsgenie_docs_add_note.json"))
    assert response.status_code == 202
    note = TimelineEntry.objects.get(kind="note")
    assert note.message == "Note from the alert source: Action executed via Alert API (Monitoring Script)"


@pytest.mark.parametrize("method", ["PUT", "POST"])
def test_message_and_description_updates_keep_the_first_title(api, raw_key, method):
    create(api, raw_key, description="90% full")
    send(api, raw_key, "/v2/alerts/disk-srv01/message?identifierType=alias", {"message": "Disk 95% on srv01"}, method)
    send(api, raw_key, "/v2/alerts/disk-srv01/description?identifierType=alias", {"description": "95% full"}, method)
    incident = Incident.objects.get()
    assert incident.summary == "Disk full on srv01" and incident.alert_count == 1
    assert incident.latest["summary"] == "Disk 95% on srv01"
    assert incident.latest["details"]["description"] == "95% full"
    # Alertmanager re-sends the same text with every notification: nothing changes.
    send(api, raw_key, "/v2/alerts/disk-srv01/message?identifierType=alias", {"message": "Disk 95% on srv01"}, method)
    assert Event.objects.first().outcome == "ignored"


def test_request_status_reports_what_a_request_did(api, raw_key):
    request_id = create(api, raw_key).json()["requestId"]
    body = assert_envelope(api.get(f"/v2/alerts/requests/{request_id}", **genie(raw_key)), 200, "data")
    incident = Incident.objects.get()
    assert body["data"] | {"processedAt": None} == {
        "success": True, "action": "Create", "processedAt": None, "alertId": str(incident.pk),
        "alias": "disk-srv01", "isSuccess": True, "status": "Created alert",
    }
    missed = send(api, raw_key, "/v2/alerts/nope/acknowledge?identifierType=alias").json()["requestId"]
    data = api.get(f"/v2/alerts/requests/{missed}", **genie(raw_key)).json()["data"]
    assert (data["isSuccess"], data["status"], data["action"]) == (False, "Alert does not exist", "Acknowledge")


def test_request_status_is_scoped_to_the_key_and_404_otherwise(api, raw_key, team):
    from tests.conftest import make_key

    request_id = create(api, raw_key).json()["requestId"]
    _other, other_raw = make_key(team=team)
    for key, rid in ((other_raw, request_id), (raw_key, str(uuid.uuid4())), (raw_key, "not-a-uuid")):
        body = assert_envelope(api.get(f"/v2/alerts/requests/{rid}", **genie(key)), 404, "message")
        assert "not found" in body["message"].lower()


@pytest.mark.parametrize("method", ["GET", "POST", "PUT", "PATCH"])
def test_a_ping_creates_its_named_heartbeat_and_answers_pong(api, key, raw_key, method, settings):
    settings.NAMED_HEARTBEAT_INTERVAL_SECONDS = 300
    response = api.generic(method, "/v2/heartbeats/nightly-backup/ping", **genie(raw_key))
    assert assert_envelope(response, 202, "result")["result"] == "PONG - Heartbeat received"
    beat = NamedHeartbeat.objects.get()
    assert (beat.integration_key_id, beat.name, beat.interval_seconds) == (key.pk, "nightly-backup", 300)
    assert beat.last_ping_at is not None


def test_a_missed_named_heartbeat_opens_an_incident_and_a_ping_resolves_it(api, key, raw_key):
    api.post("/v2/heartbeats/backup/ping", **genie(raw_key))
    api.post("/v2/heartbeats/etl/ping", **genie(raw_key))
    NamedHeartbeat.objects.filter(name="backup").update(
        interval_seconds=60, grace_seconds=30, last_ping_at=timezone.now() - timedelta(minutes=10))
    [opened] = check_heartbeats()  # etl is on time
    incident = Incident.objects.get(pk=opened.incident_id)
    assert incident.dedup_key == named_dedup_key("backup") and "backup" in incident.summary
    assert check_heartbeats() == []  # one incident per silence
    api.post("/v2/heartbeats/backup/ping", **genie(raw_key))
    assert Incident.objects.get().status == "resolved"


# --- API.md's common rules, in Opsgenie's shapes ---------------------------------------------


@pytest.mark.parametrize("key_header", [None, "GenieKey ik_unknownunknownunknownunknown1", "Bearer x"])
def test_an_unknown_or_missing_key_is_401_and_writes_nothing(api, key_header):
    headers = {"HTTP_AUTHORIZATION": key_header} if key_header else {}
    response = api.post("/v2/alerts", {"message": "m"}, format="json", **headers)
    assert assert_envelope(response, 401, "message")["message"] == "Invalid integration key"
    assert rows_written() == 0


def test_a_revoked_key_is_refused(api, key, raw_key):
    key.revoke()
    assert create(api, raw_key).status_code == 401
    assert rows_written() == 0


def test_invalid_json_is_400_and_an_invalid_alert_is_422_naming_the_field(api, raw_key):
    assert "JSON parse error" in assert_envelope(send(api, raw_key, "/v2/alerts", raw="{not json"), 400, "message")["message"]
    assert "JSON object" in assert_envelope(send(api, raw_key, "/v2/alerts", raw="[]"), 422, "message")["message"]
    body = assert_envelope(send(api, raw_key, "/v2/alerts", {"alias": "a"}), 422, "message")
    assert body["message"] == "'message' is required"
    assert assert_envelope(send(api, raw_key, "/v2/alerts/a/close?identifierType=name", {}), 422, "message")
    assert not Incident.objects.exists()


def test_a_trailing_slash_is_accepted(api, raw_key):
    assert send(api, raw_key, "/v2/alerts/", {"message": "m"}).status_code == 202


def test_over_the_rate_limit_a_create_is_429_and_a_close_still_passes(api, raw_key, settings):
    settings.INBOUND_RATE_LIMIT = "2/m"
    responses = [create(api, raw_key) for _ in range(5)]
    limited = next(r for r in responses if r.status_code == 429)
    assert_envelope(limited, 429, "message")
    assert 1 <= int(limited["Retry-After"]) <= 60
    assert send(api, raw_key, "/v2/alerts/disk-srv01/close?identifierType=alias").status_code == 202
    assert Incident.objects.get().status == "resolved"


def test_a_body_over_the_limit_is_413(api, raw_key):
    response = send(api, raw_key, "/v2/alerts", {"message": "x" * (512 * 1024)})
    assert response.status_code == 413


def test_the_key_never_reaches_the_event_log(api, raw_key):
    create(api, raw_key, description=f"oops {raw_key}")
    assert raw_key not in Event.objects.get().raw


def test_a_repeat_create_stays_within_its_query_budget(api, raw_key, django_assert_max_num_queries):
    create(api, raw_key)
    with django_assert_max_num_queries(8):
        assert create(api, raw_key).status_code == 202
