"""Flapping detection: an alert that keeps opening and resolving pages once, not each time.

Each state change of an alert (a trigger that opens it, a resolve that closes it), per
(integration key, dedup key), goes into a Redis sorted set scored by time. More than the
key's threshold of changes within the key's window (`IntegrationKey.flapping_threshold` and
`flapping_window_seconds`; empty: `FLAPPING_THRESHOLD` and `FLAPPING_WINDOW_SECONDS`) mark the incident flapping:
a badge, a timeline entry, and the escalation engine holds its pages. A periodic task clears
the mark once the alert has been stable for the window and sends one summary.

Redis never sits inside a database transaction: the pipeline reads the count before its
transaction (`check`; a door reads it for all its events in the one round trip of its
preflight and hands the answers to `apply_event(flap=...)`), writes the mark together with
the state change, and adds the change to the sorted set after the commit (`record_change`,
one round trip). Redis is an aid here, never a dependency: when it is down or hung, ingest
goes on without flapping detection and says so in a warning at most once a minute."""

from __future__ import annotations

import enum
import hashlib
import logging
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import redis
from django.conf import settings
from django.db import transaction
from django.db.models import Max, Q
from django.utils import timezone

from config import redis_clients
from escalation import notify
from incidents.models import Event, Incident, TimelineEntry
from integrations.models import IntegrationKey

logger = logging.getLogger("vigil.flapping")

WARNING_INTERVAL_SECONDS = 60
# After a failure, skip Redis this long: a hung Redis must not cost a socket timeout per event.
RETRY_AFTER_SECONDS = 5
# (action, outcome) pairs that change an alert's state.
STATE_CHANGES = {("trigger", "created"), ("trigger", "grouped"), ("resolve", "resolved")}
ACTIONS = {action for action, _outcome in STATE_CHANGES}

_state_lock = threading.Lock()
_last_warning_at = float("-inf")
_skip_until = float("-inf")


class Unread(enum.Enum):
    """`apply_event(flap=READ)`: the caller did not read the count; the pipeline reads it."""

    READ = "read"


READ = Unread.READ


def available() -> bool:
    """Whether to ask Redis now: one is configured (not so in `make run` without Redis:
    detection is off), and it is not in its back-off after a failure."""
    return bool(settings.FLAPPING_REDIS_URL) and time.monotonic() >= _skip_until


def _client() -> redis.Redis:
    return redis_clients.client(settings.FLAPPING_REDIS_URL)


def failed(error: Exception) -> None:
    """Redis did not answer: go on without detection, back off, warn at most once a minute."""
    global _last_warning_at, _skip_until
    now = time.monotonic()
    with _state_lock:
        _skip_until = now + RETRY_AFTER_SECONDS
        if now - _last_warning_at < WARNING_INTERVAL_SECONDS:
            return
        _last_warning_at = now
    logger.warning("Redis unreachable (%s): ingest goes on without flapping detection", error)


def _redis_key(key_id: int, dedup_key: str) -> str:
    return f"vigil:flap:{key_id}:{hashlib.sha256(dedup_key.encode('utf-8')).hexdigest()[:32]}"


def _count(ask: Callable[[redis.Redis], Any]) -> Any:
    """One round trip that returns a count (or a list of them), or None when Redis cannot say
    (skipped during the back-off after a failure, so a hung Redis costs one socket timeout,
    not one each)."""
    if not available():
        return None
    try:
        return ask(_client())
    except redis_clients.FAILURES as error:
        failed(error)
        return None


@dataclass(frozen=True)
class Limits:
    """A key's flapping limits: more than `threshold` state changes within `window_seconds`."""

    threshold: int
    window_seconds: int


def limits_of(key: IntegrationKey | None) -> Limits:
    """The key's own limits where it sets them, else the installation's. No query: the
    fields are on the key row ingest already holds."""
    threshold = getattr(key, "flapping_threshold", None)
    window = getattr(key, "flapping_window_seconds", None)
    return Limits(
        threshold if threshold is not None else settings.FLAPPING_THRESHOLD,
        window if window is not None else settings.FLAPPING_WINDOW_SECONDS,
    )


def _window(window_seconds: int | None) -> int:
    return window_seconds if window_seconds is not None else settings.FLAPPING_WINDOW_SECONDS


def record_change(key_id: int, dedup_key: str, change: str, now: datetime | None = None, *,
                  window_seconds: int | None = None) -> int | None:
    """Add one state change (the pipeline calls this after its commit: the change happened);
    return how many the alert had within the window, or None when Redis cannot say."""
    counts = record_changes(key_id, [(dedup_key, change)], now, window_seconds=window_seconds)
    return None if counts is None else counts[0]


def record_changes(key_id: int, changes: list[tuple[str, str]], now: datetime | None = None, *,
                   window_seconds: int | None = None) -> list[int] | None:
    """Add the state changes (dedup key, change) of one request in one round trip: for each,
    how many its alert had within the window, or None when Redis cannot say."""
    now_ts = (now or timezone.now()).timestamp()
    window = _window(window_seconds)

    def add(client: redis.Redis) -> list[int]:
        pipe = client.pipeline(transaction=True)
        for dedup_key, change in changes:
            name = _redis_key(key_id, dedup_key)
            pipe.zadd(name, {f"{now_ts:.6f}:{change}:{uuid.uuid4().hex[:8]}": now_ts})
            pipe.zremrangebyscore(name, "-inf", now_ts - window)
            pipe.zcard(name)
            pipe.expire(name, window + 60)
        replies = pipe.execute()
        return replies[2::4]  # each change's ZCARD

    return _count(add)


def _read(key_id: int, dedup_key: str, now: datetime | None, window_seconds: int | None) -> tuple[str, str, str]:
    """ZCOUNT's arguments for the alert's changes within the window."""
    since = (now or timezone.now()).timestamp() - _window(window_seconds)
    # Exclusive lower bound: the same changes `record_change` keeps after its trim.
    return _redis_key(key_id, dedup_key), f"({since}", "+inf"


def changes_in_window(key_id: int, dedup_key: str, now: datetime | None = None, *,
                      window_seconds: int | None = None) -> int | None:
    """How many state changes the alert had within the window, read only; None when Redis
    cannot say."""
    return _count(lambda client: client.zcount(*_read(key_id, dedup_key, now, window_seconds)))


def queue_read(pipe, key_id: int, dedup_key: str, *, window_seconds: int | None = None) -> None:
    """Add the read of `changes_in_window` to `pipe` (one reply, the count; give it to
    `flap_of`), for a caller that sends it with other commands in one round trip (the
    doors' preflight, `integrations/preflight.py`)."""
    pipe.zcount(*_read(key_id, dedup_key, None, window_seconds))


@dataclass(frozen=True)
class Flap:
    """Read before the transaction: if this event changes its alert's state, the alert is
    flapping, with `count` changes within the window (this one included)."""

    dedup_key: str
    count: int
    window_seconds: int | None = None  # None: the installation's window

    @property
    def window(self) -> int:
        return _window(self.window_seconds)

    @property
    def note(self) -> str:
        """For the event log's reason."""
        return (
            f"flapping: alert {self.dedup_key[:80]!r} changed state {self.count} times in "
            f"{self.window}s; notifications are held until it is stable"
        )


def is_state_change(action: str, outcome: str, incident_id: int | None) -> bool:
    return (action, outcome) in STATE_CHANGES and incident_id is not None


def check(key_id: int, dedup_key: str, action: str, limits: Limits | None = None) -> Flap | None:
    """Before the pipeline's transaction (no row lock is held while Redis answers or hangs):
    would a state change now make this alert flapping? The pipeline then writes the mark
    with the change itself, so escalation sees it. Two state changes of one alert racing
    each other may both read the same count: the mark can come one change late, never
    falsely. Trigger and resolve only: nothing else changes an alert's state."""
    if action not in ACTIONS:
        return None
    limits = limits or limits_of(None)
    return flap_of(changes_in_window(key_id, dedup_key, window_seconds=limits.window_seconds), dedup_key, limits)


def flap_of(before: int | None, dedup_key: str, limits: Limits) -> Flap | None:
    """What `check` answers once the count is read (`before`: None when Redis could not say)."""
    if before is None or before + 1 <= limits.threshold:
        return None
    return Flap(dedup_key, before + 1, limits.window_seconds)


def mark_flapping(incident_id: int, flap: Flap, *, created_flapping: bool = False) -> str:
    """Mark the incident of this state change (caller's transaction) and return the note for
    the event log. `created_flapping`: the pipeline created the incident already marked, and
    only its timeline line is missing."""
    if created_flapping or Incident.objects.filter(pk=incident_id, is_flapping=False).update(is_flapping=True):
        window = flap.window
        TimelineEntry.objects.create(
            incident_id=incident_id,
            kind=TimelineEntry.Kind.FLAPPING,
            message=(
                f"Flapping: alert {flap.dedup_key[:80]!r} changed state {flap.count} times in {window // 60} min. "
                f"Notifications are held until it has been stable for {window // 60} min; "
                "then one summary is sent."
            ),
            data={"dedup_key": flap.dedup_key, "changes": flap.count, "window_seconds": window},
        )
    return flap.note


# --- the periodic task's half ---------------------------------------------------------------


def _flapping_alert_of(incidents: list[Incident]) -> dict[int, str]:
    """incident id -> the dedup key that made it flap (from its first flapping entry)."""
    found: dict[int, str] = {}
    entries = (
        TimelineEntry.objects.filter(incident__in=incidents, kind=TimelineEntry.Kind.FLAPPING)
        .order_by("id")
        .values_list("incident_id", "data")
    )
    for incident_id, data in entries:
        if incident_id not in found and isinstance(data, dict) and data.get("dedup_key"):
            found[incident_id] = data["dedup_key"]
    return found


def _state_changes(key_id: int | None, dedup_key: str, since: datetime):
    """The alert's state changes in the event log (the database, not Redis, is the record)."""
    return Event.objects.filter(
        Q(action="trigger", outcome__in=["created", "grouped"]) | Q(action="resolve", outcome="resolved"),
        integration_key_id=key_id, dedup_key=dedup_key, received_at__gte=since,
    )


def clear_stable_flapping(now: datetime | None = None) -> int:
    """Clear the flapping mark of every alert stable for the window; one summary each.

    Episodes are per alert (key, dedup key): a flapping alert opens a new incident after
    each resolve, so one episode can span several incidents; they are all cleared together
    and the latest one gets the summary. Returns the number of incidents cleared."""
    now = now or timezone.now()
    cleared = 0
    with transaction.atomic():
        # SKIP LOCKED: two overlapping runs never send the same summary twice.
        incidents = list(
            Incident.objects.select_for_update(skip_locked=True).filter(is_flapping=True).order_by("id")
        )
        alert_of = _flapping_alert_of(incidents)
        episodes: dict[tuple[int | None, str], list[Incident]] = {}
        for incident in incidents:
            dedup_key = alert_of.get(incident.pk, incident.dedup_key)
            episodes.setdefault((incident.integration_key_id, dedup_key), []).append(incident)
        windows = _windows_of({key_id for key_id, _dedup_key in episodes})
        for (key_id, dedup_key), members in episodes.items():
            window = timedelta(seconds=windows.get(key_id, settings.FLAPPING_WINDOW_SECONDS))
            last_change = _state_changes(key_id, dedup_key, now - window).aggregate(last=Max("received_at"))
            if last_change["last"] is not None:
                continue  # still changing within the window
            _end_episode(key_id, dedup_key, members, now, window)
            cleared += len(members)
    return cleared


def _windows_of(key_ids: set[int | None]) -> dict[int, int]:
    """key id -> its flapping window (the key's own, else the default). One query."""
    ids = [key_id for key_id in key_ids if key_id is not None]
    if not ids:
        return {}
    rows = IntegrationKey.objects.filter(pk__in=ids).values_list("pk", "flapping_window_seconds")
    return {pk: _window(window) for pk, window in rows}


def _end_episode(key_id, dedup_key: str, members: list[Incident], now: datetime, window: timedelta) -> None:
    since = min(incident.first_seen_at for incident in members) - window
    changes = _state_changes(key_id, dedup_key, since)
    opened = changes.filter(action="trigger").count()
    resolved = changes.filter(action="resolve").count()
    first_at = min(incident.first_seen_at for incident in members)
    latest = max(members, key=lambda incident: incident.pk)
    ids = ", ".join(f"#{incident.pk}" for incident in members)
    summary = (
        f"Stable again: alert {dedup_key[:80]!r} flapped, {opened + resolved} state changes "
        f"({opened} opened, {resolved} resolved) since {first_at:%Y-%m-%d %H:%M:%S} UTC, "
        f"over incident(s) {ids}; no change for {int(window.total_seconds()) // 60} min; "
        f"incident #{latest.pk} is {latest.status}."
    )
    Incident.objects.filter(pk__in=[incident.pk for incident in members]).update(is_flapping=False)
    for incident in members:
        TimelineEntry.objects.create(
            incident=incident, kind=TimelineEntry.Kind.FLAPPING, message=summary, created_at=now,
            data={"dedup_key": dedup_key, "stable": True, "opened": opened, "resolved": resolved,
                  "incidents": [m.pk for m in members], "summary_to": latest.pk},
        )
    transaction.on_commit(lambda: _send_summary(latest.pk))


def _send_summary(incident_id: int) -> None:
    notify.send_flapping_summary(incident_id)  # the escalation app owns sending
