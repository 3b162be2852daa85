"""PagerDuty Events API v2 (`/api/events/ingest`, `/v2/enqueue`)."""

import uuid
from typing import Any

from integrations.formats import severity
from integrations.formats.base import (
    FormatError,
    NormalizedEvent,
    images_from,
    links_from,
    map_severity,
    text,
)
from integrations.formats.spec import DoorPath, DoorSpec, Snippet, curl, routing_key_in_body

# Datadog sends its $ALERT_TRANSITION as event_action.
DATADOG_TRIGGERS = {
    "triggered", "re-triggered", "warn", "re-warn", "no data", "re-no data", "renotify",
}
DATADOG_RESOLVES = {"recovered"}


def action_of(value: Any) -> str | None:
    if not isinstance(value, str):
        return None
    word = value.strip().lower()
    if word in ("trigger", "acknowledge", "resolve"):
        return word
    if word in DATADOG_TRIGGERS:
        return "trigger"
    if word in DATADOG_RESOLVES:
        return "resolve"
    return None


def dedup_key_of(body: dict) -> str:
    value = body.get("dedup_key")
    if value is None:
        return ""
    if isinstance(value, (str, int)) and not isinstance(value, bool):
        return str(value).strip()
    raise FormatError("'dedup_key' must be a string")


def parse(body: dict) -> list[NormalizedEvent]:
    errors: list[str] = []
    action = action_of(body.get("event_action"))
    if action is None:
        errors.append(
            "'event_action' is missing or invalid (expected trigger, acknowledge or resolve)"
        )
    try:
        dedup_key = dedup_key_of(body)
    except FormatError as exc:
        errors.extend(exc.errors)
        dedup_key = ""

    if action in ("acknowledge", "resolve"):
        # Only the key, the action and the dedup key are checked: closing a page is never
        # refused over the rest of its payload.
        if not dedup_key and not errors:
            errors.append(f"'dedup_key' is required to {action}")
        if errors:
            raise FormatError(errors)
        payload = body.get("payload") if isinstance(body.get("payload"), dict) else {}
        return [
            NormalizedEvent(
                action=action,
                dedup_key=dedup_key,
                summary=text(payload.get("summary")),
                original_severity=text(payload.get("severity")),
                raw=body,
            )
        ]

    payload = body.get("payload")
    if not isinstance(payload, dict):
        errors.append("'payload' is missing or not an object")
        payload = {}
    else:
        for name in ("summary", "source", "severity"):
            value = payload.get(name)
            if value is None or (isinstance(value, str) and not value.strip()):
                errors.append(f"'payload.{name}' is missing or blank")
            elif not isinstance(value, (str, int, float)) or isinstance(value, bool):
                errors.append(f"'payload.{name}' must be a string")
    raw_severity = payload.get("severity")
    mapped = None
    if isinstance(raw_severity, (str, int)) and text(raw_severity).strip():
        mapped = map_severity(raw_severity, severity.EVENTS_API)
        if mapped is None:
            errors.append(
                f"'payload.severity' {text(raw_severity)!r} is not one of critical, error, "
                "warning, info (or a Datadog priority or Zabbix severity name)"
            )
    for name in ("links", "images"):
        if name in body and body[name] is not None and not isinstance(body[name], list):
            errors.append(f"'{name}' must be a list")
    if errors:
        raise FormatError(errors)

    links = links_from(body.get("links"))
    if isinstance(body.get("client_url"), str) and body["client_url"].strip():
        links.append({"href": body["client_url"].strip(), "text": text(body.get("client")) or "Source"})
    return [
        NormalizedEvent(
            action="trigger",
            # A trigger without a dedup key gets one, returned to the sender.
            dedup_key=dedup_key or uuid.uuid4().hex,
            summary=text(payload.get("summary")),
            severity=mapped or "warning",
            original_severity=text(raw_severity),
            source=text(payload.get("source")),
            component=text(payload.get("component")),
            group=text(payload.get("group")),
            event_class=text(payload.get("class")),
            details=payload.get("custom_details"),
            links=links,
            images=images_from(body.get("images")),
            raw=body,
        )
    ]


# --- the door ---------------------------------------------------------------------------------

EXAMPLE = {
    "routing_key": "ik_XXXXXXXXXXXXXXXXXXXXXXXXXXXXX",
    "event_action": "trigger",
    "dedup_key": "disk-full-srv01",
    "payload": {
        "summary": "Disk usage > 90% on srv01",
        "severity": "critical",
        "source": "prometheus",
        "component": "disk",
        "group": "infrastructure",
        "class": "disk",
        "timestamp": "2026-11-22T12:03:00Z",
        "custom_details": {"current_usage": "93%"},
    },
    "links": [{"href": "https://grafana.example/d/disk", "text": "Dashboard"}],
    "images": [],
    "client": "Prometheus",
    "client_url": "https://prometheus.example",
}
SUMMARY = "Inbound Events (PagerDuty Events API v2 compatible)"


def curl_snippet(base: str, raw_key: str) -> str:
    return curl(
        f"{base}/v2/enqueue",
        {
            "routing_key": raw_key,
            "event_action": "trigger",
            "dedup_key": "vigil-test",
            "payload": {"summary": "Test alert from curl", "severity": "warning", "source": "curl"},
        },
    )


def client_settings_snippet(base: str, raw_key: str) -> str:
    return (
        f"Events API v2 URL: {base}/v2/enqueue\n"
        f"Events API v1 URL: {base}/generic/2010-04-15/create_event.json\n"
        f"Base URL: {base}\nRouting key (service key): {raw_key}"
    )


DOOR = DoorSpec(
    slug="events_v2",
    paths=(
        DoorPath("events-ingest", "api/events/ingest", {"post": SUMMARY}),
        # The alias PagerDuty clients and Alertmanager's pagerduty_configs post to.
        DoorPath("v2-enqueue", "v2/enqueue", {"post": SUMMARY}),
    ),
    key_from=(routing_key_in_body("routing_key"),),
    parse=parse,
    pagerduty_errors=True,
    request_schema="EventsV2Request",
    example=EXAMPLE,
    resolve_example={"event_action": "resolve", "dedup_key": "disk-full-srv01"},
    snippets=(
        Snippet("events-api", "Events API (PagerDuty Events API v2 compatible), curl", "shell", curl_snippet),
        Snippet("pagerduty-client", "PagerDuty clients: Events API base URL and routing key", "text",
                client_settings_snippet),
    ),
    payloads="pagerduty",
)
