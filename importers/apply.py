"""Write a Plan in one transaction, idempotently by the vendor's ids (ImportedObject).

A dry run is the same code rolled back, so the plan it prints is exactly what a real run
would do. An object imported before is left as it is ("already imported"); users and teams
that exist in Vigil under the same email or name are adopted, not duplicated. Imported users
are inactive (no usable password) until an admin activates them and they sign in."""

from __future__ import annotations

from django.contrib.auth import get_user_model
from django.db import transaction
from django.utils.text import slugify

from escalation.models import EscalationPolicy, EscalationStep
from importers.models import ImportedObject
from importers.plan import VENDOR_NAMES, Plan, PlanSchedule
from importers.report import NewKey, Report
from integrations.models import IntegrationKey
from oncall.models import Rotation, RotationParticipant, Schedule, ScheduleOverride, Team, TeamMembership


class _DryRunRollback(Exception):
    pass


class PlanError(Exception):
    """The plan refers to something it does not contain (a broken export)."""


class _Writer:
    def __init__(self, plan: Plan, report: Report, by):
        self.plan, self.report, self.by = plan, report, by
        self.ids: dict[tuple[str, str], int] = {}

    def known(self, kind: str, vendor_id: str) -> int | None:
        row = ImportedObject.objects.filter(vendor=self.plan.vendor, kind=kind, vendor_id=vendor_id).first()
        return row.object_id if row else None

    def remember(self, kind: str, vendor_id: str, object_id: int) -> None:
        ImportedObject.objects.create(vendor=self.plan.vendor, kind=kind, vendor_id=vendor_id, object_id=object_id)
        self.ids[(kind, vendor_id)] = object_id

    def resolve(self, kind: str, vendor_id: str, where: str) -> int:
        object_id = self.ids.get((kind, vendor_id)) or self.known(kind, vendor_id)
        if object_id is None:
            raise PlanError(f"{where} refers to {kind} {vendor_id!r}, which is not in the export")
        return object_id

    def step(self, kind: str, vendor_id: str, label: str) -> int | None:
        """The row already imported for this vendor object, or None (after counting it as new)."""
        existing = self.known(kind, vendor_id)
        if existing is not None:
            self.ids[(kind, vendor_id)] = existing
            self.report.existing[kind].append(label)
            return existing
        self.report.created[kind].append(label)
        return None

    def users(self) -> None:
        User = get_user_model()
        for u in self.plan.users:
            if self.step("user", u.vendor_id, u.email) is not None:
                continue
            user = User.objects.filter(email__iexact=u.email).first()
            if user is not None:
                self.report.created["user"].remove(u.email)
                self.report.linked.append(f"user {u.email} (already in Vigil)")
            else:
                first, _, last = u.name.partition(" ")
                user = User(username=u.email[:150], email=u.email, first_name=first[:150], last_name=last[:150],
                            is_active=False)
                user.set_unusable_password()
                user.save()
            self.remember("user", u.vendor_id, user.pk)

    def teams(self) -> None:
        for t in self.plan.teams:
            if self.step("team", t.vendor_id, t.name) is None:
                team = Team.objects.filter(name=t.name[:100]).first()
                if team is not None:
                    self.report.created["team"].remove(t.name)
                    self.report.linked.append(f"team {t.name} (already in Vigil)")
                else:
                    slug = slugify(t.name)[:80] or "team"
                    if Team.objects.filter(slug=slug).exists():
                        slug = f"{slug}-{slugify(t.vendor_id)}"[:100]
                    team = Team.objects.create(name=t.name[:100], slug=slug)
                self.remember("team", t.vendor_id, team.pk)
            team_id = self.ids[("team", t.vendor_id)]
            for user_vendor_id, role in t.members:
                user_id = self.resolve("user", user_vendor_id, f"team {t.name!r}")
                TeamMembership.objects.get_or_create(team_id=team_id, user_id=user_id, defaults={"role": role})

    def schedule(self, s: PlanSchedule) -> None:
        team_id = self.resolve("team", s.team_id, f"schedule {s.name!r}") if s.team_id else None
        if self.step("schedule", s.vendor_id, s.name) is None:
            schedule = Schedule.objects.create(
                name=s.name[:100], team_id=team_id, time_zone=s.time_zone,
                description=s.description or f"Imported from {VENDOR_NAMES[self.plan.vendor]} ({s.vendor_id}).",
            )
            for r in s.rotations:
                rotation = Rotation.objects.create(
                    schedule=schedule, name=r.name[:100], order=r.order, shift_kind=r.shift_kind,
                    shift_hours=r.shift_hours, handoff_time=r.handoff_time, start=r.start,
                    restrict_weekdays=r.restrict_weekdays, restrict_start_time=r.restrict_start,
                    restrict_end_time=r.restrict_end,
                )
                RotationParticipant.objects.bulk_create(
                    RotationParticipant(rotation=rotation, position=position,
                                        user_id=self.resolve("user", uid, f"schedule {s.name!r}"))
                    for position, uid in enumerate(r.user_ids)
                )
            self.remember("schedule", s.vendor_id, schedule.pk)
        schedule_id = self.ids[("schedule", s.vendor_id)]
        for o in s.overrides:
            label = f"{s.name}: {o.start.isoformat()} – {o.end.isoformat()}"
            if self.step("override", o.vendor_id, label) is None:
                override = ScheduleOverride.objects.create(
                    schedule_id=schedule_id, user_id=self.resolve("user", o.user_id, f"override in {s.name!r}"),
                    start=o.start, end=o.end,
                )
                self.remember("override", o.vendor_id, override.pk)

    def policies(self) -> None:
        for p in self.plan.policies:
            team_id = self.resolve("team", p.team_id, f"policy {p.name!r}") if p.team_id else None
            if self.step("policy", p.vendor_id, p.name) is not None:
                continue
            policy = EscalationPolicy.objects.create(
                name=p.name[:100], team_id=team_id, repeat_count=p.repeat_count,
                repeat_delay_minutes=p.repeat_delay_minutes,
                description=f"Imported from {VENDOR_NAMES[self.plan.vendor]} ({p.vendor_id}).",
            )
            for order, s in enumerate(p.steps):
                step = EscalationStep.objects.create(policy=policy, order=order, delay_minutes=s.delay_minutes)
                where = f"policy {p.name!r}"
                step.users.set([self.resolve("user", u, where) for u in s.user_ids])
                step.schedules.set([self.resolve("schedule", x, where) for x in s.schedule_ids])
                step.teams.set([self.resolve("team", t, where) for t in s.team_ids])
            self.remember("policy", p.vendor_id, policy.pk)

    def keys(self) -> None:
        for k in self.plan.keys:
            policy_id = self.resolve("policy", k.policy_id, f"integration {k.name!r}")
            team_id = self.resolve("team", k.team_id, f"integration {k.name!r}") if k.team_id else None
            if team_id is None:
                team_id = EscalationPolicy.objects.filter(pk=policy_id).values_list("team_id", flat=True).first()
            if self.step("key", k.vendor_id, k.name) is not None:
                continue
            key, raw = IntegrationKey.create_with_raw_key(
                name=k.name, escalation_policy_id=policy_id, team_id=team_id, created_by=self.by,
            )
            self.report.keys.append(NewKey(k.name, raw, k.source))
            self.remember("key", k.vendor_id, key.pk)


def apply_plan(plan: Plan, *, dry_run: bool, by=None) -> Report:
    """Create what the plan has and Vigil lacks. Raises PlanError (nothing written) on a
    dangling reference."""
    report = Report(vendor=plan.vendor, dry_run=dry_run, unmapped=list(plan.unmapped))
    try:
        with transaction.atomic():
            writer = _Writer(plan, report, by)
            writer.users()
            writer.teams()
            for schedule in plan.schedules:
                writer.schedule(schedule)
            writer.policies()
            writer.keys()
            if dry_run:
                raise _DryRunRollback
    except _DryRunRollback:
        report.keys = [NewKey(k.name, "(created on apply)", k.source) for k in report.keys]
    return report
