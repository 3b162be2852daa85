"""The escalation engine: fire due steps, exactly once, in order, from the database.

State lives on the incident row: the policy snapshot (frozen at the first advance), the
index of the next step, the repeat counter and `next_escalation_at`. A step is fired with
the incident row locked (`SELECT ... FOR UPDATE SKIP LOCKED`), its status re-checked under
that lock, and the pointer moved in the same transaction as the Notification rows it
creates. So:

- two ticks (or a tick and the task the pipeline enqueued) never fire one step twice: the
  second skips the locked row, and after the commit the step is no longer due;
- a worker killed mid-step rolls back, and the step is still due for the next tick;
- an acknowledgement that commits first means the step finds the incident not triggered;
- after downtime every overdue step fires once, in order (each step's time counts from the
  time the previous one was *due*, so the policy's cadence is kept, and the lateness is
  written to the timeline).

Every decision compares against the database clock (`clock.db_now`)."""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.cache import cache
from django.db import connection, transaction

from escalation import failpoints, notify
from escalation.clock import db_now
from escalation.models import ContactMethod, EscalationTickState, Notification, NotificationRule, urgency_of
from incidents.models import Incident, TimelineEntry
from oncall.models import Schedule, TeamMembership
from oncall.schedule import who_is_on_call

logger = logging.getLogger("vigil.escalation")

# pg_try_advisory_xact_lock key shared by every tick ("vigl").
TICK_LOCK_KEY = 0x7669676C
TICK_STATE_NAME = "escalation"
# The last tick's duration, for /metrics (config/metrics.py); lost with Redis, harmlessly.
TICK_SECONDS_CACHE_KEY = "escalation:last_tick_seconds"
MAX_INCIDENTS_PER_TICK = 2000


def delay_unit_seconds() -> int:
    """How long one 'minute' of a policy or rule delay lasts: 60, except in the real-worker
    test, which shortens it so a policy runs in seconds."""
    return settings.ESCALATION_DELAY_UNIT_SECONDS


# --- the snapshot ------------------------------------------------------------------------


def snapshot_policy(policy) -> dict:
    """The policy as plain JSON: what the incident will follow, whatever happens to the
    policy afterwards. Targets are ids; schedules and teams are resolved when a step fires."""
    unit = delay_unit_seconds()
    steps = []
    for step in policy.steps.prefetch_related("users", "schedules", "teams").order_by("order", "id"):
        steps.append(
            {
                "step_id": step.pk,
                "delay_seconds": step.delay_minutes * unit,
                "user_ids": [u.pk for u in step.users.all()],
                "schedule_ids": [s.pk for s in step.schedules.all()],
                "team_ids": [t.pk for t in step.teams.all()],
            }
        )
    return {
        "policy_id": policy.pk,
        "policy_name": policy.name,
        "repeat_count": policy.repeat_count,
        "repeat_delay_seconds": policy.repeat_delay_minutes * unit,
        "steps": steps,
    }


def _start(incident: Incident) -> None:
    """First advance: freeze the policy; step 0 is due its delay after the trigger."""
    policy = incident.escalation_policy
    snapshot = snapshot_policy(policy) if policy is not None else {
        "policy_id": None, "policy_name": "", "repeat_count": 0, "repeat_delay_seconds": 0, "steps": [],
    }
    incident.escalation_snapshot = snapshot
    incident.escalation_step = 0
    incident.escalation_repeat = 0
    if not snapshot["steps"]:
        incident.next_escalation_at = None
        why = "has no steps" if policy is not None else "is missing"
        _timeline(
            incident,
            f"Nobody will be paged: the escalation policy {why}.",
            {"warning": "no_escalation_steps"},
        )
        return
    incident.next_escalation_at += timedelta(seconds=snapshot["steps"][0]["delay_seconds"])


# --- firing one step ---------------------------------------------------------------------


@dataclass
class Targets:
    users: list = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


def resolve_targets(step: dict, at: datetime) -> Targets:
    """The people of one step at `at`: users, whoever is on call for each schedule, and
    every member of each team; in that order, each person once."""
    targets = Targets()
    user_ids: list[int] = list(step.get("user_ids", []))
    for schedule_id in step.get("schedule_ids", []):
        schedule = Schedule.objects.filter(pk=schedule_id).first()
        if schedule is None:
            targets.notes.append(f"schedule #{schedule_id} no longer exists")
            continue
        on_call = who_is_on_call(schedule, at)
        if not on_call:
            targets.notes.append(f"nobody is on call for {schedule.name}")
        user_ids += [user.pk for user in on_call]
    team_ids = step.get("team_ids", [])
    if team_ids:
        members = TeamMembership.objects.filter(team_id__in=team_ids).order_by("team_id", "id")
        user_ids += list(members.values_list("user_id", flat=True))
    wanted = list(dict.fromkeys(user_ids))
    found = get_user_model().objects.in_bulk(wanted)
    for pk in wanted:
        user = found.get(pk)
        if user is None:
            targets.notes.append(f"user #{pk} no longer exists")
        elif not user.is_active:
            targets.notes.append(f"{user.get_username()} is inactive")
        else:
            targets.users.append(user)
    return targets


def delivery_plan(user, severity: str | None = None) -> list[tuple[ContactMethod, int]]:
    """(contact method, delay in minutes) pairs for paging `user` about an incident of
    `severity`: the user's rules for that urgency (critical/error: high, warning/info: low;
    a rule without an urgency applies to both). When no rule applies, every enabled method
    at once: a person is never left unpaged by a missing rule. Only verified methods page:
    a method added on the Profile page pages once its code was entered. `severity=None`
    (no incident) counts every rule."""
    rules = NotificationRule.objects.filter(
        user=user, contact_method__enabled=True, contact_method__verified=True
    ).select_related("contact_method")
    if severity is not None:
        rules = rules.filter(urgency__in=["", urgency_of(severity)])
    plan = [(rule.contact_method, rule.delay_minutes) for rule in rules]
    if plan:
        return plan
    return [(method, 0) for method in ContactMethod.objects.filter(user=user, enabled=True, verified=True)]


def page_users(incident: Incident, users: list, *, step_index: int, repeat_index: int, now: datetime,
               notes: list[str]) -> list[Notification]:
    """One Notification row per (user, contact method, rule delay). The unique dedupe key
    makes a re-run of the same step a no-op."""
    unit = delay_unit_seconds()
    held = incident.is_flapping
    created = []
    for user in users:
        plan = delivery_plan(user, incident.severity)
        if not plan:
            notes.append(f"{user.get_username()} has no enabled contact method (or none is verified)")
            continue
        for method, delay in plan:
            key = f"page:{incident.pk}:{step_index}:{repeat_index}:{user.pk}:{method.pk}:{delay}"
            notification, was_created = Notification.objects.get_or_create(
                dedupe_key=key,
                defaults={
                    "incident": incident,
                    "user": user,
                    "contact_method": method,
                    "kind": Notification.Kind.PAGE,
                    "status": Notification.Status.HELD if held else Notification.Status.PENDING,
                    "status_reason": "held: the incident is flapping" if held else "",
                    "step_index": step_index,
                    "repeat_index": repeat_index,
                    "channel": method.kind,
                    "address": method.address,
                    "due_at": now + timedelta(seconds=delay * unit),
                },
            )
            if was_created:
                created.append(notification)
    return created


@dataclass
class Paged:
    notification_ids: list[int]
    user_ids: list[int]  # the people a new page was written for, in order


def stop_policy_escalation(incident: Incident, reason: str) -> int:
    """Stop the incident's policy: no further step is due, and the policy's pages written
    but not sent yet (a rule's later delay) are cancelled with `reason`. Pages outside the
    policy (a reassignment's) are left alone. Call with the incident row locked; the caller
    saves `next_escalation_at`. Returns how many pages were cancelled."""
    incident.next_escalation_at = None
    return Notification.objects.filter(
        incident=incident, kind=Notification.Kind.PAGE, status=Notification.Status.PENDING, step_index__gte=0,
    ).update(status=Notification.Status.CANCELLED, status_reason=reason[:200])


def page_now(incident: Incident, people: list, *, repeat_index: int, now: datetime, notes: list[str]) -> Paged:
    """Page `people` for this incident now, outside its policy (step -1), as a policy step
    would: their notification rules, the same Notification rows and retries; the rows due
    now are sent after the commit. Call with the incident row locked. `repeat_index` tells
    one such paging from the next (a later one pages the same person again)."""
    created = page_users(incident, people, step_index=-1, repeat_index=repeat_index, now=now, notes=notes)
    notify.send_due_on_commit(created, now)
    return Paged([n.pk for n in created], list(dict.fromkeys(n.user_id for n in created)))


def _describe_lateness(seconds: float) -> str:
    if seconds < max(5, settings.ESCALATION_TICK_SECONDS):
        return ""
    return f" ({int(seconds)} s late)"


def _timeline(incident: Incident, message: str, data: dict) -> None:
    TimelineEntry.objects.create(
        incident=incident, kind=TimelineEntry.Kind.ESCALATION, message=message, data=data
    )


def _fire_step(incident: Incident, now: datetime) -> list[Notification]:
    snapshot = incident.escalation_snapshot
    steps = snapshot["steps"]
    index, repeat = incident.escalation_step, incident.escalation_repeat
    due_at = incident.next_escalation_at
    if index >= len(steps):  # defensive: a pointer past the end means nothing is left
        incident.next_escalation_at = None
        return []
    step = steps[index]
    targets = resolve_targets(step, now)
    created = page_users(incident, targets.users, step_index=index, repeat_index=repeat, now=now,
                         notes=targets.notes)
    late = (now - due_at).total_seconds()
    label = f"Escalation step {index + 1} of {len(steps)}"
    if repeat:
        label += f" (repeat {repeat} of {snapshot['repeat_count']})"
    names = ", ".join(u.get_username() for u in targets.users) or "nobody"
    held = " (held: flapping)" if incident.is_flapping and targets.users else ""
    message = f"{label}: paged {names}{held}{_describe_lateness(late)}"
    if targets.notes:
        message += "; " + "; ".join(targets.notes)
    _timeline(incident, message, {
        "step": index, "repeat": repeat, "user_ids": [u.pk for u in targets.users],
        "due_at": due_at.isoformat(), "fired_at": now.isoformat(), "late_seconds": round(late, 1),
        "notes": targets.notes,
    })
    # Move the pointer. Each next time counts from when this step was due.
    if index + 1 < len(steps):
        incident.escalation_step = index + 1
        incident.next_escalation_at = due_at + timedelta(seconds=steps[index + 1]["delay_seconds"])
    elif repeat < snapshot["repeat_count"]:
        incident.escalation_step = 0
        incident.escalation_repeat = repeat + 1
        incident.next_escalation_at = due_at + timedelta(seconds=snapshot["repeat_delay_seconds"])
    else:
        incident.escalation_step = len(steps)
        incident.next_escalation_at = None
        _timeline(incident, "Escalation finished: every step fired and nobody acknowledged.",
                  {"finished": True})
    return created


def _advance_locked(incident: Incident, now: datetime) -> int:
    """Fire every due step of a locked incident. Returns the number of steps fired."""
    if (
        incident.status != Incident.Status.TRIGGERED
        or incident.next_escalation_at is None
        or incident.escalation_held_reason
    ):
        return 0
    changed = incident.escalation_snapshot is None
    if changed:
        _start(incident)
    fired, created = 0, []
    snapshot = incident.escalation_snapshot
    # At least one pass: with no step left, _fire_step clears next_escalation_at.
    limit = max(1, len(snapshot["steps"]) * (snapshot["repeat_count"] + 1))
    while incident.next_escalation_at is not None and incident.next_escalation_at <= now and fired < limit:
        failpoints.hit("before_fire_step")
        created += _fire_step(incident, now)
        fired += 1
    if changed or fired:
        incident.save(update_fields=[
            "escalation_snapshot", "escalation_step", "escalation_repeat", "next_escalation_at",
        ])
    notify.send_due_on_commit(created, now)
    failpoints.hit("after_fire_before_commit")
    return fired


def advance_escalation(incident_id: int, now: datetime | None = None) -> int:
    """Fire the due steps of one incident (the task the pipeline enqueues on commit).
    A locked row means another worker is on it: nothing to do here."""
    with transaction.atomic():
        incident = (
            Incident.objects.select_for_update(skip_locked=True).filter(pk=incident_id).first()
        )
        if incident is None:
            return 0
        return _advance_locked(incident, now or db_now())


# --- the tick ----------------------------------------------------------------------------


@dataclass
class TickReport:
    incidents: int = 0
    steps: int = 0
    notifications_enqueued: int = 0
    errors: int = 0
    lock_busy: bool = False
    seconds: float = 0.0


def due_incidents(now: datetime):
    return Incident.objects.filter(
        status=Incident.Status.TRIGGERED,
        next_escalation_at__lte=now,
        escalation_held_reason="",
    ).order_by("next_escalation_at", "pk")


def _tick_lock() -> bool:
    """Transaction-scoped: released by the commit of each short claim. Two ticks (two beat
    processes, or a slow tick and the next) interleave at most one claim at a time, and the
    row lock plus the re-check make even that harmless."""
    if connection.vendor != "postgresql":
        return True
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_try_advisory_xact_lock(%s)", [TICK_LOCK_KEY])
        return bool(cursor.fetchone()[0])


def run_escalation_tick(now: datetime | None = None) -> TickReport:
    """One beat tick: re-send notifications whose task was lost, then claim due incidents one
    short transaction at a time and fire their due steps."""
    started = time.monotonic()
    budget = max(5.0, settings.ESCALATION_TICK_SECONDS * 0.9)
    report = TickReport()
    report.notifications_enqueued = notify.enqueue_due_notifications(now)
    done: list[int] = []
    while len(done) < MAX_INCIDENTS_PER_TICK and time.monotonic() - started < budget:
        with transaction.atomic():
            if not _tick_lock():
                report.lock_busy = True
                logger.warning("another escalation tick holds the lock; this one stops here")
                break
            failpoints.hit("tick_before_claim")
            clock = now or db_now()
            incident = (
                due_incidents(clock).exclude(pk__in=done).select_for_update(skip_locked=True).first()
            )
            if incident is None:
                break
            done.append(incident.pk)
            try:
                # A savepoint: one broken incident cannot stop the sweep of the others.
                with transaction.atomic():
                    report.steps += _advance_locked(incident, clock)
                report.incidents += 1
            except Exception:
                report.errors += 1
                logger.exception("escalation of incident %s failed; the next tick retries", incident.pk)
    if not report.lock_busy:
        EscalationTickState.objects.update_or_create(
            name=TICK_STATE_NAME, defaults={"last_tick_at": now or db_now()}
        )
    report.seconds = round(time.monotonic() - started, 3)
    if not report.lock_busy:
        cache.set(TICK_SECONDS_CACHE_KEY, report.seconds, timeout=None)  # fails quietly (django-redis)
    if report.steps or report.errors or report.notifications_enqueued:
        logger.info("escalation tick: %s", report)
    return report

