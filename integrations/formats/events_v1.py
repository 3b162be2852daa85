"""PagerDuty Events API v1, the legacy generic endpoint
(`/generic/2010-04-15/create_event.json`) that old Alertmanager configs with `service_key`
still post to."""

import uuid

from integrations.formats.base import FormatError, NormalizedEvent, key_text, link, text
from integrations.formats.spec import DoorPath, DoorSpec, routing_key_in_body

ACTIONS = ("trigger", "acknowledge", "resolve")


def contexts_from(value) -> tuple[list[dict], list[dict]]:
    """v1 `contexts`: a list of {type: link, href, text} and {type: image, src, href, alt}."""
    links: list[dict] = []
    images: list[dict] = []
    if not isinstance(value, list):
        return links, images
    for item in value:
        if not isinstance(item, dict):
            continue
        kind = text(item.get("type")).strip().lower()
        if kind == "image" and isinstance(item.get("src"), str) and item["src"].strip():
            images.append({"src": item["src"].strip(), "href": text(item.get("href")), "alt": text(item.get("alt"))})
        elif kind == "link":
            made = link(item.get("href"), item.get("text"))
            if made:
                links.append(made)
    return links, images


def parse(body: dict) -> list[NormalizedEvent]:
    errors: list[str] = []
    action = text(body.get("event_type")).strip().lower()
    if action not in ACTIONS:
        errors.append("'event_type' is missing or invalid (expected trigger, acknowledge or resolve)")
    incident_key = key_text(body.get("incident_key"))
    if incident_key is None:
        errors.append("'incident_key' must be a string")
        incident_key = ""

    if action in ("acknowledge", "resolve"):
        if not incident_key and not errors:
            errors.append(f"'incident_key' is required to {action}")
        if errors:
            raise FormatError(errors)
        return [
            NormalizedEvent(
                action=action, dedup_key=incident_key, summary=text(body.get("description")), raw=body
            )
        ]

    description = body.get("description")
    if not isinstance(description, str) or not description.strip():
        errors.append("'description' is missing or blank")
    if errors:
        raise FormatError(errors)

    links, images = contexts_from(body.get("contexts"))
    client_link = link(body.get("client_url"), body.get("client") or "Source")
    if client_link:
        links.append(client_link)
    return [
        NormalizedEvent(
            action="trigger",
            # Like PagerDuty, a trigger without an incident_key gets one, returned to the sender.
            dedup_key=incident_key or uuid.uuid4().hex,
            summary=description.strip(),
            source=text(body.get("client")),
            details=body.get("details"),
            links=links,
            images=images,
            raw=body,
        )
    ]


# --- the door ---------------------------------------------------------------------------------

EXAMPLE = {
    "service_key": "ik_XXXXXXXXXXXXXXXXXXXXXXXXXXXXX",
    "event_type": "trigger",
    "incident_key": "srv01/HTTP",
    "description": "FAILURE for production/HTTP on machine srv01.acme.com",
    "client": "Sample Monitoring Service",
    "client_url": "https://monitoring.example.com",
    "details": {"ping time": "1500ms", "load avg": 0.75},
}


def v1_processed(outcomes) -> dict:
    """Events API v1 names the dedup key `incident_key`."""
    return {"status": "success", "message": "Event processed", "incident_key": outcomes[0].dedup_key}


DOOR = DoorSpec(
    slug="events_v1",
    paths=(
        DoorPath("events-v1", "generic/2010-04-15/create_event.json",
                 {"post": "Events API v1 (legacy PagerDuty generic endpoint)"}),
    ),
    key_from=(routing_key_in_body("service_key"),),
    parse=parse,
    ok_status=200,
    ok_body=v1_processed,
    pagerduty_errors=True,
    request_schema="EventsV1Request",
    ok_schema="EventsV1Accepted",
    example=EXAMPLE,
    resolve_example={"event_type": "resolve", "incident_key": "srv01/HTTP"},
    payloads="pagerduty",
)
