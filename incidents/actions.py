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
    list(
        Alert.objects.select_for_update()
        .filter(incident_id=incident_id, status=Alert.Status.OPEN)
        .order_by("pk")
        .values_list("pk", flat=True)
    )
    incident = _locked(incident_id)
    if incident.status == Incident.Status.RESOLVED:
        return ActionResult(incident, False, "already resolved")
    now = timezone.now()
    # A person resolving closes every alert, so the next trigger opens a new incident. Read
    # again under the incident lock: an alert grouped into the incident meanwhile closes too.
    Alert.objects.filter(incident_id=incident_id, status=Alert.Status.OPEN).update(
        status=Alert.Status.RESOLVED, resolved_at=now
    )
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


@transaction.atomic
def escalate_now(incident_id: int, *, by) -> ActionResult:
    """Fire the next escalation step now instead of waiting for its delay."""
    incident = _locked(incident_id)
    if incident.status != Incident.Status.TRIGGERED:
        return ActionResult(incident, False, f"only a triggered incident escalates; this one is {incident.status}")
    steps = (incident.escalation_snapshot or {}).get("steps")
    if steps is not None and incident.escalation_step >= len(steps):
        return ActionResult(incident, False, "every escalation step has fired already")
    now = timezone.now()
    incident.next_escalation_at = now
    incident.save(update_fields=["next_escalation_at"])
    TimelineEntry.objects.create(
        incident=incident,
        kind=TimelineEntry.Kind.ESCALATION,
        message=f"Escalation brought forward to now by {describe_actor(by, 'web')}",
        actor=by,
        data={"escalate_now": True, "step": incident.escalation_step},
        created_at=now,
    )
    dispatch.on_commit_advance_escalation(incident.pk)
    return ActionResult(incident, True, "escalating now")


@transaction.atomic
def reassign_incident(incident_id: int, *, by, user=None, schedule=None) -> ActionResult:
    """Hand an open incident to a person, or to whoever is on call for a schedule, and page
    them at once through the escalation engine's own paging (their notification rules, the
    same Notification rows and retries). The policy's remaining steps are left as they are."""
    from escalation.engine import page_users
    from escalation.models import Notification
    from oncall.schedule import who_is_on_call

    incident = _locked(incident_id)
    if incident.status == Incident.Status.RESOLVED:
        return ActionResult(incident, False, "a resolved incident is not reassigned")
    if (user is None) == (schedule is None):
        raise ValueError("reassign to exactly one of a user or a schedule")
    now = timezone.now()
    if user is not None:
        target, people, data = user.get_full_name() or user.get_username(), [user], {"user_id": user.pk}
    else:
        target, data = f"schedule {schedule.name}", {"schedule_id": schedule.pk}
        people = who_is_on_call(schedule, now)
    notes = [] if people else [f"nobody is on call for {schedule.name}"]
    # Not a policy step: step -1, and the n-th reassignment as the repeat, so paging the same
    # person again on a later reassignment is a new page, not a deduplicated one.
    ordinal = TimelineEntry.objects.filter(incident=incident, kind=TimelineEntry.Kind.REASSIGNED).count() + 1
    created = page_users(incident, people, step_index=-1, repeat_index=ordinal, now=now, notes=notes)
    paged = sorted({n.user.get_username() for n in created if n.user})
    message = f"Reassigned to {target} by {describe_actor(by, 'web')}"
    message += f"; paging {', '.join(paged)}" if paged else "; nobody paged"
    if notes:
        message += "; " + "; ".join(notes)
    TimelineEntry.objects.create(
        incident=incident,
        kind=TimelineEntry.Kind.REASSIGNED,
        message=message,
        actor=by,
        data={**data, "paged_user_ids": [p.pk for p in people], "notification_ids": [n.pk for n in created],
              "notes": notes},
        created_at=now,
    )
    due = [n.pk for n in created if n.status == Notification.Status.PENDING and n.due_at <= now]
    if due:
        Notification.objects.filter(pk__in=due).update(enqueued_at=now)
        dispatch.on_commit_send_notifications(due)
    summary = f"reassigned to {target}; " + (f"paging {', '.join(paged)}" if paged else "nobody paged")
    if notes:
        summary += " (" + "; ".join(notes) + ")"
    return ActionResult(incident, True, summary)
