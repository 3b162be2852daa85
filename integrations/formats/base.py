"""What every format shares: the normalised event, the error a format raises, and the
helpers that read loosely typed vendor JSON. No database, no request: dict in, events out."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

ACTIONS = ("trigger", "acknowledge", "resolve")
# The dedup key of a key's one "missed heartbeat" incident: the heartbeat door's beats and
# the watchdog alerts of batch formats both close it, whatever their own dedup keys.
HEARTBEAT_DEDUP_KEY = "vigil-heartbeat"
SEVERITIES = ("critical", "error", "warning", "info")


class FormatError(Exception):
    """A body the format cannot turn into events. `errors` names every offending field."""

    def __init__(self, errors: list[str] | str):
        self.errors = [errors] if isinstance(errors, str) else list(errors)
        super().__init__("; ".join(self.errors))


@dataclass
class NormalizedEvent:
    """One event in Vigil's own words, whatever door it came through.

    `action` is trigger | acknowledge | resolve, or one of the special actions
    `heartbeat` (a watchdog beat), `test` (a sender's test notification, pages nobody),
    `ignore` (understood, nothing to do), `invalid` (one bad entry of a batch; its
    `errors` say why), `change` (a change event: stored beside incidents, never paged),
    `note` (a timeline note on the alert's incident) and `update` (new text for the open
    alert, kept beside the first as a repeat trigger's is: `updates`)."""

    action: str
    dedup_key: str = ""
    summary: str = ""
    severity: str = "warning"
    original_severity: str = ""
    source: str = ""
    component: str = ""
    group: str = ""
    event_class: str = ""
    labels: dict[str, str] = field(default_factory=dict)
    details: Any = None
    links: list[dict] = field(default_factory=list)
    images: list[dict] = field(default_factory=list)
    runbook: str = ""
    entity: str = ""
    group_key: str = ""
    # When the sender says it happened (change events keep it; alerts use arrival time).
    occurred_at: datetime | None = None
    # The part of the body this event came from (the whole body for single-event formats).
    raw: Any = None
    # False for events that must never dedup (Spike without a title).
    dedupable: bool = True
    errors: list[str] = field(default_factory=list)
    reason: str = ""
    #: Acknowledge, resolve, note, update: the incident named by its own id (Opsgenie's
    #: identifierType=id|tiny) instead of by the dedup key.
    incident_ref: int | None = None
    #: A `note` event's text.
    note: str = ""
    #: An `update` event's new fields: `summary` and/or `description`.
    updates: dict[str, str] = field(default_factory=dict)
    #: A named heartbeat's beat (Opsgenie's heartbeats); '' for the key's own heartbeat.
    heartbeat_name: str = ""

    @property
    def is_closing(self) -> bool:
        return self.action in ("acknowledge", "resolve")

    @property
    def never_limited(self) -> bool:
        """Acknowledge, resolve and heartbeat are never refused by the rate limit: a refused
        close leaves someone paged, and a refused heartbeat pages someone (T51)."""
        return self.is_closing or self.action == "heartbeat"

    def to_log(self) -> dict:
        """The normalised fields, for the event log (raw is logged separately)."""
        return {
            "action": self.action,
            "dedup_key": self.dedup_key,
            "summary": self.summary,
            "severity": self.severity,
            "original_severity": self.original_severity,
            "source": self.source,
            "component": self.component,
            "group": self.group,
            "class": self.event_class,
            "labels": self.labels,
            "details": self.details,
            "links": self.links,
            "images": self.images,
            "runbook": self.runbook,
            "entity": self.entity,
        }


# --- reading vendor JSON -------------------------------------------------------------


def text(value: Any) -> str:
    """A scalar as text ('' for None); containers as compact JSON."""
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return str(value)
    return json.dumps(value, sort_keys=True, separators=(",", ":"))


def key_text(value: Any) -> str | None:
    """An id or dedup key sent as a string or a number, trimmed ('' when absent); None when
    it is another type (an object, a list, a boolean), which no sender means as a key."""
    if value is None:
        return ""
    if isinstance(value, bool) or not isinstance(value, (str, int, float)):
        return None
    return text(value).strip()


def first_of(body: dict, *names: str) -> Any:
    """The first of `names` present and not None in `body` (capitalised before lower-case,
    in the order given)."""
    for name in names:
        if name in body and body[name] is not None:
            return body[name]
    return None


def string_map(value: Any) -> dict[str, str]:
    """Labels: a map of strings. Scalars are turned into text; nested values into JSON."""
    if not isinstance(value, dict):
        return {}
    return {str(k): text(v) for k, v in value.items()}


def link(href: Any, text_: Any = "") -> dict | None:
    if not isinstance(href, str) or not href.strip():
        return None
    return {"href": href.strip(), "text": text(text_) or href.strip()}


def links_from(value: Any) -> list[dict]:
    """PagerDuty-style `links`: a list of {href, text}; anything else is dropped."""
    if not isinstance(value, list):
        return []
    out = []
    for item in value:
        if isinstance(item, dict):
            made = link(item.get("href"), item.get("text"))
            if made:
                out.append(made)
    return out


def images_from(value: Any) -> list[dict]:
    if not isinstance(value, list):
        return []
    out = []
    for item in value:
        if isinstance(item, dict) and isinstance(item.get("src"), str) and item["src"].strip():
            out.append({"src": item["src"], "href": text(item.get("href")), "alt": text(item.get("alt"))})
    return out


def fingerprint(*parts: Any) -> str:
    """A stable hash of JSON-able parts (dict keys sorted), for formats without a dedup key."""
    blob = json.dumps(parts, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(blob.encode("utf-8")).hexdigest()


def map_severity(value: Any, table: dict[str, str], *, default: str = "warning") -> str | None:
    """Case-insensitive lookup; None when the value is present but in no row."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return default
    return table.get(text(value).strip().lower())


def lenient_severity(value: Any, table: dict[str, str]) -> str:
    """Lenient formats: an unknown value maps to warning, never a 400."""
    return map_severity(value, table) or "warning"
