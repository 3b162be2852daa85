"""Spike's webhook (`/<key>/push-events`) and alerts endpoint (`/v1/alerts/<key>`, where
apprise's `spike://` posts `{"message", "description"}`): the title (`title`, else
`message`) is the dedup key, as Spike dedups open incidents by title.

An alert without a title is still a page: it opens an incident with an empty title that
never dedups, groups or auto-resolves (each one gets a unique dedup key)."""

import uuid

from integrations.formats import severity
from integrations.formats.base import NormalizedEvent, lenient_severity, text
from integrations.formats.spec import DoorPath, DoorSpec, event_processed, path_key, url_snippet

RESOLVING = {"resolve", "resolved"}
UNTITLED_PREFIX = "spike-untitled-"


def title_of(body: dict) -> str:
    title = body.get("title")
    if title in (None, ""):
        title = body.get("message")
    if isinstance(title, (dict, list)):
        return text(title)
    return text(title).strip()


def severity_of(body: dict) -> tuple[str, str]:
    """`severity` first (Spike's sev1..3 and the plain words Keep sends), else `priority`."""
    value = body.get("severity")
    if value not in (None, ""):
        return lenient_severity(value, severity.SPIKE_SEVERITY), text(value)
    value = body.get("priority")
    if value not in (None, ""):
        return lenient_severity(value, severity.SPIKE_PRIORITY), text(value)
    return "warning", ""


def parse(body: dict) -> list[NormalizedEvent]:
    title = title_of(body)
    if text(body.get("status")).strip().lower() in RESOLVING:
        if not title:
            return [
                NormalizedEvent(
                    action="ignore", reason="a resolve without a title matches no incident", raw=body
                )
            ]
        return [NormalizedEvent(action="resolve", dedup_key=title, summary=title, raw=body)]

    mapped, original = severity_of(body)
    return [
        NormalizedEvent(
            action="trigger",
            dedup_key=title or UNTITLED_PREFIX + uuid.uuid4().hex,
            summary=title,
            severity=mapped,
            original_severity=original,
            details=body["body"] if body.get("body") is not None else body.get("description"),
            dedupable=bool(title),
            raw=body,
        )
    ]


# --- the door ---------------------------------------------------------------------------------

EXAMPLE = {
    "title": "CPU usage above 90% on api-1",
    "body": {"host": "api-1", "cpu": "93%"},
    "severity": "sev1",
    "priority": "p1",
}


def spike_processed(outcomes) -> dict:
    """Spike's own `Ok` beside the common success fields."""
    return {"Ok": True, **event_processed(outcomes)}


DOOR = DoorSpec(
    slug="spike",
    # One free path segment before /push-events: the URL list puts it after every other door.
    paths=(
        DoorPath("spike-alerts", "v1/alerts/{key}", {"post": "Spike alerts endpoint (apprise's spike://)"}),
        DoorPath("spike", "{key}/push-events", {"post": "Spike webhook"}),
    ),
    key_from=(path_key,),
    parse=parse,
    ok_status=200,
    ok_body=spike_processed,
    request_schema="SpikeRequest",
    ok_schema="SpikeAccepted",
    example=EXAMPLE,
    resolve_example={"title": EXAMPLE["title"], "status": "resolved"},
    snippets=(url_snippet("spike", "Spike webhook URL", "{key}/push-events"),),
)
