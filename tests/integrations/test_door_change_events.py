from datetime import UTC, datetime

import pytest

from incidents.models import ChangeEvent, Event, Incident
from tests.conftest import load_payload

pytestmark = pytest.mark.django_db

PATH = "/v2/change/enqueue"


def test_documented_change_event_is_stored_with_the_keys_team(api, raw_key, key):
    body = load_payload("pagerduty/pd_docs_change_event.json")
    body["routing_key"] = raw_key
    response = api.post(PATH, body, format="json")
    assert response.status_code == 202
    assert response.json() == {"status": "success", "message": "Change event processed"}
    change = ChangeEvent.objects.get()
    assert (change.integration_key, change.team) == (key, key.team)
    assert change.summary == "Build Success: Increase snapshot create timeout to 30 seconds"
    assert change.source == "acme-build-pipeline-tool-default-i-9999"
    assert change.timestamp == datetime(2020, 7, 17, 8, 42, 58, 315000, tzinfo=UTC)
    assert change.custom_details == {"build_state": "passed", "build_number": "2", "run_time": "1236s"}
    assert change.links == [{"href": "https://acme.pagerduty.dev/build/2", "text": "View more details in Acme!"}]
    # The stored body keeps everything but the working key.
    assert raw_key not in change.raw and "build_state" in change.raw


def test_a_change_never_opens_an_incident(api, raw_key):
    api.post(PATH, {"routing_key": raw_key, "payload": {"summary": "deploy"}}, format="json")
    assert not Incident.objects.exists()
    assert not Event.objects.exists()


def test_summary_is_required(api, raw_key):
    response = api.post(PATH, {"routing_key": raw_key, "payload": {"source": "ci"}}, format="json")
    assert response.status_code == 400
    assert response.json()["errors"] == ["'payload.summary' is missing or blank"]
    assert not ChangeEvent.objects.exists()


def test_invalid_routing_key_is_pagerdutys_answer(api):
    response = api.post(PATH, {"routing_key": "nope", "payload": {"summary": "deploy"}}, format="json")
    assert response.status_code == 400
    assert response.json()["errors"] == ["Invalid routing key"]


def test_recent_changes_of_a_team_for_the_incident_page(api, raw_key, key):
    from incidents.changes import recent_changes

    api.post(PATH, {"routing_key": raw_key, "payload": {"summary": "deploy 1"}}, format="json")
    api.post(PATH, {"routing_key": raw_key, "payload": {"summary": "deploy 2"}}, format="json")
    since = datetime(2000, 1, 1, tzinfo=UTC)
    changes = recent_changes(team_id=key.team_id, integration_key_id=None, since=since)
    assert [c.summary for c in changes] == ["deploy 2", "deploy 1"]
