from integrations.formats import FORMATS
from integrations.formats.heartbeat import HEARTBEAT_DEDUP_KEY, missed


def test_any_body_is_a_beat():
    [event] = FORMATS["heartbeat"]({})
    assert (event.action, event.dedup_key) == ("heartbeat", HEARTBEAT_DEDUP_KEY)


def test_a_missed_beat_is_a_critical_trigger_under_the_fixed_dedup_key():
    event = missed("backups", 400, 300, 60)
    assert event.action == "trigger"
    assert event.dedup_key == HEARTBEAT_DEDUP_KEY
    assert event.summary == "No heartbeat from backups for 400 s"
    assert event.severity == "critical"
    assert event.details == {"silent_seconds": 400, "heartbeat_interval_seconds": 300,
                             "heartbeat_grace_seconds": 60}
