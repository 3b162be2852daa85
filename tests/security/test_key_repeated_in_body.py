"""T50: a body that repeats its own key (in `details`, in a label, in the title, JSON-escaped
as `\\u0069k_...`) leaves the key nowhere but as its display prefix: not on the incident page,
the key's page, the REST incident (with its timeline of events), the raw event row, or a
database dump."""

from __future__ import annotations

import copy
import json

import pytest
from django.test import Client

from incidents.models import Event, Incident
from integrations.formats import DOORS
from integrations.key_scrub import hide_in, hide_in_body, shown_as
from oncall.models import TeamMembership
from tests.factories import api_client_for, make_key, make_team, make_user
from tests.security.test_key_never_stored import pg_dump

pytestmark = pytest.mark.django_db(transaction=True)

EXAMPLES = {spec.slug: spec.example for spec in DOORS}


@pytest.fixture(autouse=True)
def loopback_exempt_from_rate_limit(settings):
    settings.INBOUND_RATE_LIMIT_EXEMPT = ["127.0.0.0/8"]


def escaped(raw_key: str) -> str:
    """The key as a JSON string may write it: every character a `\\u00XX` escape but the tail."""
    return "".join(f"\\u{ord(c):04x}" for c in raw_key[:6]) + raw_key[6:]


def appearances(text: str, raw_key: str) -> int:
    # The random part alone too: a key with its `ik_` cut off still authenticates nothing,
    # but it is the secret.
    return text.count(raw_key[3:]) + text.lower().count(escaped(raw_key).lower())


def events_v2_body(raw_key: str) -> bytes:
    """routing_key JSON-escaped (it authenticates), the key in the summary, in details (as a
    value and as a key) and in a link."""
    body = copy.deepcopy(EXAMPLES["events_v2"])
    body["routing_key"] = "@ROUTING@"
    body["dedup_key"] = "t50-events-v2"
    body["payload"]["summary"] = f"Disk full, key {raw_key} in the title"
    body["payload"]["custom_details"] = {"leaked": raw_key, raw_key: "as a key", "nested": [f"x{raw_key}y"]}
    body["links"] = [{"href": f"https://example.com/?k={raw_key}", "text": raw_key}]
    return json.dumps(body).replace('"@ROUTING@"', f'"{escaped(raw_key)}"').encode()


def alertmanager_body(raw_key: str) -> dict:
    body = copy.deepcopy(EXAMPLES["alertmanager"])
    alert = body["alerts"][0]
    alert["labels"]["token"] = raw_key
    alert["annotations"]["summary"] = f"Job failed; curl .../{raw_key}"
    alert["fingerprint"] = "t50-alertmanager"
    body["commonLabels"]["token"] = raw_key
    return body


def test_a_key_repeated_in_the_body_appears_only_as_its_display_prefix(client):
    team = make_team("T50")
    key, raw_key = make_key(team=team)
    assert escaped(raw_key) != raw_key and json.loads(f'"{escaped(raw_key)}"') == raw_key

    answer = client.post("/v2/enqueue", events_v2_body(raw_key), content_type="application/json")
    assert answer.status_code == 202, answer.content  # the escaped key authenticated
    by_body = answer.json()["incident_id"]
    answer = client.post(f"/api/integrations/alertmanager/{raw_key}", alertmanager_body(raw_key),
                         content_type="application/json")
    assert answer.status_code == 200, answer.content
    by_label = answer.json()["events"][0]["incident_id"]
    # A rejected body (unknown action) that echoes the key keeps a row too.
    answer = client.post("/v2/enqueue", {"routing_key": raw_key, "event_action": raw_key}, content_type="application/json")
    assert answer.status_code == 400

    # The raw events: the key replaced by its display prefix, the rest as received.
    events = list(Event.objects.filter(integration_key=key))
    assert len(events) == 3
    shown = shown_as(raw_key)
    for event in events:
        stored = event.raw + json.dumps(event.normalized) + event.reason + event.summary + event.dedup_key
        assert appearances(stored, raw_key) == 0, stored
        assert shown in event.raw
    assert Event.objects.get(incident_id=by_body).normalized["details"]["leaked"] == shown
    assert Incident.objects.get(pk=by_label).labels["token"] == shown
    assert Incident.objects.get(pk=by_body).summary == f"Disk full, key {shown} in the title"

    # What people read: the portal pages and the REST API.
    person = make_user("t50", team=team, role=TeamMembership.Role.ADMIN)
    portal = Client()
    portal.force_login(person)
    api = api_client_for(person)
    pages = [portal.get(f"/incidents/{pk}/") for pk in (by_body, by_label)]
    pages += [portal.get(f"/integrations/{key.pk}/"), portal.get("/")]
    pages += [api.get(f"/api/v1/incidents/{pk}/") for pk in (by_body, by_label)]
    pages += [api.get("/api/v1/incidents/")]
    for page in pages:
        assert page.status_code == 200, page
        assert appearances(page.content.decode(), raw_key) == 0, page.content.decode()
    # The pages did show the fields that carried the key, as the prefix.
    assert shown in pages[0].content.decode() and shown in pages[1].content.decode()
    assert shown in pages[4].content.decode()

    dump = pg_dump()
    assert "incidents_event" in dump and shown in dump
    assert appearances(dump, raw_key) == 0


def test_the_body_scan_finds_plain_and_escaped_keys_and_leaves_others_alone():
    key = "ik_AbCdEfGhIjKlMnOpQrStUvWxYz123"
    shown = shown_as(key).encode()
    assert hide_in_body(b'{"a": 1}', key) == (b'{"a": 1}', False)
    assert hide_in_body(b'{"a": "\\u00e9"}', key) == (b'{"a": "\\u00e9"}', False)
    assert hide_in_body(f'{{"a": "{key}"}}'.encode(), key) == (b'{"a": "' + shown + b'"}', True)
    mixed = "i\\u006B_AbCd\\u0045fGhIjKlMnOpQrStUvWxYz12\\u0033"  # upper- and lower-case hex
    assert json.loads(f'"{mixed}"') == key
    assert hide_in_body(f'{{"{mixed}": 1}}'.encode(), key) == (b'{"' + shown + b'": 1}', True)
    # Another key's text, or a different case, is not this key.
    other = key.lower()
    assert hide_in_body(other.encode(), key) == (other.encode(), False)
    assert hide_in({"x": [key, (1, f"-{key}-")], key: None}, key) == {
        "x": [shown.decode(), (1, f"-{shown.decode()}-")], shown.decode(): None,
    }
