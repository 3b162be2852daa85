"""Heartbeats (`/api/heartbeat/<key>`, and watchdog alerts): a beat says the sender is
alive; silence longer than the key's interval + grace opens one incident under a fixed
dedup key, which the next beat resolves."""

from integrations.formats.base import NormalizedEvent

HEARTBEAT_DEDUP_KEY = "vigil-heartbeat"


def parse(body: dict) -> list[NormalizedEvent]:
    """Any request to the heartbeat URL is a beat; its body (often empty) is not read."""
    return [NormalizedEvent(action="heartbeat", dedup_key=HEARTBEAT_DEDUP_KEY, summary="heartbeat", raw=body)]


def missed(key_name: str, silent_seconds: int, interval_seconds: int, grace_seconds: int) -> NormalizedEvent:
    """The event the heartbeat check sends through the pipeline for a silent key."""
    return NormalizedEvent(
        action="trigger",
        dedup_key=HEARTBEAT_DEDUP_KEY,
        summary=f"No heartbeat from {key_name} for {silent_seconds} s",
        severity="critical",
        source="vigil heartbeat check",
        details={
            "silent_seconds": silent_seconds,
            "heartbeat_interval_seconds": interval_seconds,
            "heartbeat_grace_seconds": grace_seconds,
        },
        raw={"heartbeat_check": {"key": key_name, "silent_seconds": silent_seconds}},
    )
