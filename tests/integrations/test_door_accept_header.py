"""Doors ignore `Accept` and always answer JSON: PagerDuty's own clients send
`Accept: application/vnd.pagerduty+json;version=2`, others `text/plain`, and DRF's content
negotiation used to refuse them with 406 before the door ran. Checked over every path of
every door, then with the real PyPI clients (pypd, pygerduty) against a live Vigil."""

import json
import uuid

import pygerduty.events
import pypd
import pytest

from incidents.models import Incident
from integrations.formats import DOORS
from tests.integrations.doorkit import authorization, django_meta

ACCEPTS = ["application/vnd.pagerduty+json;version=2", "text/plain"]
PARAMETERS = {"identifier": "disk-full", "request_id": str(uuid.uuid4()), "name": "nightly"}
EVERY_PATH = [(spec, door_path, door_path.methods[0]) for spec in DOORS for door_path in spec.paths]


def request_for(spec, door_path, raw_key):
    """The path with its parameters filled in, a body and the headers presenting the key."""
    url = "/" + door_path.route.replace("{key}", raw_key)
    for name, value in PARAMETERS.items():
        url = url.replace("{" + name + "}", value)
    body = json.loads(json.dumps(spec.example)) if door_path.takes_example else {}
    reader = next(r for r in spec.key_from if r.where != "path" or door_path.has_path_key)
    if reader.in_body:
        body[reader.where.split(":", 1)[1]] = raw_key
    return url, body, django_meta(authorization(reader.where, raw_key))


@pytest.mark.django_db
@pytest.mark.parametrize("accept", ACCEPTS, ids=["pagerduty-v2", "text-plain"])
@pytest.mark.parametrize("spec,door_path,method", EVERY_PATH, ids=[p.name for _s, p, _m in EVERY_PATH])
def test_every_door_path_answers_json_whatever_accept_says(api, raw_key, spec, door_path, method, accept):
    url, body, headers = request_for(spec, door_path, raw_key)
    response = api.generic(method.upper(), url, json.dumps(body), content_type="application/json",
                           HTTP_ACCEPT=accept, **headers)
    assert response.status_code != 406 and response.status_code < 500, response.content
    assert response["Content-Type"] == "application/json"
    assert isinstance(response.json(), dict)


# --- the real clients, against a live Vigil ------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_pypd_sends_events_api_v1_and_v2_to_vigil(live_server, raw_key):
    class VigilEventV1(pypd.Event):
        base_url = f"{live_server.url}/generic/2010-04-15/create_event.json"

    class VigilEventV2(pypd.EventV2):
        base_url = f"{live_server.url}/v2/enqueue"

    answer = VigilEventV1.create(data={"service_key": raw_key, "event_type": "trigger",
                                       "incident_key": "pypd-v1", "description": "v1 from pypd"})
    assert answer["status"] == "success"
    VigilEventV1.create(data={"service_key": raw_key, "event_type": "resolve", "incident_key": "pypd-v1"})
    answer = VigilEventV2.create(data={
        "routing_key": raw_key, "event_action": "trigger", "dedup_key": "pypd-v2",
        "payload": {"summary": "v2 from pypd", "source": "pypd", "severity": "critical"},
    })
    assert answer["dedup_key"] == "pypd-v2"
    v1, v2 = Incident.objects.get(dedup_key="pypd-v1"), Incident.objects.get(dedup_key="pypd-v2")
    assert (v1.summary, v1.status) == ("v1 from pypd", "resolved")
    assert (v2.summary, v2.severity) == ("v2 from pypd", "critical")


@pytest.mark.django_db(transaction=True)
def test_pygerduty_triggers_and_resolves_through_vigil(live_server, raw_key, monkeypatch):
    # pygerduty's only setting for its Events API host is this module constant.
    monkeypatch.setattr(pygerduty.events, "INTEGRATION_API_URL",
                        f"{live_server.url}/generic/2010-04-15/create_event.json")
    events = pygerduty.events.Events(raw_key)
    assert events.trigger_incident("Disk full from pygerduty", incident_key="pyg-1") == "pyg-1"
    events.acknowledge_incident("pyg-1")
    assert Incident.objects.get().status == "acknowledged"
    events.resolve_incident("pyg-1")
    assert Incident.objects.get().status == "resolved"
