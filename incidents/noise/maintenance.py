"""Maintenance windows: during a window (scope: one key, a team, or everything), triggers
are stored and incidents open as usual, but nobody is paged. When the window ends, a
periodic task starts the escalation of every incident it held that is still open."""

from __future__ import annotations

from datetime import datetime

from django.db import transaction
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


def hold_if_in_window(key: IntegrationKey, incident: Incident, now: datetime) -> str:
    """For a just-created incident (caller's transaction): hold its escalation when a window
    covers the key. Returns the reason for the event log ("" when no window applies)."""
    window = active_windows(now).filter(covering(key.pk, key.team_id)).order_by("-end", "id").first()
    if window is None:
        return ""
    held = (HOLD_PREFIX + window.reason)[:HELD_REASON_MAX]
    # No pending step: the escalation tick never picks it up, and the engine skips held incidents.
    Incident.objects.filter(pk=incident.pk).update(escalation_held_reason=held, next_escalation_at=None)
    incident.escalation_held_reason, incident.next_escalation_at = held, None
    until = f"{window.end:%Y-%m-%d %H:%M} UTC"
    TimelineEntry.objects.create(
        incident=incident,
        kind=TimelineEntry.Kind.MAINTENANCE,
        message=f"Maintenance window until {until} ({window.reason}): nobody is paged until it ends.",
        data={"window_id": window.pk, "end": window.end.isoformat()},
        created_at=now,
    )
    return f"maintenance window #{window.pk} until {until}: nobody paged ({window.reason[:200]})"


def release_maintenance_holds(now: datetime | None = None) -> int:
    """Start escalating the still-open incidents whose maintenance window has ended (and
    is not continued by another window covering them). Returns how many were released."""
    now = now or timezone.now()
    released = 0
    with transaction.atomic():
        windows = list(active_windows(now))
        held = (
            Incident.objects.open()
            .select_for_update(skip_locked=True)
            .filter(escalation_held_reason__startswith=HOLD_PREFIX)
            .order_by("id")
        )
        for incident in held:
            if any(window_covers(w, incident.integration_key_id, incident.team_id) for w in windows):
                continue
            _release(incident, now)
            released += 1
    return released


def _release(incident: Incident, now: datetime) -> None:
    incident.escalation_held_reason = ""
    if incident.status == Incident.Status.TRIGGERED:
        incident.next_escalation_at = now
        message = "Maintenance window ended: escalation starts now."
        dispatch.on_commit_advance_escalation(incident.pk)
    else:
        message = "Maintenance window ended; the incident is already acknowledged, so nobody is paged."
    incident.save(update_fields=["escalation_held_reason", "next_escalation_at"])
    TimelineEntry.objects.create(
        incident=incident, kind=TimelineEntry.Kind.MAINTENANCE, message=message, created_at=now
    )
