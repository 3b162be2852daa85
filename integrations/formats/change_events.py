"""PagerDuty change events (`/v2/change/enqueue`): a deploy or config change, stored and
shown beside the incidents of the same key and team. A change never opens an incident."""

from datetime import UTC

from django.utils.dateparse import parse_datetime

from integrations.formats.base import FormatError, NormalizedEvent, links_from, text


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
