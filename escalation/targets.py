"""Who a step pages and through which contact methods, for many steps at once.

The tick fires a batch of incidents in one transaction; looking people up one step and one
person at a time would cost several queries per incident. Here a batch's lookups are made
in bulk instead: the schedules' on-call answer (once per schedule and instant, remembered
for the whole tick), team members, the users, and every user's notification rules and
contact methods. The answers are the same as one step at a time would give: the engine's
single-step `resolve_targets` and `delivery_plan` are this module with one step or one user."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.contrib.auth import get_user_model
from django.db.models import Prefetch

from escalation.models import ContactMethod, NotificationRule, urgency_of
from oncall.models import Rotation, Schedule, ScheduleOverride, TeamMembership
from oncall.schedule import on_call_user_ids, spec_of

# (schedule id, instant) -> (schedule name, on-call user ids), or None for a deleted schedule.
OnCallMemo = dict[tuple[int, datetime], "tuple[str, list[int]] | None"]


@dataclass
class Targets:
    users: list = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


def on_call_at(schedule_ids: Iterable[int], at: datetime, memo: OnCallMemo) -> None:
    """Fill `memo` with the on-call answer of each schedule at `at` not already in it: four
    queries for all of them (schedules, rotations, participants, overrides around `at`)."""
    wanted = [pk for pk in dict.fromkeys(schedule_ids) if (pk, at) not in memo]
    if not wanted:
        return
    window = (at, at + timedelta(microseconds=1))  # as `who_is_on_call` loads one schedule
    schedules = Schedule.objects.filter(pk__in=wanted).prefetch_related(
        Prefetch("rotations", queryset=Rotation.objects.prefetch_related("participants")),
        Prefetch("overrides", queryset=ScheduleOverride.objects.filter(end__gt=window[0], start__lt=window[1]),
                 to_attr="overrides_at"),
    )
    found = {schedule.pk: schedule for schedule in schedules}
    for pk in wanted:
        schedule = found.get(pk)
        if schedule is None:
            memo[pk, at] = None
            continue
        spec = spec_of(schedule, schedule.rotations.all(), schedule.overrides_at)
        memo[pk, at] = (schedule.name, on_call_user_ids(spec, at))


class StepPeople:
    """The people of many steps at one instant, loaded in bulk; `targets(step)` then answers
    without a query."""

    def __init__(self, steps: Iterable[dict], at: datetime, memo: OnCallMemo | None = None):
        steps = list(steps)
        self.at = at
        self.memo = memo if memo is not None else {}
        on_call_at((pk for step in steps for pk in step.get("schedule_ids", [])), at, self.memo)
        team_ids = {pk for step in steps for pk in step.get("team_ids", [])}
        self.members: dict[int, list[int]] = defaultdict(list)
        if team_ids:
            rows = TeamMembership.objects.filter(team_id__in=team_ids).order_by("team_id", "id")
            for team_id, user_id in rows.values_list("team_id", "user_id"):
                self.members[team_id].append(user_id)
        wanted: set[int] = set()
        for step in steps:
            wanted.update(step.get("user_ids", []))
            for pk in step.get("schedule_ids", []):
                answer = self.memo[pk, at]
                wanted.update(answer[1] if answer else [])
            for pk in step.get("team_ids", []):
                wanted.update(self.members[pk])
        self.users = get_user_model().objects.in_bulk(wanted) if wanted else {}

    def targets(self, step: dict) -> Targets:
        """Users, whoever is on call for each schedule, and every member of each team; in
        that order, each person once; with a note for each one who cannot be paged."""
        targets = Targets()
        user_ids: list[int] = list(step.get("user_ids", []))
        for schedule_id in step.get("schedule_ids", []):
            answer = self.memo[schedule_id, self.at]
            if answer is None:
                targets.notes.append(f"schedule #{schedule_id} no longer exists")
                continue
            name, on_call = answer
            on_call = [pk for pk in on_call if pk in self.users]
            if not on_call:
                targets.notes.append(f"nobody is on call for {name}")
            user_ids += on_call
        for team_id in sorted(set(step.get("team_ids", []))):  # as ORDER BY team_id, id
            user_ids += self.members[team_id]
        for pk in dict.fromkeys(user_ids):
            user = self.users.get(pk)
            if user is None:
                targets.notes.append(f"user #{pk} no longer exists")
            elif not user.is_active:
                targets.notes.append(f"{user.get_username()} is inactive")
            else:
                targets.users.append(user)
        return targets


class DeliveryPlans:
    """Every rule and enabled, verified contact method of many users: two queries."""

    def __init__(self, user_ids: Iterable[int]):
        ids = set(user_ids)
        self.rules: dict[int, list[NotificationRule]] = defaultdict(list)
        self.methods: dict[int, list[ContactMethod]] = defaultdict(list)
        if not ids:
            return
        rules = NotificationRule.objects.filter(
            user_id__in=ids, contact_method__enabled=True, contact_method__verified=True
        ).select_related("contact_method").order_by("user_id", "delay_minutes", "id")
        for rule in rules:
            self.rules[rule.user_id].append(rule)
        for method in ContactMethod.objects.filter(user_id__in=ids, enabled=True, verified=True).order_by(
            "user_id", "id"
        ):
            self.methods[method.user_id].append(method)

    def plan(self, user_id: int, severity: str | None = None) -> list[tuple[ContactMethod, int]]:
        """(contact method, delay in minutes) pairs: the user's rules for the severity's
        urgency (a rule without one applies to both); with no rule that applies, every
        enabled, verified method at once. `severity=None` counts every rule."""
        rules = self.rules[user_id]
        if severity is not None:
            urgencies = ("", urgency_of(severity))
            rules = [rule for rule in rules if rule.urgency in urgencies]
        if rules:
            return [(rule.contact_method, rule.delay_minutes) for rule in rules]
        return [(method, 0) for method in self.methods[user_id]]
