"""Temperstack's webhook (`/api/integration/webhook/<key>`): status Alarm opens, OK resolves."""

from integrations.formats import severity
from integrations.formats.base import FormatError, NormalizedEvent, key_text, lenient_severity, link, text
from integrations.formats.spec import DoorPath, DoorSpec, path_key, url_snippet

STATUSES = {"alarm": "trigger", "ok": "resolve"}
RESOURCE_FIELDS = ("metric_name", "resource_id", "resource_name", "resource_type")


def parse(body: dict) -> list[NormalizedEvent]:
    errors: list[str] = []
    action = STATUSES.get(text(body.get("status")).strip().lower())
    if action is None:
        errors.append("'status' is missing or invalid (expected Alarm or OK)")
    name = body.get("alert_name")
    has_name = isinstance(name, str) and bool(name.strip())
    alert_id = key_text(body.get("alert_id"))
    if alert_id is None:
        errors.append("'alert_id' must be a string")
        alert_id = ""

    if action == "resolve":
        # Closing needs only the key, the status and something to find the alert by.
        if not alert_id and not has_name and not errors:
            errors.append("'alert_id' or 'alert_name' is required to resolve")
        if errors:
            raise FormatError(errors)
        return [
            NormalizedEvent(
                action="resolve",
                dedup_key=alert_id or name.strip(),
                summary=text(name),
                original_severity=text(body.get("alert_priority")),
                raw=body,
            )
        ]

    if not has_name:
        errors.append("'alert_name' is missing or blank")
    if errors:
        raise FormatError(errors)

    alert_link = link(body.get("alert_url"), "Temperstack alert")
    priority = body.get("alert_priority")
    return [
        NormalizedEvent(
            action="trigger",
            dedup_key=alert_id or name.strip(),
            summary=name.strip(),
            severity=lenient_severity(priority, severity.TEMPERSTACK),
            original_severity=text(priority),
            source=text(body.get("resource_name")),
            component=text(body.get("metric_name")),
            event_class=text(body.get("resource_type")),
            entity=text(body.get("resource_id")),
            labels={f: text(body[f]) for f in RESOURCE_FIELDS if body.get(f) not in (None, "")},
            details=body.get("description"),
            links=[alert_link] if alert_link else [],
            runbook=text(body.get("run_book_url")).strip(),
            raw=body,
        )
    ]


# --- the door ---------------------------------------------------------------------------------

EXAMPLE = {
    "alert_name": "Multiple requests are failing.",
    "status": "Alarm",
    "alert_priority": "Critical",
    "alert_id": "alert-12345",
    "description": "Requests to the checkout API are failing with 5xx.",
    "alert_url": "https://monitoring.example.com/alerts/alert-12345",
    "metric_name": "http_5xx_rate",
    "resource_id": "res-001",
    "resource_name": "checkout-api",
    "resource_type": "API",
    "run_book_url": "https://runbooks.example.com/checkout-5xx",
}

DOOR = DoorSpec(
    slug="temperstack",
    paths=(DoorPath("temperstack", "api/integration/webhook/{key}", {"post": "Temperstack webhook"}),),
    key_from=(path_key,),
    parse=parse,
    ok_status=200,
    request_schema="TemperstackRequest",
    example=EXAMPLE,
    resolve_example={"status": "OK", "alert_id": "alert-12345"},
    snippets=(url_snippet("temperstack", "Temperstack webhook URL", "api/integration/webhook/{key}"),),
)
