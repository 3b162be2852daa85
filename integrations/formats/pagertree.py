"""PagerTree's webhook (`/integration/<key>`).

Real senders disagree on case: PagerTree's own documents and LibreNMS send `Id`, `Title`,
`Description`; Uptime Kuma and Apprise send `id`, `title`, `urgency` and no description.
Both are read, the capitalised name winning. LibreNMS sends a numeric `Id`."""

from typing import Any

from django.utils.html import strip_tags

from integrations.formats import severity
from integrations.formats.base import (
    FormatError,
    NormalizedEvent,
    first_of,
    key_text,
    lenient_severity,
    text,
)
from integrations.formats.spec import DoorPath, DoorSpec, path_key, url_snippet

ACTIONS = {"create": "trigger", "acknowledge": "acknowledge", "resolve": "resolve"}
# Read in both spellings; everything else a sender adds is kept in the details.
FIELDS = ("id", "title", "description", "tags", "meta", "urgency")
KNOWN = {"event_type", *FIELDS, *(name.capitalize() for name in FIELDS)}
NO_TITLE = "(no title)"


def field(body: dict, name: str) -> Any:
    return first_of(body, name.capitalize(), name)


def labels_from_tags(tags: Any) -> dict[str, str]:
    """Tags become labels: `env:prod` (or `env=prod`) is the label env=prod; a plain tag
    is a label with an empty value."""
    if isinstance(tags, str):
        tags = [t for t in tags.split(",")]
    if not isinstance(tags, list):
        return {}
    labels: dict[str, str] = {}
    for tag in tags:
        tag_text = text(tag).strip()
        if not tag_text:
            continue
        for separator in (":", "="):
            name, found, value = tag_text.partition(separator)
            if found and name.strip():
                labels[name.strip()] = value.strip()
                break
        else:
            labels[tag_text] = ""
    return labels


def severity_of(body: dict) -> tuple[str, str]:
    """Meta.incident_severity (SEV-1..5), else urgency; lenient either way."""
    meta = field(body, "meta")
    incident_severity = meta.get("incident_severity") if isinstance(meta, dict) else None
    if incident_severity not in (None, ""):
        return lenient_severity(incident_severity, severity.PAGERTREE_SEVERITY), text(incident_severity)
    urgency = field(body, "urgency")
    if urgency not in (None, ""):
        return lenient_severity(urgency, severity.PAGERTREE_URGENCY), text(urgency)
    return "warning", ""


def details_of(body: dict) -> dict | None:
    details: dict[str, Any] = {}
    description = field(body, "description")
    if description is not None:
        details["description"] = description
    meta = field(body, "meta")
    if meta is not None:
        details["meta"] = meta
    details.update({name: value for name, value in body.items() if name not in KNOWN})
    return details or None


def parse(body: dict) -> list[NormalizedEvent]:
    word = text(body.get("event_type")).strip().lower()
    # A sender that leaves out event_type means create (PagerTree's default).
    action = ACTIONS.get(word or "create")
    if action is None:
        return [
            NormalizedEvent(
                action="ignore",
                dedup_key=key_text(field(body, "id")) or "",
                reason=f"event_type {word[:50]!r} is not create, acknowledge or resolve",
                raw=body,
            )
        ]

    dedup_key = key_text(field(body, "id"))
    if dedup_key is None:
        raise FormatError("'id' must be a string or a number")
    if not dedup_key:
        raise FormatError("'id' (or 'Id') is missing or blank")

    title = text(field(body, "title")).strip()
    if action != "trigger":
        return [NormalizedEvent(action=action, dedup_key=dedup_key, summary=title, raw=body)]

    description = text(field(body, "description"))
    mapped, original = severity_of(body)
    return [
        NormalizedEvent(
            action="trigger",
            dedup_key=dedup_key,
            summary=title or strip_tags(description).strip() or NO_TITLE,
            severity=mapped,
            original_severity=original,
            labels=labels_from_tags(field(body, "tags")),
            details=details_of(body),
            raw=body,
        )
    ]


# --- the door ---------------------------------------------------------------------------------

EXAMPLE = {
    "event_type": "create",
    "Id": "example-id-123",
    "Title": "Example Incident Title",
    "Description": "Example Incident Description",
    "Tags": ["a", "b"],
    "Meta": {"incident": True, "incident_severity": "SEV-1"},
}

DOOR = DoorSpec(
    slug="pagertree",
    paths=(DoorPath("pagertree", "integration/{key}", {"post": "PagerTree webhook"}),),
    key_from=(path_key,),
    parse=parse,
    ok_status=200,
    token_header="pagertree-token",
    request_schema="PagerTreeRequest",
    example=EXAMPLE,
    resolve_example={"event_type": "resolve", "Id": "example-id-123"},
    snippets=(url_snippet("pagertree", "PagerTree webhook URL (Uptime Kuma, Apprise, LibreNMS)",
                          "integration/{key}"),),
)
