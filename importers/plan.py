"""The vendor-neutral plan every importer produces and `apply_plan` writes.

Ids inside a plan are the vendor's (strings); apply maps them to our rows. Anything a vendor
has that Vigil cannot express goes to `unmapped` with the vendor's words, never dropped."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, time

VENDORS = ("pagerduty", "opsgenie", "oncall")
VENDOR_NAMES = {"pagerduty": "PagerDuty", "opsgenie": "Opsgenie", "oncall": "Grafana OnCall"}


@dataclass
class PlanUser:
    vendor_id: str
    email: str
    name: str = ""


@dataclass
class PlanTeam:
    vendor_id: str
    name: str
    members: list[tuple[str, str]] = field(default_factory=list)  # (user vendor id, admin|responder)


@dataclass
class PlanRotation:
    name: str
    order: int
    shift_kind: str  # daily | weekly | custom (Rotation.ShiftKind)
    shift_hours: int
    handoff_time: time
    start: datetime
    user_ids: list[str]
    restrict_weekdays: list[int] = field(default_factory=list)
    restrict_start: time | None = None
    restrict_end: time | None = None


@dataclass
class PlanOverride:
    vendor_id: str
    user_id: str
    start: datetime
    end: datetime


@dataclass
class PlanSchedule:
    vendor_id: str
    name: str
    time_zone: str
    team_id: str | None
    rotations: list[PlanRotation] = field(default_factory=list)
    overrides: list[PlanOverride] = field(default_factory=list)
    description: str = ""


@dataclass
class PlanStep:
    delay_minutes: int
    user_ids: list[str] = field(default_factory=list)
    schedule_ids: list[str] = field(default_factory=list)
    team_ids: list[str] = field(default_factory=list)


@dataclass
class PlanPolicy:
    vendor_id: str
    name: str
    team_id: str | None
    steps: list[PlanStep] = field(default_factory=list)
    repeat_count: int = 0
    repeat_delay_minutes: int = 15


@dataclass
class PlanKey:
    vendor_id: str
    name: str
    policy_id: str
    team_id: str | None
    source: str  # which tool sent to it, e.g. "PagerDuty service Checkout, integration Datadog"


@dataclass
class Plan:
    vendor: str
    users: list[PlanUser] = field(default_factory=list)
    teams: list[PlanTeam] = field(default_factory=list)
    schedules: list[PlanSchedule] = field(default_factory=list)
    policies: list[PlanPolicy] = field(default_factory=list)
    keys: list[PlanKey] = field(default_factory=list)
    unmapped: list[str] = field(default_factory=list)

    def not_mapped(self, what: str) -> None:
        self.unmapped.append(what)
