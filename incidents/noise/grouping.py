"""Alert grouping by time window: during an alert storm, new dedup keys join the open
incident instead of each opening (and paging) its own.

A key with `grouping_type = time_window` and window W: a trigger with a new dedup key that
arrives within W of the first alert of an open incident of the same group joins it as a new
alert (outcome `grouped`, `alert_count` + 1). The group is the key, plus the values of the
key's `grouping_labels` when it names any. After W, the next new dedup key opens a new
incident (and a new group). Alerts already open keep deduplicating into their own incident."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db import connection
from django.db.models import F

from incidents.models import Alert, Incident
from integrations.formats.base import NormalizedEvent
from integrations.models import IntegrationKey

BUCKET_PREFIX = "window:"
GROUP_KEY_MAX = 255


@dataclass(frozen=True)
class Group:
    """Where a trigger with a new dedup key goes on a key that groups: its bucket, and the
    open incident of that bucket within the window (None: the trigger opens the group)."""

    bucket: str
    incident_id: int | None = None
    first_seen_at: datetime | None = None


def groups_by_window(key: IntegrationKey, event: NormalizedEvent) -> bool:
    # Events that must never dedup (Spike without a title) are never grouped either.
    return (
        key.grouping_type == IntegrationKey.GroupingType.TIME_WINDOW
        and key.grouping_window_seconds > 0
        and event.dedupable
    )


def bucket_of(key: IntegrationKey, event: NormalizedEvent) -> str:
    """The group an event belongs to, stored as `Incident.group_key`: readable JSON of the
    grouping labels' values (a missing label counts as ""), or its SHA-256 when too long."""
    names = [name for name in (key.grouping_labels or []) if isinstance(name, str)]
    values = {name: str(event.labels.get(name, "")) for name in sorted(names)}
    bucket = BUCKET_PREFIX + json.dumps(values, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    if len(bucket) > GROUP_KEY_MAX:
        bucket = BUCKET_PREFIX + "sha256:" + hashlib.sha256(bucket.encode("utf-8")).hexdigest()
    return bucket


def lock_group(key_id: int, bucket: str) -> None:
    """Serialise "find the open group, else open it" per (key, group) until the commit.

    Why a transaction-level advisory lock and not a row lock on the integration key: every
    event insert takes FOR KEY SHARE on the key row, so FOR UPDATE there would also queue
    every dedup update, acknowledge and resolve of the key behind each new alert; and a row
    lock cannot tell two label groups apart. The advisory lock touches no table row, only
    serialises triggers that could land in the same group, and is released by the commit or
    rollback. A hash collision between two groups only serialises them, never merges them."""
    if connection.vendor != "postgresql":
        return  # SQLite (the dev default) serialises writers anyway.
    digest = hashlib.sha256(f"vigil-group:{key_id}:{bucket}".encode()).digest()
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_advisory_xact_lock(%s)", [int.from_bytes(digest[:8], "big", signed=True)])


def find_group(key: IntegrationKey, event: NormalizedEvent, now: datetime) -> Group | None:
    """For a trigger whose dedup key has no open alert (caller's transaction and savepoint):
    None when the key does not group this event; else its group, locked until the commit,
    so no concurrent trigger opens a second incident for it. Writes nothing."""
    if not groups_by_window(key, event):
        return None
    bucket = bucket_of(key, event)
    lock_group(key.pk, bucket)
    window = key.grouping_window_seconds
    # FOR UPDATE: a person resolving the incident right now finishes first (and we open a
    # new group), or waits for our alert and resolves it too.
    incident = (
        Incident.objects.open()
        .select_for_update()
        .filter(integration_key=key, group_key=bucket, first_seen_at__gte=now - timedelta(seconds=window))
        .order_by("-first_seen_at", "-id")
        .only("id", "first_seen_at")
        .first()
    )
    if incident is None:
        return Group(bucket)
    return Group(bucket, incident.pk, incident.first_seen_at)


def join(key: IntegrationKey, group: Group, event: NormalizedEvent, now: datetime) -> str:
    """Add the trigger as a new alert of the group's open incident; returns the reason for
    the event log. May raise IntegrityError when the same dedup key raced in: the caller
    re-reads."""
    Alert.objects.open_for_event(incident_id=group.incident_id, key=key, event=event, now=now)
    Incident.objects.filter(pk=group.incident_id).update(
        alert_count=F("alert_count") + 1, last_seen_at=now, latest=event.to_log()
    )
    age = int((now - group.first_seen_at).total_seconds())
    labels = group.bucket[len(BUCKET_PREFIX):]
    window = key.grouping_window_seconds
    return (
        f"grouped into incident #{group.incident_id}: new alert {age}s after its first, within the key's "
        f"{window}s window" + (f" (same labels {labels})" if labels not in ("{}", "") else "")
    )
