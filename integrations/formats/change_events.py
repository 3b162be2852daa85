"""PagerDuty change events (`/v2/change/enqueue`): a deploy or config change, stored and
shown beside the incidents of the same key and team. A change never opens an incident."""

from datetime import UTC

from django.utils.dateparse import parse_datetime

from integrations.formats.base import FormatError, NormalizedEvent, links_from, text
from integrations.formats.spec import DoorPath, DoorSpec, Snippet, curl, routing_key_in_body


def timestamp_of(value):
    """PagerDuty sends ISO 8601, often with a `+0000` offset. An unreadable timestamp is
    kept in the raw body and the arrival time is shown instead: never a reason to refuse."""
    if not isinstance(value, str) or not value.strip():
        return None
    try:
        parsed = parse_datetime(value.strip())
    except ValueError:
        return None
    if parsed is not None and parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed


def parse(body: dict) -> list[NormalizedEvent]:
    payload = body.get("payload")
    if not isinstance(payload, dict):
        raise FormatError(["'payload' is missing or not an object", "'payload.summary' is missing or blank"])
    summary = payload.get("summary")
    if not isinstance(summary, str) or not summary.strip():
        raise FormatError("'payload.summary' is missing or blank")
    return [
        NormalizedEvent(
            action="change",
            summary=summary.strip(),
            source=text(payload.get("source")),
            details=payload.get("custom_details"),
            links=links_from(body.get("links")),
            occurred_at=timestamp_of(payload.get("timestamp")),
            raw=body,
        )
    ]


# --- the door ---------------------------------------------------------------------------------

EXAMPLE = {
    "routing_key": "ik_XXXXXXXXXXXXXXXXXXXXXXXXXXXXX",
    "payload": {
        "summary": "Build Success: Increase snapshot create timeout to 30 seconds",
        "timestamp": "2020-07-17T08:42:58.315+0000",
        "source": "acme-build-pipeline-tool-default-i-9999",
        "custom_details": {"build_state": "passed", "build_number": "2", "run_time": "1236s"},
    },
    "links": [{"href": "https://acme.example/build/2", "text": "View more details in Acme!"}],
}


def change_processed(outcomes) -> dict:
    return {"status": "success", "message": "Change event processed"}


def curl_snippet(base: str, raw_key: str) -> str:
    return curl(
        f"{base}/v2/change/enqueue",
        {"routing_key": raw_key, "payload": {"summary": "Deployed api v1.2.3", "source": "ci"}},
    )


DOOR = DoorSpec(
    slug="change_events",
    paths=(
        DoorPath("change-enqueue", "v2/change/enqueue",
                 {"post": "Change events (PagerDuty change events compatible)"}),
    ),
    key_from=(routing_key_in_body("routing_key"),),
    parse=parse,
    ok_body=change_processed,
    pagerduty_errors=True,
    records_changes=True,
    request_schema="ChangeEventRequest",
    ok_schema="ChangeAccepted",
    example=EXAMPLE,
    snippets=(Snippet("change-events", "Change events (deploys), curl", "shell", curl_snippet),),
    payloads="pagerduty",
)
