"""API.md's rules for every door, each door in turn: trailing slash, refused keys, bodies
that are not a JSON object, 413, 429 (never for closing events and heartbeats)."""

import json

import pytest

from incidents.models import ChangeEvent, Event, Incident
from tests.integrations.doorkit import (
    ALL_DOORS,
    CLOSING_DOORS,
    DOORS,
    HEARTBEAT,
    KEY_OUTSIDE_PATH,
    ids,
)

pytestmark = pytest.mark.django_db

UNKNOWN_KEY = "ik_unknownunknownunknownunknown1"


def rows_written() -> int:
    return Event.objects.count() + Incident.objects.count() + ChangeEvent.objects.count()


def assert_error_body(response, status: int):
    assert response.status_code == status, response.content
    body = response.json()
    assert set(body) == {"status", "message", "errors"}
    assert body["errors"] and all(isinstance(e, str) for e in body["errors"])
    return body


@pytest.mark.parametrize("slash", [False, True], ids=["no-slash", "slash"])
@pytest.mark.parametrize("door", DOORS, ids=ids(DOORS))
def test_every_door_takes_its_trigger_with_or_without_a_trailing_slash(api, raw_key, door, slash):
    response = door.send(api, raw_key, slash=slash)
    assert response.status_code == door.ok_status, response.content
    assert response.json()["status"] == "success"
    assert rows_written() > 0


@pytest.mark.parametrize("door", [d for d in DOORS if len(d.methods) > 1], ids=ids(d for d in DOORS if len(d.methods) > 1))
def test_grafana_doors_take_put_as_well_as_post(api, raw_key, door):
    response = door.send(api, raw_key, method="put")
    assert response.status_code == 200
    assert response.json()["events"][0]["outcome"] == "created"


@pytest.mark.parametrize("method", HEARTBEAT.methods)
@pytest.mark.parametrize("slash", [False, True], ids=["no-slash", "slash"])
def test_heartbeat_takes_every_method_with_or_without_a_trailing_slash(api, raw_key, method, slash):
    response = api.generic(method.upper(), HEARTBEAT.url(raw_key, slash))
    assert response.status_code == 200
    if method != "head":
        assert response.json() == {"status": "success", "message": "PONG"}


@pytest.mark.parametrize("door", ALL_DOORS, ids=ids(ALL_DOORS))
def test_unknown_key_is_refused_before_anything_is_written(api, door):
    response = door.send(api, UNKNOWN_KEY)
    body = assert_error_body(response, door.bad_key_status)
    if door.bad_key_status == 400:
        assert body["errors"] == ["Invalid routing key"]
    else:
        assert body["status"] == "unauthorized"
    assert rows_written() == 0


@pytest.mark.parametrize("door", ALL_DOORS, ids=ids(ALL_DOORS))
def test_revoked_key_is_refused(api, key, raw_key, door):
    key.revoke()
    assert_error_body(door.send(api, raw_key), door.bad_key_status)
    assert rows_written() == 0


@pytest.mark.parametrize("door", KEY_OUTSIDE_PATH, ids=ids(KEY_OUTSIDE_PATH))
def test_missing_key_is_refused(api, door):
    response = api.post(door.url(""), door.trigger, format="json")
    assert_error_body(response, door.bad_key_status)
    assert rows_written() == 0


@pytest.mark.parametrize("door", DOORS, ids=ids(DOORS))
def test_invalid_json_is_a_400_with_the_error_body(api, raw_key, door):
    body = assert_error_body(door.send(api, raw_key, raw="{not json"), 400)
    if door.spec.pagerduty_errors:
        assert body["status"] == "Unrecognized object"  # PagerDuty's envelope
        assert "JSON parse error" in body["errors"]
    else:
        assert body["status"] == "invalid event"
        assert "JSON parse error" in body["errors"][0]
    assert rows_written() == 0


@pytest.mark.parametrize("raw", ["[]", "null", '"text"', "42"], ids=["array", "null", "string", "number"])
@pytest.mark.parametrize("door", DOORS, ids=ids(DOORS))
def test_json_that_is_not_an_object_is_a_400(api, raw_key, door, raw):
    body = assert_error_body(door.send(api, raw_key, raw=raw), 400)
    assert "JSON object" in " ".join(body["errors"])
    assert rows_written() == 0


@pytest.mark.parametrize("door", [d for d in DOORS if d.name.startswith("grafana")],
                         ids=ids(d for d in DOORS if d.name.startswith("grafana")))
def test_grafana_template_that_emits_an_array_is_a_400(api, raw_key, door):
    from tests.conftest import LOCAL_PAYLOADS

    raw = (LOCAL_PAYLOADS / "negative/grafana_alerting_test_alertmanager_like_array.json").read_text()
    body = assert_error_body(door.send(api, raw_key, raw=raw), 400)
    assert body["errors"] == ["request body must be a JSON object, not list"]


@pytest.mark.parametrize("door", DOORS, ids=ids(DOORS))
def test_deeply_nested_json_is_a_400(api, raw_key, door):
    assert_error_body(door.send(api, raw_key, raw="[" * 10_000 + "]" * 10_000), 400)


@pytest.mark.parametrize("door", ALL_DOORS, ids=ids(ALL_DOORS))
def test_body_over_512_kib_is_a_413(api, raw_key, door):
    raw = json.dumps({"padding": "x" * (512 * 1024)})
    response = door.send(api, raw_key, raw=raw)
    assert response.status_code == 413
    assert response.json()["message"] == "Request entity too large"
    assert rows_written() == 0


@pytest.mark.parametrize("door", DOORS, ids=ids(DOORS))
def test_over_the_rate_limit_a_trigger_is_a_429_with_retry_after(api, raw_key, door, settings):
    settings.INBOUND_RATE_LIMIT = "2/m"
    # The limiter counts in fixed windows: of 5 requests, 3 share one window however the
    # clock falls, so one of the last three is refused.
    responses = [door.send(api, raw_key) for _ in range(5)]
    assert [r.status_code for r in responses[:2]] == [door.ok_status] * 2
    response = next(r for r in responses[2:] if r.status_code == 429)
    body = assert_error_body(response, 429)
    assert body["status"] == "throttle event"
    assert 1 <= int(response["Retry-After"]) <= 60


def test_over_the_rate_limit_a_heartbeat_is_still_accepted(api, raw_key, settings):
    # A refused beat would page someone for a sender that is alive (T51).
    settings.INBOUND_RATE_LIMIT = "2/m"
    assert [HEARTBEAT.send(api, raw_key).status_code for _ in range(5)] == [HEARTBEAT.ok_status] * 5


@pytest.mark.parametrize("door", CLOSING_DOORS, ids=ids(CLOSING_DOORS))
def test_over_the_rate_limit_a_resolve_is_still_accepted(api, raw_key, door, settings):
    settings.INBOUND_RATE_LIMIT = "2/m"
    for _ in range(3):
        door.send(api, raw_key)
    response = door.send(api, raw_key, door.resolve)
    assert response.status_code == door.ok_status, response.content
    assert Incident.objects.get().status == "resolved"


@pytest.mark.parametrize("door", DOORS, ids=ids(DOORS))
def test_the_sender_address_is_logged(api, raw_key, door, sender_ip):
    door.send(api, raw_key)
    if door.spec.records_changes:
        assert ChangeEvent.objects.exists()
    else:
        assert Event.objects.get().client_ip == sender_ip


@pytest.mark.parametrize("door", DOORS, ids=ids(DOORS))
def test_a_repeat_trigger_stays_within_its_query_budget(api, raw_key, door, django_assert_max_num_queries):
    door.send(api, raw_key)
    # Key lookup, lock the open alert, two counters, the event log row, and savepoints.
    with django_assert_max_num_queries(8):
        assert door.send(api, raw_key).status_code == door.ok_status
