"""The REST detail's timeline is the portal's timeline (incidents/timeline.py), in the REST
shape `at, kind, message, actor, outcome`: one piece of code, one order, one cap."""

import pytest

from incidents import actions, timeline
from incidents.pipeline import apply_event
from integrations.formats.base import NormalizedEvent
from tests.factories import api_client_for, make_incident, make_user

pytestmark = pytest.mark.django_db


@pytest.fixture
def rita(team):
    return make_user("rita", team=team, first_name="Rita", last_name="Responder")


def acknowledge_event(key, dedup_key: str):
    event = NormalizedEvent(action="acknowledge", dedup_key=dedup_key)
    event.raw = event.to_log()
    return apply_event(key, event, format="events_v2")


def test_the_rest_timeline_lists_the_portal_items_with_reasons_and_logins(key, rita):
    incident = make_incident(key, dedup_key="disk")
    acknowledge_event(key, "disk")
    acknowledge_event(key, "disk")  # ignored, with a reason
    actions.do_add_note(incident.pk, by=rita, text="looking")

    items = api_client_for(rita).get(f"/api/v1/incidents/{incident.pk}/").json()["timeline"]
    portal = timeline.build_timeline(incident).items
    assert [item["kind"] for item in items] == [item.kind for item in portal]
    assert [item["at"][:19] for item in items] == [item.at.isoformat()[:19] for item in portal]
    events = [(item["message"], item["outcome"]) for item in items if item["kind"] == "event"]
    assert events == [
        ("events_v2 trigger → created", "created"),
        ("events_v2 acknowledge → acknowledged", "acknowledged"),
        ("events_v2 acknowledge → ignored (already acknowledged)", "ignored"),
    ]
    [note] = [item for item in items if item["kind"] == "note"]
    assert (note["message"], note["actor"], note["outcome"]) == ("looking", "rita", None)
    assert set(note) == {"at", "kind", "message", "actor", "outcome"}
    # The portal shows the same person by name.
    assert [item.actor for item in portal if item.kind == "note"] == ["Rita Responder"]


def test_the_rest_timeline_keeps_the_newest_items_like_the_portal(key, rita, monkeypatch):
    monkeypatch.setattr(timeline, "DEFAULT_LIMIT", 3)
    incident = make_incident(key)
    for n in range(5):
        actions.do_add_note(incident.pk, by=rita, text=f"note {n}")

    items = api_client_for(rita).get(f"/api/v1/incidents/{incident.pk}/").json()["timeline"]
    assert [item["message"] for item in items if item["kind"] == "note"] == ["note 2", "note 3", "note 4"]
    assert [item["outcome"] for item in items if item["kind"] == "event"] == ["created"]
