"""Heartbeats (`/api/heartbeat/<key>`, and watchdog alerts): a beat says the sender is
alive; silence longer than the key's interval + grace opens one incident under a fixed
dedup key, which the next beat resolves."""

from integrations.formats.base import HEARTBEAT_DEDUP_KEY, NormalizedEvent
from integrations.formats.spec import DoorPath, DoorSpec, Snippet, path_key


def parse(body: dict) -> list[NormalizedEvent]:
    """Any request to the heartbeat URL is a beat; its body (often empty) is not read."""
    return [NormalizedEvent(action="heartbeat", dedup_key=HEARTBEAT_DEDUP_KEY, summary="heartbeat", raw=body)]


def named_dedup_key(name: str) -> str:
    """A named heartbeat's (Opsgenie's pings) own missed-heartbeat incident."""
    return f"{HEARTBEAT_DEDUP_KEY}/{name}"


def missed(key_name: str, silent_seconds: int, interval_seconds: int, grace_seconds: int,
           heartbeat_name: str = "") -> NormalizedEvent:
    """The event the heartbeat check sends through the pipeline for a silent key, or for
    one silent named heartbeat of a key."""
    what = f"heartbeat {heartbeat_name!r} of {key_name}" if heartbeat_name else f"heartbeat from {key_name}"
    return NormalizedEvent(
        action="trigger",
        dedup_key=named_dedup_key(heartbeat_name) if heartbeat_name else HEARTBEAT_DEDUP_KEY,
        summary=f"No {what} for {silent_seconds} s",
        severity="critical",
        source="vigil heartbeat check",
        details={
            "silent_seconds": silent_seconds,
            "heartbeat_interval_seconds": interval_seconds,
            "heartbeat_grace_seconds": grace_seconds,
        },
        raw={"heartbeat_check": {"key": key_name, "name": heartbeat_name, "silent_seconds": silent_seconds}},
    )


# --- the door ---------------------------------------------------------------------------------


def pong(outcomes) -> dict:
    return {"status": "success", "message": "PONG"}


def cron_snippet(base: str, raw_key: str) -> str:
    return "\n".join([
        f"{base}/api/heartbeat/{raw_key}",
        "",
        "# For example, from cron every minute (set the key's heartbeat interval to match):",
        f"* * * * * curl -fsS -m 10 --retry 3 '{base}/api/heartbeat/{raw_key}' > /dev/null",
    ])


DOOR = DoorSpec(
    slug="heartbeat",
    # HEAD is answered as GET.
    paths=(DoorPath("heartbeat", "api/heartbeat/{key}",
                    {"get": "Heartbeat", "post": "Heartbeat (POST; any body is ignored)"}),),
    key_from=(path_key,),
    parse=parse,
    ok_status=200,
    ok_body=pong,
    reads_body=False,
    ok_schema="Pong",
    snippets=(Snippet("heartbeat", "Heartbeat URL (GET, HEAD or POST)", "shell", cron_snippet),),
)
