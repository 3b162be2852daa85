""""Who would be paged": a policy's steps played at a chosen instant, without paging anyone.

Every answer is the engine's own: the policy is frozen by `snapshot_policy` (what an
incident would follow), each step's people come from `resolve_targets` at the instant the
step would fire (schedules -> whoever is on call then, teams -> their members), and each
person's contact methods from `delivery_plan`. Nothing here decides who is paged; it only
adds the warnings an admin wants after an edit: a step that reaches nobody, a person with
no verified method, a schedule with nobody on call somewhere in the next 14 days."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from escalation.engine import delivery_plan, resolve_targets, snapshot_policy
from escalation.models import ContactMethod
from escalation.policy_sentence import person_name
from escalation.redaction import shown_address
from oncall.models import Schedule
from oncall.schedule import load_schedule, timeline

GAP_HORIZON = timedelta(days=14)
SEVERITIES = ("critical", "error", "warning", "info")


@dataclass
class Delivery:
    kind: str
    address: str
    delay_minutes: int


@dataclass
class Reached:
    name: str
    username: str
    deliveries: list[Delivery]
    unverified: int  # enabled methods still waiting for their code


@dataclass
class StepPreview:
    number: int
    fires_at: datetime
    after_minutes: float  # from the trigger
    people: list[Reached] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


@dataclass
class Gap:
    schedule: str
    start: datetime
    end: datetime
    more: int  # further gaps in the horizon


@dataclass
class Preview:
    at: datetime
    severity: str
    steps: list[StepPreview]
    warnings: list[str]
    gaps: list[Gap]
    repeat_count: int


def schedule_gaps(schedule, start: datetime, end: datetime) -> list[tuple[datetime, datetime]]:
    """The stretches of [start, end) where `schedule` has nobody on call (`timeline` leaves
    them out; what is between its shifts is a gap)."""
    gaps, cursor = [], start
    for shift in timeline(load_schedule(schedule, (start, end)), start, end):
        if shift.start > cursor:
            gaps.append((cursor, shift.start))
        cursor = max(cursor, shift.end)
    if cursor < end:
        gaps.append((cursor, end))
    return gaps


def _reached(user, severity: str) -> Reached:
    plan = delivery_plan(user, severity)
    unverified = 0
    if not plan:
        unverified = ContactMethod.objects.filter(user=user, enabled=True, verified=False).count()
    return Reached(
        name=person_name(user), username=user.get_username(),
        deliveries=[Delivery(ContactMethod.Kind(m.kind).label, shown_address(m.kind, m.address), delay)
                    for m, delay in plan],
        unverified=unverified,
    )


def preview_policy(policy, at: datetime, severity: str = "critical") -> Preview:
    snapshot = snapshot_policy(policy)
    steps, warnings = [], []
    elapsed = 0
    for number, step in enumerate(snapshot["steps"], start=1):
        elapsed += step["delay_seconds"]
        fires_at = at + timedelta(seconds=elapsed)
        targets = resolve_targets(step, fires_at)
        preview = StepPreview(number, fires_at, elapsed / 60, notes=list(targets.notes))
        preview.people = [_reached(user, severity) for user in targets.users]
        steps.append(preview)
        if not preview.people:
            warnings.append(f"Step {number} reaches nobody at that time.")
        for person in preview.people:
            if not person.deliveries:
                waiting = f" ({person.unverified} waiting for its code)" if person.unverified else ""
                warnings.append(f"{person.name} (step {number}) has no verified contact method{waiting}: "
                                f"they would not be paged.")
    schedule_ids = list(dict.fromkeys(pk for step in snapshot["steps"] for pk in step["schedule_ids"]))
    gaps = []
    for schedule in Schedule.objects.filter(pk__in=schedule_ids).order_by("name"):
        found = schedule_gaps(schedule, at, at + GAP_HORIZON)
        if found:
            gaps.append(Gap(schedule.name, found[0][0], found[0][1], len(found) - 1))
    return Preview(at, severity, steps, list(dict.fromkeys(warnings)), gaps, snapshot["repeat_count"])
