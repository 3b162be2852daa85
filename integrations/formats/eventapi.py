"""EventAPI (`/api/webhook/ingest`, bearer token): a small JSON alert with a strict severity.

The format has no dedup key of its own: `dedupKey` when sent, else a stable fingerprint of
the summary and the sorted labels, so a monitor that repeats the same alert dedups without
knowing about it. Every field this format does not name is kept and shown."""

from typing import Any

from integrations.formats import severity
from integrations.formats.base import (
    ACTIONS,
    FormatError,
    NormalizedEvent,
    fingerprint,
    key_text,
    map_severity,
    string_map,
    text,
)
from integrations.formats.spec import DoorPath, DoorSpec, Snippet, bearer, curl

KNOWN_FIELDS = {"summary", "severity", "labels", "details", "entityId", "runbookId", "dedupKey", "action"}
SCALARS = (str, int, float, bool)


def dedup_key_for(summary: Any, labels: Any) -> str:
    return fingerprint("eventapi", text(summary).strip(), string_map(labels))


def extras_of(body: dict) -> dict:
    return {name: value for name, value in body.items() if name not in KNOWN_FIELDS}


def _label_errors(labels: Any) -> list[str]:
    if labels is None:
        return []
    if not isinstance(labels, dict):
        return ["'labels' must be an object of strings, numbers or booleans"]
    return [
        f"'labels.{name}' must be a string, number or boolean, not {type(value).__name__}"
        for name, value in labels.items()
        if value is not None and not isinstance(value, SCALARS)
    ]


def parse(body: dict) -> list[NormalizedEvent]:
    errors: list[str] = []
    raw_action = body.get("action")
    action = "trigger" if raw_action is None else text(raw_action).strip().lower()
    if action not in ACTIONS:
        errors.append("'action' must be trigger, acknowledge or resolve")
    dedup_key = key_text(body.get("dedupKey"))
    if dedup_key is None:
        errors.append("'dedupKey' must be a string")
        dedup_key = ""
    summary = body.get("summary")

    if action in ("acknowledge", "resolve"):
        # Only the key, the action and the dedup key are checked when closing.
        has_summary = isinstance(summary, str) and summary.strip()
        if not dedup_key and not has_summary and not errors:
            errors.append(f"'dedupKey' or 'summary' (with the same labels) is required to {action}")
        if errors:
            raise FormatError(errors)
        return [
            NormalizedEvent(
                action=action,
                dedup_key=dedup_key or dedup_key_for(summary, body.get("labels")),
                summary=text(summary),
                original_severity=text(body.get("severity")),
                raw=body,
            )
        ]

    if not isinstance(summary, str) or not summary.strip():
        errors.append("'summary' is missing or blank")
    raw_severity = body.get("severity")
    mapped = None
    if raw_severity is None or (isinstance(raw_severity, str) and not raw_severity.strip()):
        errors.append("'severity' is missing or blank (expected low, medium, high or critical)")
    else:
        mapped = map_severity(raw_severity, severity.EVENTAPI) if isinstance(raw_severity, str) else None
        if mapped is None:
            errors.append(f"'severity' {text(raw_severity)!r} is not one of low, medium, high, critical")
    errors.extend(_label_errors(body.get("labels")))
    details = body.get("details")
    if details is not None and not isinstance(details, str):
        errors.append("'details' must be a string")
    for name in ("entityId", "runbookId"):
        if key_text(body.get(name)) is None:
            errors.append(f"'{name}' must be a string")
    if errors:
        raise FormatError(errors)

    labels = string_map(body.get("labels"))
    extras = extras_of(body)
    # Extra fields are shown beside the details text, so nothing a sender adds is lost.
    shown_details: Any = details
    if extras:
        shown_details = ({"details": details} if details is not None else {}) | extras
    return [
        NormalizedEvent(
            action="trigger",
            dedup_key=dedup_key or dedup_key_for(summary, labels),
            summary=summary.strip(),
            severity=mapped,
            original_severity=raw_severity,
            labels=labels,
            details=shown_details,
            entity=key_text(body.get("entityId")) or "",
            runbook=key_text(body.get("runbookId")) or "",
            raw=body,
        )
    ]


# --- the door ---------------------------------------------------------------------------------

EXAMPLE = {
    "summary": "K8s prod API 5xx spike",
    "severity": "high",
    "labels": {"service": "api", "env": "prod"},
    "details": "5xx spiking since 12:03 UTC",
    "entityId": "svc-api",
    "runbookId": "rb-5xx",
    "team": "sre",
}


def curl_snippet(base: str, raw_key: str) -> str:
    return curl(
        f"{base}/api/webhook/ingest",
        {"summary": "Test alert from curl", "severity": "medium", "labels": {"service": "api"}},
        f"Authorization: Bearer {raw_key}",
    )


DOOR = DoorSpec(
    slug="eventapi",
    paths=(DoorPath("eventapi", "api/webhook/ingest", {"post": "EventAPI (bearer token)"}),),
    key_from=(bearer,),
    parse=parse,
    request_schema="EventApiRequest",
    example=EXAMPLE,
    # No dedupKey: the same summary and labels find the alert the example opened.
    resolve_example={"action": "resolve", "summary": EXAMPLE["summary"], "labels": EXAMPLE["labels"]},
    snippets=(Snippet("eventapi", "EventAPI (bearer token), curl", "shell", curl_snippet),),
)
