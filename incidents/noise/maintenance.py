"""Maintenance windows: during a window (scope: one key, a team, or everything), triggers
are stored and incidents open as usual, but nobody is paged. When the window ends, a
periodic task starts the escalation of every incident it held that is still open; a window
ended early from the portal (`end_window_now`) releases its incidents at once."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from django.db import connection, transaction
from django.db.models import Q
from django.utils import timezone

from escalation import dispatch
from incidents.models import Incident, MaintenanceWindow, TimelineEntry
from integrations.models import IntegrationKey

HOLD_PREFIX = "maintenance: "
HELD_REASON_MAX = 200


def active_windows(now: datetime):
    return MaintenanceWindow.objects.filter(start__lte=now, end__gt=now)


def covering(key_id: int | None, team_id: int | None) -> Q:
    """Windows whose scope covers this key: the key itself, its team, or everything."""
    scope = Q(integration_key__isnull=True, team__isnull=True)
    if key_id is not None:
        scope |= Q(integration_key_id=key_id)
    if team_id is not None:
        scope |= Q(integration_key__isnull=True, team_id=team_id)
    return scope


def window_covers(window: MaintenanceWindow, key_id: int | None, team_id: int | None) -> bool:
    if window.integration_key_id is not None:
        return window.integration_key_id == key_id
    if window.team_id is not None:
        return window.team_id == team_id
    return True


def incidents_under(window: MaintenanceWindow) -> Q:
    """Incidents whose key or team this window covers: `window_covers` as an incident filter."""
    if window.integration_key_id is not None:
        return Q(integration_key_id=window.integration_key_id)
    if window.team_id is not None:
        return Q(team_id=window.team_id)
    return Q()


def held_by_maintenance(incident: Incident) -> bool:
    return incident.is_open and incident.escalation_held_reason.startswith(HOLD_PREFIX)


@dataclass(frozen=True)
class Hold:
    """A window covering a key, decided before the incident is written: the pipeline creates
    the incident already held (no pending step, no escalation task) and notes why."""

    window_id: int
    window_reason: str
    end: datetime

    @property
    def held_reason(self) -> str:
        """`Incident.escalation_held_reason`: the engine skips held incidents."""
        return (HOLD_PREFIX + self.window_reason)[:HELD_REASON_MAX]

    @property
    def until(self) -> str:
        return f"{self.end:%Y-%m-%d %H:%M} UTC"

    @property
    def log_reason(self) -> str:
        """The event log's reason for the trigger that opened a held incident."""
        return f"maintenance window #{self.window_id} until {self.until}: nobody paged ({self.window_reason[:200]})"


_WINDOW = MaintenanceWindow._meta.db_table
# `covering` and `active_windows` as one statement, for the ingest path (the ORM spends more
# CPU building that query than PostgreSQL spends answering it). Parameters: now, key_id,
# team_id; a NULL key or team matches nothing, as `covering` leaves it out.
HOLD_SQL = f"""
SELECT id, reason, "end" FROM {_WINDOW}
 WHERE start <= %(now)s AND "end" > %(now)s
   AND ((integration_key_id IS NULL AND team_id IS NULL)
        OR integration_key_id = %(key_id)s
        OR (integration_key_id IS NULL AND team_id = %(team_id)s))
 ORDER BY "end" DESC, id
 LIMIT 1
"""


def hold_params(key: IntegrationKey, now: datetime) -> dict:
    return {"now": now, "key_id": key.pk, "team_id": key.team_id}


def hold_of(window_id: int | None, reason: str | None, end: datetime | None) -> Hold | None:
    """The Hold of a HOLD_SQL row (all None: no window covers the key)."""
    return None if window_id is None else Hold(window_id, reason, end)


def hold_for(key: IntegrationKey, now: datetime) -> Hold | None:
    """The window that holds a new incident of this key now, or None. One query."""
    if connection.vendor != "postgresql":  # the no-install trial on SQLite: the ORM's query
        window = active_windows(now).filter(covering(key.pk, key.team_id)).order_by("-end", "id").first()
        return None if window is None else Hold(window.pk, window.reason, window.end)
    with connection.cursor() as cursor:
        cursor.execute(HOLD_SQL, hold_params(key, now))
        row = cursor.fetchone()
    return hold_of(*row) if row is not None else None


def note_hold(incident: Incident, hold: Hold, now: datetime) -> None:
    """The timeline line of an incident created held (caller's transaction)."""
    TimelineEntry.objects.create(
        incident=incident,
        kind=TimelineEntry.Kind.MAINTENANCE,
        message=f"Maintenance window until {hold.until} ({hold.window_reason}): nobody is paged until it ends.",
        data={"window_id": hold.window_id, "end": hold.end.isoformat()},
        created_at=now,
    )


def release_maintenance_holds(now: datetime | None = None, *, only: Q | None = None, ended_by=None) -> int:
    """Start escalating the still-open incidents whose maintenance window has ended (and
    is not continued by another window covering them). `only` narrows the sweep to one
    window's incidents. Returns how many were released."""
    now = now or timezone.now()
    released = 0
    with transaction.atomic():
        windows = list(active_windows(now))
        held = (
            Incident.objects.open()
            .select_for_update(skip_locked=True)
            .filter(escalation_held_reason__startswith=HOLD_PREFIX)
            .filter(only if only is not None else Q())
            .order_by("id")
        )
        for incident in held:
            if any(window_covers(w, incident.integration_key_id, incident.team_id) for w in windows):
                continue
            _release(incident, now, ended_by)
            released += 1
    return released


def end_window_now(window_id: int, *, by=None, now: datetime | None = None) -> int | None:
    """End an active window early (its end becomes now) and start escalating, at once, the
    incidents it held that no other window still covers. None when the window is not
    active (already ended, or not started yet). Returns how many incidents were released.

    A trigger committed in the same instant may still see the window and be held after this
    sweep ran: the periodic release task picks it up within a minute."""
    now = now or timezone.now()
    with transaction.atomic():
        window = active_windows(now).select_for_update().filter(pk=window_id).first()
        if window is None:
            return None
        window.end = now
        window.save(update_fields=["end"])
        return release_maintenance_holds(now, only=incidents_under(window), ended_by=by)


def _release(incident: Incident, now: datetime, ended_by=None) -> None:
    incident.escalation_held_reason = ""
    # Ended early by a person: the timeline shows who (the entry's actor).
    ended = "Maintenance window ended" if ended_by is None else "Maintenance window ended early"
    if incident.status == Incident.Status.TRIGGERED:
        incident.next_escalation_at = now
        message = f"{ended}: escalation starts now."
        dispatch.on_commit_advance_escalation(incident.pk)
    else:
        message = f"{ended}; the incident is already acknowledged, so nobody is paged."
    incident.save(update_fields=["escalation_held_reason", "next_escalation_at"])
    TimelineEntry.objects.create(
        incident=incident, kind=TimelineEntry.Kind.MAINTENANCE, message=message, actor=ended_by, created_at=now
    )
