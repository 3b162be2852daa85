from datetime import timedelta

import pytest
from django.utils import timezone

from incidents.models import Event, Incident
from integrations.formats.heartbeat import HEARTBEAT_DEDUP_KEY
from integrations.heartbeat import check_heartbeats

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("method", ["get", "post", "head"])
def test_a_beat_records_the_time_and_answers_pong(api, key, raw_key, method):
    response = getattr(api, method)(f"/api/heartbeat/{raw_key}")
    assert response.status_code == 200
    if method != "head":
        assert response.json() == {"status": "success", "message": "PONG"}
    key.refresh_from_db()
    assert key.last_heartbeat_at is not None
    event = Event.objects.get()
    assert (event.action, event.outcome, event.format) == ("heartbeat", "heartbeat", "heartbeat")


def test_any_body_is_fine(api, raw_key):
    response = api.generic("POST", f"/api/heartbeat/{raw_key}", b"\xff not json", content_type="text/plain")
    assert response.status_code == 200


def test_unknown_key_is_401_and_nothing_written(api):
    assert api.get("/api/heartbeat/ik_unknownunknownunknownunknown1").status_code == 401
    assert not Event.objects.exists()


def test_the_next_beat_resolves_the_missed_heartbeat_incident(api, key, raw_key):
    key.heartbeat_interval_seconds, key.heartbeat_grace_seconds = 60, 30
    key.last_heartbeat_at = timezone.now() - timedelta(minutes=10)
    key.save()
    [opened] = check_heartbeats()
    assert opened.outcome == "created"
    api.get(f"/api/heartbeat/{raw_key}")
    incident = Incident.objects.get()
    assert (incident.status, incident.resolved_via) == ("resolved", "heartbeat")
    assert Event.objects.order_by("-id").first().outcome == "resolved"


def test_watchdog_alert_resolves_the_missed_heartbeat_incident_too(api, key, raw_key):
    key.heartbeat_interval_seconds = 60
    key.last_heartbeat_at = timezone.now() - timedelta(minutes=10)
    key.save()
    check_heartbeats()
    body = {"version": "4", "status": "firing", "alerts": [
        {"status": "firing", "labels": {"alertname": "Watchdog"}, "fingerprint": "wd"}]}
    response = api.post("/api/integrations/alertmanager", body, format="json",
                        HTTP_AUTHORIZATION=f"Bearer {raw_key}")
    assert response.json()["events"][0]["outcome"] == "resolved"
    assert Incident.objects.get(dedup_key=HEARTBEAT_DEDUP_KEY).status == "resolved"
