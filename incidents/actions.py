"""State changes of one incident, shared by the pipeline, the REST API and the portal.

Each locks the incident row, checks the current state, writes the timeline, and leaves
anything slow (notifications) to Celery after the commit."""

from __future__ import annotations

from dataclasses import dataclass

from django.db import transaction
from django.utils import timezone

from escalation import dispatch
from incidents.models import Alert, Incident, TimelineEntry


@dataclass
class ActionResult:
    incident: Incident
    changed: bool
    message: str


def _locked(incident_id: int) -> Incident:
    return Incident.objects.select_for_update().get(pk=incident_id)


@transaction.atomic
def acknowledge_incident(incident_id: int, *, by=None, via: str = "") -> ActionResult:
    incident = _locked(incident_id)
    if incident.status != Incident.Status.TRIGGERED:
        return ActionResult(incident, False, f"already {incident.status}")
    now = timezone.now()
    incident.status = Incident.Status.ACKNOWLEDGED
    incident.acknowledged_at = now
    incident.acknowledged_by = by
    incident.acknowledged_via = via
    # Acknowledging stops escalation at once: no pending step remains in the database.
    incident.next_escalation_at = None
    incident.save(
        update_fields=[
            "status", "acknowledged_at", "acknowledged_by", "acknowledged_via", "next_escalation_at",
        ]
    )
    TimelineEntry.objects.create(
        incident=incident,
        kind=TimelineEntry.Kind.ACKNOWLEDGED,
        message=f"Acknowledged by {describe_actor(by, via)}",
        actor=by,
        created_at=now,
    )
    return ActionResult(incident, True, "acknowledged")


@transaction.atomic
def resolve_incident(incident_id: int, *, by=None, via: str = "") -> ActionResult:
    # Lock order everywhere is alert rows, then the incident row (the pipeline locks the
    # open alert it was sent first), so concurrent resolves never deadlock.
    open_alerts = list(
        Alert.objects.select_for_update()
        .filter(incident_id=incident_id, status=Alert.Status.OPEN)
        .order_by("pk")
        .values_list("pk", flat=True)
    )
    incident = _locked(incident_id)
    if incident.status == Incident.Status.RESOLVED:
        return ActionResult(incident, False, "already resolved")
    now = timezone.now()
    # A person resolving closes every alert, so the next trigger opens a new incident.
    Alert.objects.filter(pk__in=open_alerts).update(status=Alert.Status.RESOLVED, resolved_at=now)
    mark_resolved(incident, now=now, by=by, via=via)
    return ActionResult(incident, True, "resolved")


def mark_resolved(incident: Incident, *, now, by=None, via: str = "") -> None:
    """Resolve a locked incident whose alerts are all closed (caller's transaction)."""
    incident.status = Incident.Status.RESOLVED
    incident.resolved_at = now
    incident.resolved_by = by
    incident.resolved_via = via
    incident.next_escalation_at = None
    incident.save(
        update_fields=["status", "resolved_at", "resolved_by", "resolved_via", "next_escalation_at"]
    )
    TimelineEntry.objects.create(
        incident=incident,
        kind=TimelineEntry.Kind.RESOLVED,
        message=f"Resolved by {describe_actor(by, via)}",
        actor=by,
        created_at=now,
    )
    dispatch.on_commit_send_recovery(incident.pk)


@transaction.atomic
def add_note(incident_id: int, *, by, text: str) -> TimelineEntry:
    incident = Incident.objects.get(pk=incident_id)
    return TimelineEntry.objects.create(
        incident=incident, kind=TimelineEntry.Kind.NOTE, message=text, actor=by
    )


def describe_actor(user, via: str) -> str:
    if user is not None:
        name = user.get_full_name() or user.get_username()
        return f"{name} ({via})" if via else name
    return via or "system"
