"""Opsgenie's Alert API (`/v2/alerts` and its actions) and heartbeat pings, so a tool set up
for Opsgenie (Alertmanager's `opsgenie_configs`, Grafana's Opsgenie contact point, the
`opsgenie-sdk` client) only changes its API URL. The key is the `GenieKey` header.

`alias` is the dedup key (an alert without one never dedups; the incident's own id then
names it). Close, acknowledge, notes and the message and description updates name the alert
by `identifierType=alias`, or by `id`/`tiny` (both: the Vigil incident id); Opsgenie's
default is `id`. Un-acknowledge is accepted and ignored: a source cannot take back an
acknowledgement in Vigil. Answers keep Opsgenie's shape: 202 `{"result", "took",
"requestId"}`; errors `{"message", "took", "requestId"}`, 422 for a body that parses but is
not a valid request."""

from __future__ import annotations

import uuid
from typing import Any

from integrations.formats.base import (
    FormatError,
    NormalizedEvent,
    string_map,
    text,
)
from integrations.formats.heartbeat import named_dedup_key
from integrations.formats.spec import (
    DoorPath,
    DoorSpec,
    Receipt,
    RecordedRequest,
    Snippet,
    curl,
    genie_key,
)

PRIORITY = {"P1": "critical", "P2": "error", "P3": "warning", "P4": "info", "P5": "info"}
ALIAS_MAX = 512
HEARTBEAT_NAME_MAX = 100
IDENTIFIER_TYPES = ("id", "alias", "tiny")
UNALIASED_PREFIX = "opsgenie-"
LISTS = ("responders", "visibleTo", "actions", "tags")
TEXTS = ("description", "user", "note")


def _string(body: dict, name: str, errors: list[str], *, required: bool = False) -> str:
    value = body.get(name)
    if value is None:
        if required:
            errors.append(f"'{name}' is required")
        return ""
    if not isinstance(value, str):
        errors.append(f"'{name}' must be a string")
        return ""
    if required and not value.strip():
        errors.append(f"'{name}' can not be empty")
    return value


def _extras(body: dict, errors: list[str]) -> dict[str, Any]:
    """What Opsgenie routes or shows and Vigil keeps as the incident's details."""
    extras: dict[str, Any] = {}
    for name in LISTS:
        value = body.get(name)
        if value is None:
            continue
        if not isinstance(value, list):
            errors.append(f"'{name}' must be a list")
        elif value:
            extras[name] = value
    for name in TEXTS:
        value = _string(body, name, errors)
        if value:
            extras[name] = value
    return extras


def parse(body: dict) -> list[NormalizedEvent]:
    """Create alert (`POST /v2/alerts`)."""
    errors: list[str] = []
    message = _string(body, "message", errors, required=True)
    alias = _string(body, "alias", errors).strip()
    if len(alias) > ALIAS_MAX:
        errors.append(f"'alias' is longer than {ALIAS_MAX} characters")
    priority = _string(body, "priority", errors).strip()
    if priority and priority.upper() not in PRIORITY:
        errors.append("'priority' must be one of P1, P2, P3, P4, P5")
    details = body.get("details")
    if details is not None and not isinstance(details, dict):
        errors.append("'details' must be an object of strings")
    source = _string(body, "source", errors)
    entity = _string(body, "entity", errors)
    extras = _extras(body, errors)
    if errors:
        raise FormatError(errors)
    return [
        NormalizedEvent(
            action="trigger",
            # Without an alias every create is a new alert, as in Opsgenie.
            dedup_key=alias or UNALIASED_PREFIX + uuid.uuid4().hex,
            dedupable=bool(alias),
            summary=message,
            severity=PRIORITY.get(priority.upper(), "warning"),
            original_severity=priority,
            source=source,
            entity=entity,
            labels=string_map(details),
            details=extras or None,
            raw=body,
        )
    ]


# --- the actions on an existing alert -------------------------------------------------------


def target(params: dict) -> dict[str, Any]:
    """The alert the URL names: its dedup key (alias) or its incident id (id, tiny).
    Raises FormatError for an identifierType Opsgenie does not know; an id that names no
    incident of Vigil's gives `incident_ref=-1`, which matches nothing (accepted, ignored)."""
    identifier = text(params.get("identifier")).strip()
    kind = text(params.get("identifierType") or "id").strip().lower()
    if kind not in IDENTIFIER_TYPES:
        raise FormatError(f"'identifierType' must be one of {', '.join(IDENTIFIER_TYPES)}")
    if kind == "alias":
        if len(identifier) > ALIAS_MAX:
            raise FormatError(f"the alias is longer than {ALIAS_MAX} characters")
        return {"dedup_key": identifier}
    return {"dedup_key": "", "incident_ref": int(identifier) if identifier.isdigit() else -1}


def _acting(action: str):
    def parse_action(body: dict, params: dict) -> list[NormalizedEvent]:
        errors: list[str] = []
        extras = _extras(body, errors)
        _string(body, "source", errors)
        if errors:
            raise FormatError(errors)
        return [NormalizedEvent(action=action, details=extras or None, raw=body, **target(params))]

    parse_action.__doc__ = f"{action.capitalize()} the alert the URL names."
    return parse_action


parse_close = _acting("resolve")
parse_acknowledge = _acting("acknowledge")


def parse_unacknowledge(body: dict, params: dict) -> list[NormalizedEvent]:
    target(params)
    return [
        NormalizedEvent(
            action="ignore", raw=body,
            reason="un-acknowledge is not supported: a source cannot take back an acknowledgement in Vigil",
        )
    ]


def parse_note(body: dict, params: dict) -> list[NormalizedEvent]:
    errors: list[str] = []
    note = _string(body, "note", errors, required=True)
    user = _string(body, "user", errors)
    if errors:
        raise FormatError(errors)
    return [NormalizedEvent(action="note", note=f"{note} ({user})" if user else note, raw=body, **target(params))]


def _updating(field: str, update_key: str):
    def parse_update(body: dict, params: dict) -> list[NormalizedEvent]:
        errors: list[str] = []
        value = _string(body, field, errors, required=True)
        if errors:
            raise FormatError(errors)
        return [NormalizedEvent(action="update", updates={update_key: value}, raw=body, **target(params))]

    parse_update.__doc__ = f"Update the alert's {field}."
    return parse_update


parse_message = _updating("message", "summary")
parse_description = _updating("description", "description")


def parse_ping(body: dict, params: dict) -> list[NormalizedEvent]:
    """A heartbeat ping: the named heartbeat under this key, created on its first ping."""
    name = text(params.get("name")).strip()
    if not name or len(name) > HEARTBEAT_NAME_MAX:
        raise FormatError(f"the heartbeat name must be 1 to {HEARTBEAT_NAME_MAX} characters")
    return [
        NormalizedEvent(
            action="heartbeat", dedup_key=named_dedup_key(name), summary=f"heartbeat {name}",
            heartbeat_name=name, raw=body,
        )
    ]


# --- the answers ------------------------------------------------------------------------------

ACTION_NAMES = {
    "trigger": "Create", "resolve": "Close", "acknowledge": "Acknowledge", "note": "AddNote",
    "update": "Update", "heartbeat": "Ping",
}
STATUS_TEXT = {
    ("trigger", "created"): "Created alert",
    ("trigger", "grouped"): "Created alert",
    ("trigger", "updated"): "Alert already exists: count increased",
    ("resolve", "resolved"): "Closed alert",
    ("acknowledge", "acknowledged"): "Acknowledged alert",
    ("note", "updated"): "Added note",
    ("update", "updated"): "Updated alert",
}


def accepted(outcomes) -> dict:
    return {"result": "Request will be processed"}


def pong(outcomes) -> dict:
    return {"result": "PONG - Heartbeat received"}


def request_status(recorded: RecordedRequest | None) -> tuple[int, dict]:
    """`GET /v2/alerts/requests/{request_id}`: what an earlier request of this key did.
    A request that reached no alert reads as Opsgenie's "Alert does not exist"."""
    if recorded is None:
        return 404, {"message": "Request not found. It might not be processed, yet."}
    status = STATUS_TEXT.get((recorded.action, recorded.outcome))
    if status is None and recorded.outcome == "ignored" and recorded.incident_id is None:
        status_text = "Alert does not exist"
    else:
        status_text = status or recorded.reason or recorded.outcome
    return 200, {
        "data": {
            "success": status is not None,
            "action": ACTION_NAMES.get(recorded.action, recorded.action.capitalize()),
            "processedAt": recorded.received_at.isoformat().replace("+00:00", "Z"),
            "alertId": str(recorded.incident_id) if recorded.incident_id else "",
            "alias": "" if recorded.dedup_key.startswith(UNALIASED_PREFIX) else recorded.dedup_key,
            "isSuccess": status is not None,
            "status": status_text,
        }
    }


def answer(status: int, body: dict, receipt: Receipt) -> dict:
    """Every answer in Opsgenie's envelope: errors become `{"message"}`, and each carries
    `took` and `requestId`."""
    if status >= 400:
        errors = body.get("errors") or []
        body = {"message": "; ".join(errors) if errors else body.get("message", "")}
    return {**body, "took": receipt.took, "requestId": receipt.request_id}


# --- the door ---------------------------------------------------------------------------------

EXAMPLE = {
    "message": "Disk usage above 90% on srv01",
    "alias": "disk-full-srv01",
    "description": "/var is 93% full",
    "tags": ["disk", "prod"],
    "details": {"host": "srv01", "mount": "/var"},
    "entity": "srv01",
    "source": "prometheus",
    "priority": "P1",
}


def _action(name: str, verb: str, parse_with, summary: str, methods=("post",)) -> DoorPath:
    return DoorPath(
        f"opsgenie-{name}", f"v2/alerts/{{identifier}}/{verb}",
        {method: f"Opsgenie: {summary}" for method in methods},
        parse=parse_with, body_optional=True, request_schema="OpsgenieActionRequest",
    )


def curl_snippet(base: str, raw_key: str) -> str:
    create = curl(f"{base}/v2/alerts", {"message": EXAMPLE["message"], "alias": EXAMPLE["alias"],
                                         "priority": "P1"}, f"Authorization: GenieKey {raw_key}")
    close = curl(f"{base}/v2/alerts/{EXAMPLE['alias']}/close?identifierType=alias", {"source": "cli"},
                 f"Authorization: GenieKey {raw_key}")
    return create + "\n\n" + close


def alertmanager_snippet(base: str, raw_key: str) -> str:
    return "\n".join([
        "receivers:",
        "  - name: vigil",
        "    opsgenie_configs:",
        f"      - api_url: {base}/",
        f"        api_key: {raw_key}",
        "        update_alerts: true",
    ])


DOOR = DoorSpec(
    slug="opsgenie",
    paths=(
        DoorPath("opsgenie-alerts", "v2/alerts", {"post": "Opsgenie: create alert"}),
        _action("close", "close", parse_close, "close alert"),
        _action("acknowledge", "acknowledge", parse_acknowledge, "acknowledge alert"),
        _action("unacknowledge", "unacknowledge", parse_unacknowledge, "unacknowledge alert (accepted, ignored)"),
        _action("notes", "notes", parse_note, "add note"),
        _action("message", "message", parse_message, "update alert message", ("put", "post")),
        _action("description", "description", parse_description, "update alert description", ("put", "post")),
        DoorPath("opsgenie-request", "v2/alerts/requests/{request_id}", {"get": "Opsgenie: get request status"},
                 report=request_status, reads_body=False, ok_schema="OpsgenieRequestStatus"),
        DoorPath("opsgenie-heartbeat", "v2/heartbeats/{name}/ping",
                 {method: "Opsgenie: ping heartbeat" for method in ("get", "post", "put", "patch")},
                 parse=parse_ping, reads_body=False, ok_body=pong, ok_schema="OpsgenieAccepted"),
    ),
    key_from=(genie_key,),
    parse=parse,
    ok_body=accepted,
    answer=answer,
    invalid_status=422,
    request_schema="OpsgenieCreateRequest",
    ok_schema="OpsgenieAccepted",
    error_schema="OpsgenieError",
    example=EXAMPLE,
    resolve_example=None,
    snippets=(
        Snippet("opsgenie-curl", "Opsgenie Alert API (create, close), curl", "shell", curl_snippet),
        Snippet("opsgenie-alertmanager", "Alertmanager opsgenie_configs", "yaml", alertmanager_snippet),
    ),
)
