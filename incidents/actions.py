"""State changes of one incident, shared by the pipeline, the REST API, the portal, the
admin and the emailed links.

Split as Zulip's `zerver/actions/`: a `check_*` reads an incident and returns why the change
is refused (or None), raising only for a caller's mistake; a `do_*` writes. Every `do_*`
docstring names the lock it takes or expects, and runs its check under that lock, since the
state may change between a caller's read and the write. Anything slow (notifications,
escalation steps) is handed to Celery after the commit."""

from __future__ import annotations

from dataclasses import dataclass

from django.db import transaction
from django.utils import timezone

from escalation import dispatch, engine, notify
from incidents.models import Alert, Incident, TimelineEntry
from oncall.schedule import who_is_on_call


@dataclass
class ActionResult:
    incident: Incident
    changed: bool
    message: str


def _locked(incident_id: int) -> Incident:
    return Incident.objects.select_for_update().get(pk=incident_id)


def describe_actor(user, via: str) -> str:
    if user is not None:
        name = user.get_full_name() or user.get_username()
        return f"{name} ({via})" if via else name
    return via or "system"


# --- checks: why a change is refused, or None -------------------------------------------


def check_acknowledge(incident: Incident) -> str | None:
    if incident.status != Incident.Status.TRIGGERED:
        return f"already {incident.status}"
    return None


def check_resolve(incident: Incident) -> str | None:
    if incident.status == Incident.Status.RESOLVED:
        return "already resolved"
    return None


def check_escalate_now(incident: Incident) -> str | None:
    if incident.status == Incident.Status.RESOLVED:
        return "a resolved incident does not escalate"
    steps = (incident.escalation_snapshot or {}).get("steps")
    if steps is not None and incident.escalation_step >= len(steps):
        return "every escalation step has fired already"
    return None


def check_reassign(incident: Incident, *, user=None, schedule=None) -> str | None:
    """Raises ValueError unless exactly one of `user` and `schedule` is given."""
    if incident.status == Incident.Status.RESOLVED:
        return "a resolved incident is not reassigned"
    if (user is None) == (schedule is None):
        raise ValueError("reassign to exactly one of a user or a schedule")
    return None


# --- writes ---------------------------------------------------------------------------------


@transaction.atomic
def do_acknowledge_incident(incident_id: int, *, by=None, via: str = "") -> ActionResult:
    """Takes the incident row lock (`select_for_update`); a caller may hold its alert rows'
    locks already (the pipeline does), never the other way round."""
    incident = _locked(incident_id)
    refused = check_acknowledge(incident)
    if refused:
        return ActionResult(incident, False, refused)
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
    notify.incident_state_changed(incident.pk)
    return ActionResult(incident, True, "acknowledged")


@transaction.atomic
def do_resolve_incident(incident_id: int, *, by=None, via: str = "") -> ActionResult:
    """Takes the locks of the incident's open alert rows, then the incident row lock
    (`select_for_update`), closes every alert and resolves the incident."""
    # Lock order everywhere is alert rows, then the incident row (the pipeline locks the
    # open alert it was sent first), so concurrent resolves never deadlock.
    list(
        Alert.objects.select_for_update()
        .filter(incident_id=incident_id, status=Alert.Status.OPEN)
        .order_by("pk")
        .values_list("pk", flat=True)
    )
    incident = _locked(incident_id)
    refused = check_resolve(incident)
    if refused:
        return ActionResult(incident, False, refused)
    now = timezone.now()
    # A person resolving closes every alert, so the next trigger opens a new incident. Read
    # again under the incident lock: an alert grouped into the incident meanwhile closes too.
    Alert.objects.filter(incident_id=incident_id, status=Alert.Status.OPEN).update(
        status=Alert.Status.RESOLVED, resolved_at=now
    )
    do_mark_resolved(incident, now=now, by=by, via=via)
    return ActionResult(incident, True, "resolved")


def do_mark_resolved(incident: Incident, *, now, by=None, via: str = "") -> None:
    """Resolve an incident whose alerts are all closed. Call inside a transaction with the
    incident row locked (`select_for_update`), after `check_resolve` found nothing to refuse.
    The recovery notes are written now, with the resolve, and sent after the commit."""
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
    notify.write_recovery_notifications(incident.pk)
    notify.incident_state_changed(incident.pk)


@transaction.atomic
def do_add_note(incident_id: int, *, by, text: str) -> TimelineEntry:
    """Takes no lock: a note is a new timeline row and changes no state."""
    incident = Incident.objects.get(pk=incident_id)
    return TimelineEntry.objects.create(
        incident=incident, kind=TimelineEntry.Kind.NOTE, message=text, actor=by
    )


@transaction.atomic
def do_escalate_now(incident_id: int, *, by, via: str = "web") -> ActionResult:
    """Fire the next escalation step now instead of waiting for its delay. An acknowledged
    incident is triggered again and escalates from its next step, as PagerDuty does: the
    person who acknowledged asks for help. Takes the incident row lock (`select_for_update`);
    the step itself fires in the escalation task enqueued after the commit."""
    incident = _locked(incident_id)
    refused = check_escalate_now(incident)
    if refused:
        return ActionResult(incident, False, refused)
    now = timezone.now()
    reopened = incident.status == Incident.Status.ACKNOWLEDGED
    incident.next_escalation_at = now
    fields = ["next_escalation_at"]
    if reopened:
        _reopen(incident)
        fields += ["status", "acknowledged_at", "acknowledged_by", "acknowledged_via"]
    incident.save(update_fields=fields)
    verb = "Re-opened and escalated" if reopened else "Escalation brought forward to now"
    TimelineEntry.objects.create(
        incident=incident,
        kind=TimelineEntry.Kind.ESCALATION,
        message=f"{verb} by {describe_actor(by, via)}",
        actor=by,
        data={"escalate_now": True, "step": incident.escalation_step},
        created_at=now,
    )
    dispatch.on_commit_advance_escalation(incident.pk)
    return ActionResult(incident, True, "escalating now")


def _reopen(incident: Incident) -> None:
    """An acknowledged incident back to triggered (the caller saves): pages are sent only
    for triggered incidents, and its acknowledgement no longer stands."""
    incident.status = Incident.Status.TRIGGERED
    incident.acknowledged_at = None
    incident.acknowledged_by = None
    incident.acknowledged_via = ""


@transaction.atomic
def do_reassign_incident(incident_id: int, *, by, user=None, schedule=None) -> ActionResult:
    """Hand an open incident to a person, or to whoever is on call for a schedule, and page
    them at once through the escalation engine's own paging (their notification rules, the
    same Notification rows and retries). The old escalation stops: no further policy step,
    and the policy's pages not sent yet are cancelled. An acknowledged incident is triggered
    again, for the new assignee to acknowledge. Takes the incident row lock
    (`select_for_update`)."""
    incident = _locked(incident_id)
    refused = check_reassign(incident, user=user, schedule=schedule)
    if refused:
        return ActionResult(incident, False, refused)
    now = timezone.now()
    if user is not None:
        target, people, data = user.get_full_name() or user.get_username(), [user], {"user_id": user.pk}
    else:
        target, data = f"schedule {schedule.name}", {"schedule_id": schedule.pk}
        people = who_is_on_call(schedule, now)
    notes = [] if people else [f"nobody is on call for {schedule.name}"]
    cancelled = engine.stop_policy_escalation(incident, "cancelled: the incident was reassigned")
    fields = ["next_escalation_at"]
    if incident.status == Incident.Status.ACKNOWLEDGED:
        _reopen(incident)
        fields += ["status", "acknowledged_at", "acknowledged_by", "acknowledged_via"]
    incident.save(update_fields=fields)
    # Not a policy step: the n-th reassignment is the repeat, so paging the same person
    # again on a later reassignment is a new page, not a deduplicated one.
    ordinal = TimelineEntry.objects.filter(incident=incident, kind=TimelineEntry.Kind.REASSIGNED).count() + 1
    paged_now = engine.page_now(incident, people, repeat_index=ordinal, now=now, notes=notes)
    paged = sorted({person.get_username() for person in people if person.pk in paged_now.user_ids})
    message = f"Reassigned to {target} by {describe_actor(by, 'web')}"
    message += f"; paging {', '.join(paged)}" if paged else "; nobody paged"
    if notes:
        message += "; " + "; ".join(notes)
    TimelineEntry.objects.create(
        incident=incident,
        kind=TimelineEntry.Kind.REASSIGNED,
        message=message,
        actor=by,
        data={**data, "paged_user_ids": [p.pk for p in people], "notification_ids": paged_now.notification_ids,
              "notes": notes, "cancelled_policy_pages": cancelled},
        created_at=now,
    )
    summary = f"reassigned to {target}; " + (f"paging {', '.join(paged)}" if paged else "nobody paged")
    if notes:
        summary += " (" + "; ".join(notes) + ")"
    return ActionResult(incident, True, summary)

