"""What a door is, as data: one `DoorSpec` per format, declared beside its `parse`.

The generic door (`integrations/doors.py`), the URLs, the OpenAPI document, the new-key
snippets and the test tables all read these specs; nothing else names a door. This module
is plain Python on purpose (standard library only, no Django, no ORM): a format module
imports it and stays a pure `dict in, events out` module."""

from __future__ import annotations

import base64
import binascii
import inspect
import json
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Protocol


class Outcome(Protocol):
    """What the pipeline answers per event (`incidents.pipeline.Outcome`), as far as a
    success body needs it. A protocol, so formats need not import the pipeline."""

    dedup_key: str
    incident_id: int | None

    def as_dict(self) -> dict: ...


# --- where a key is read ------------------------------------------------------------------


@dataclass(frozen=True)
class Presented:
    """Everything a request may carry its key in. `headers` is case-insensitive
    (Django's `request.headers`); `body` is None when it did not parse."""

    headers: Mapping[str, str]
    body: dict | None
    path_key: str | None


@dataclass(frozen=True)
class KeyReader:
    """One place a key is read from. `where` names it for people and for the test tables,
    which present a valid key there: `path`, `bearer`, `basic` or `body:<field>`."""

    where: str
    read: Callable[[Presented], str | None]

    def __call__(self, presented: Presented) -> str | None:
        return self.read(presented)

    @property
    def in_body(self) -> bool:
        return self.where.startswith("body:")


def _authorization(presented: Presented, scheme: str) -> str | None:
    found, _, value = presented.headers.get("Authorization", "").partition(" ")
    return value.strip() or None if found.lower() == scheme else None


def _basic_password(presented: Presented) -> str | None:
    """Grafana's Basic auth: the key is the password (the user name is ignored)."""
    value = _authorization(presented, "basic")
    if value is None:
        return None
    try:
        decoded = base64.b64decode(value, validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        return None
    _user, sep, password = decoded.partition(":")
    return password if sep and password else None


path_key = KeyReader("path", lambda presented: presented.path_key or None)
bearer = KeyReader("bearer", lambda presented: _authorization(presented, "bearer"))
#: Opsgenie's `Authorization: GenieKey <key>`.
genie_key = KeyReader("geniekey", lambda presented: _authorization(presented, "geniekey"))
basic_password = KeyReader("basic", _basic_password)


def routing_key_in_body(name: str) -> KeyReader:
    """PagerDuty's way: the key is a body field; older clients send it in `X-Routing-Key`."""

    def read(presented: Presented) -> str | None:
        key = presented.body.get(name) if presented.body else None
        if not key:
            key = presented.headers.get("X-Routing-Key")
        return key if isinstance(key, str) else None

    return KeyReader(f"body:{name}", read)


# --- what a door answers ------------------------------------------------------------------


def event_processed(outcomes: Sequence[Outcome]) -> dict:
    """API.md's common success body: the first event's dedup key and incident."""
    first = outcomes[0] if outcomes else None
    return {
        "status": "success",
        "message": "Event processed",
        "dedup_key": first.dedup_key if first else None,
        "incident_id": first.incident_id if first else None,
    }


def batch_processed(outcomes: Sequence[Outcome]) -> dict:
    """Alertmanager-shaped notifications: one outcome per alert."""
    return {"status": "success", "events": [outcome.as_dict() for outcome in outcomes]}


@dataclass(frozen=True)
class Receipt:
    """What a vendor-shaped answer reports about its own request: Opsgenie's `requestId`
    (also stored on the request's event rows) and `took`, in seconds."""

    request_id: str
    took: float


@dataclass(frozen=True)
class RecordedRequest:
    """An earlier request of the same key, as the event log remembers it (Opsgenie's
    "get request status"): what it did and to which incident."""

    action: str
    outcome: str
    incident_id: int | None
    dedup_key: str
    received_at: datetime
    reason: str = ""


# --- snippets for the new-key page ----------------------------------------------------------


@dataclass(frozen=True)
class Snippet:
    """Ready-to-paste configuration shown once beside a new key. `text(base, raw_key)`
    writes it for this Vigil's base URL (no trailing slash) and this key."""

    slug: str
    title: str
    language: str  # shell | yaml | text
    text: Callable[[str, str], str]


def curl(url: str, body: dict, *headers: str) -> str:
    lines = [f"curl -sS -X POST '{url}'", "  -H 'Content-Type: application/json'"]
    lines += [f"  -H '{header}'" for header in headers]
    # Single quotes around the JSON: none of its values carries a quote.
    lines.append("  -d '" + json.dumps(body) + "'")
    return " \\\n".join(lines)


def url_snippet(slug: str, title: str, route: str) -> Snippet:
    """The door's URL with the key in it, for tools that only ask for a webhook URL."""
    return Snippet(slug, title, "text", lambda base, raw_key: f"{base}/{route.format(key=raw_key)}")


# --- the door -------------------------------------------------------------------------------


@dataclass(frozen=True)
class DoorPath:
    """One URL of a door, written as API.md writes it (`{key}` where the key goes, other
    `{name}`s for path parameters such as Opsgenie's `{identifier}`; a trailing slash is
    always accepted too). `summaries` maps each HTTP method it documents to its OpenAPI
    summary. `operation_id` is set only where the generated one would collide (a
    key-in-path twin); other methods than POST get `_<method>` appended.

    Most doors have one kind of path: it takes the spec's `parse(body)` and its `example`.
    A door with several operations (Opsgenie: create, close, notes, ...) gives the others
    their own `parse(body, params)`, where `params` holds this path's parameters and the
    query string, or a `report` of an earlier request."""

    name: str  # the URL name is `door-<name>`; the test ids are derived from it
    route: str
    summaries: Mapping[str, str]
    operation_id: str | None = None
    parse: Callable[..., list] | None = None
    #: None: as the spec says.
    reads_body: bool | None = None
    #: An empty body reads as `{}` (Opsgenie's close and acknowledge need none).
    body_optional: bool = False
    #: This path's success body, when it differs from the spec's `ok_body`.
    ok_body: Callable[[Sequence[Outcome]], dict] | None = None
    #: A GET answered from the event log: `report(RecordedRequest | None) -> (status, body)`
    #: for the route's `{request_id}`, looked up under the presented key only.
    report: Callable[[RecordedRequest | None], tuple[int, dict]] | None = None
    #: OpenAPI shapes of this path when they differ from the spec's.
    request_schema: str | dict | None = None
    ok_schema: str | dict | None = None

    @property
    def methods(self) -> tuple[str, ...]:
        """The documented methods."""
        return tuple(self.summaries)

    @property
    def answers(self) -> tuple[str, ...]:
        """The methods answered: HEAD too wherever GET is (Django's rule for any view)."""
        return self.methods + (("head",) if "get" in self.methods else ())

    @property
    def has_path_key(self) -> bool:
        return "{key}" in self.route

    @property
    def params(self) -> tuple[str, ...]:
        """The path parameters other than the key."""
        return tuple(name for name in re.findall(r"{(\w+)}", self.route) if name != "key")

    @property
    def takes_example(self) -> bool:
        """The spec's own path: its `parse(body)` and `example` (the test tables send it)."""
        return self.parse is None and self.report is None


@dataclass(frozen=True)
class DoorSpec:
    """One ingest door. Only `slug`, `paths`, `key_from` and `parse` are always needed."""

    slug: str  # also the format name in the event log and `FORMATS`
    paths: tuple[DoorPath, ...]
    #: Tried in order; the first that finds a key wins.
    key_from: tuple[KeyReader, ...]
    parse: Callable[..., list]
    ok_status: int = 202
    ok_body: Callable[[Sequence[Outcome]], dict] = event_processed
    #: The PagerDuty family answers an unknown key 400 "Invalid routing key", and
    #: unparseable JSON with PagerDuty's "Unrecognized object" envelope; every other door 401.
    pagerduty_errors: bool = False
    #: False for heartbeats: any body, or none, is fine and is never read.
    reads_body: bool = True
    #: Alertmanager and Grafana: parse(body, group_by_group_key=..., watchdog_alertnames=...).
    takes_key_options: bool = False
    #: Change events are stored beside incidents (`incidents.changes`), never through the
    #: pipeline, and never page.
    records_changes: bool = False
    #: A header holding a second credential, checked when the key has a token configured
    #: (PagerTree's `pagertree-token`).
    token_header: str = ""
    # OpenAPI: the request and success shapes are serializer names in `integrations.schemas`
    # (so this module imports no DRF), or a JSON schema dict written here.
    request_schema: str | dict | None = None
    ok_schema: str | dict = "EventAccepted"
    #: A valid trigger: the OpenAPI example, and what the common-rules tests send.
    example: dict = field(default_factory=dict)
    #: A resolve closing what `example` opened (None: the format cannot close anything).
    resolve_example: dict | None = None
    snippets: tuple[Snippet, ...] = ()
    #: The vendor payloads directory under tests/integrations/payloads/ (default: the slug).
    payloads: str = ""
    #: Vendor-shaped answers (Opsgenie): `answer(status, body, receipt) -> body`
    #: rewrites every answer of the door, success or error, after the door chose it; the
    #: door then stores the receipt's request id on the events it logs.
    answer: Callable[[int, dict, Receipt], dict] | None = None
    #: The status of a body that parses but is not a valid request (Opsgenie: 422).
    invalid_status: int = 400
    error_schema: str | dict = "ErrorBody"

    @property
    def key_in_body(self) -> bool:
        """The key is inside the body, so a body that does not parse has no key either."""
        return any(reader.in_body for reader in self.key_from)

    @property
    def description(self) -> str:
        """What the door is for: its format module's docstring (OpenAPI, OPTIONS)."""
        return inspect.getdoc(inspect.getmodule(self.parse)) or ""

    @property
    def payloads_dir(self) -> str:
        return self.payloads or self.slug

    def parse_for_key(self, body: dict, *, group_by_group_key: bool = False,
                      watchdog_alertnames: Sequence[str] = ()) -> list:
        """Parse with the key's options where the format takes them (the door and the
        portal's rule tester both call this, so they read a body the same way)."""
        if self.takes_key_options:
            return self.parse(body, group_by_group_key=group_by_group_key,
                              watchdog_alertnames=watchdog_alertnames)
        return self.parse(body)

    def read_key(self, presented: Presented) -> str | None:
        for reader in self.key_from:
            key = reader(presented)
            if key:
                return key
        return None
