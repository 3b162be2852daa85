"""Spike's alerts endpoint (`/v1/alerts/<key>`) as apprise's `spike://` sends to it:
`{"message", "description"}`, the message the title and the dedup key, as Spike dedups."""

import apprise
import pytest
from apprise.plugins.spike import NotifySpike

from incidents.models import Incident
from integrations.formats.spike import parse
from tests.conftest import load_payload


def test_apprises_body_is_titled_by_its_message_and_dedups():
    [event] = parse(load_payload("spike/apprise_spike_alert.json"))
    assert (event.summary, event.dedup_key, event.dedupable) == (
        "Backup failed on db01", "Backup failed on db01", True)
    assert event.details == "pg_dump exited with status 1"


@pytest.mark.django_db(transaction=True)
def test_apprise_spike_notifications_open_one_titled_incident(live_server, raw_key):
    # apprise's spike:// takes a 32-character alphanumeric token (ours has an underscore) and
    # posts to the fixed host api.spike.sh; its endpoint URL is set on the plugin here.
    notifier = NotifySpike(token="0" * 32)
    notifier.webhook_url = f"{live_server.url}/v1/alerts/{raw_key}"
    sender = apprise.Apprise()
    sender.add(notifier)
    for _ in range(2):
        assert sender.notify(title="Backup failed on db01", body="pg_dump exited with status 1")
    incident = Incident.objects.get()
    assert (incident.summary, incident.dedup_key, incident.alert_count) == (
        "Backup failed on db01", "Backup failed on db01", 2)
    assert incident.details == "pg_dump exited with status 1"
