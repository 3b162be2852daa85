"""How alert payload fields are shown in the portal, safely.

Everything here is pure: values in, display values out. Templates escape every string;
this module decides the one thing escaping cannot: which URLs may become a link. Only
absolute http(s) URLs do; `javascript:`, `data:` and anything else is shown as text."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

from integrations.keys import redact

# Severity and status carry a symbol and a word, so neither depends on colour alone.
SEVERITY_SYMBOL = {"critical": "‼", "error": "!", "warning": "▲", "info": "ℹ"}
STATUS_SYMBOL = {"triggered": "●", "acknowledged": "◐", "resolved": "✓"}

# An alert that triggered this recently and was never resolved by its source is still firing.
STILL_FIRING_WINDOW = timedelta(minutes=15)

_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


def safe_http_url(value: Any) -> str | None:
    """`value` if it is an absolute http or https URL, else None."""
    if not isinstance(value, str):
        return None
    value = value.strip()
    if not value or _CONTROL.search(value):
        return None
    try:
        parts = urlsplit(value)
    except ValueError:
        return None
    if parts.scheme.lower() not in ("http", "https") or not parts.netloc:
        return None
    return value


@dataclass
class DisplayLink:
    text: str
    href: str | None  # None: shown as text, never as a link
    raw: str


def display_links(links: Any) -> list[DisplayLink]:
    out = []
    for link in links if isinstance(links, list) else []:
        if isinstance(link, dict):
            raw = str(link.get("href") or link.get("url") or "")
            text = str(link.get("text") or link.get("title") or raw)
        else:
            raw = text = str(link)
        if raw or text:
            out.append(DisplayLink(text=text, href=safe_http_url(raw), raw=raw))
    return out


def display_images(images: Any) -> list[DisplayLink]:
    """Images are linked, not embedded: the page's CSP loads no third-party image, which
    also keeps a payload from planting a tracking pixel in a responder's browser."""
    out = []
    for image in images if isinstance(images, list) else []:
        if not isinstance(image, dict):
            continue
        raw = str(image.get("src") or "")
        text = str(image.get("alt") or raw or "image")
        out.append(DisplayLink(text=text, href=safe_http_url(image.get("href") or raw), raw=raw))
    return out


def pretty_json(value: Any) -> str:
    if value is None or value == "" or value == {}:
        return ""
    if isinstance(value, str):
        return value
    return json.dumps(value, indent=2, ensure_ascii=False, sort_keys=True, default=str)


LONE_SURROGATE = re.compile("[\ud800-\udfff]")


def pretty_body(raw: str) -> str:
    """A body as received, indented when it is JSON; any key-shaped string is redacted
    (the doors already replace the presented key, this catches keys quoted elsewhere)."""
    if not raw:
        return ""
    try:
        text = json.dumps(json.loads(raw), indent=2, ensure_ascii=False, sort_keys=True)
    except ValueError:
        text = raw
    # A `\ud800` escape parses to a lone surrogate, which no page can encode (a 500, T48).
    return redact(LONE_SURROGATE.sub("\ufffd", text))


def labels_of(labels: Any) -> list[tuple[str, str]]:
    if not isinstance(labels, dict):
        return []
    return sorted((str(k), pretty_json(v) if not isinstance(v, str) else v) for k, v in labels.items())


@dataclass
class FiringAlert:
    dedup_key: str
    last_trigger_at: datetime


def still_firing(alerts, now: datetime) -> list[FiringAlert]:
    """Open alerts whose source triggered within the window and never sent a resolve:
    resolving the incident by hand is likely to be undone by the next trigger."""
    return [
        FiringAlert(a.dedup_key, a.last_trigger_at)
        for a in alerts
        if a.status == "open" and a.last_trigger_at and now - a.last_trigger_at <= STILL_FIRING_WINDOW
    ]
