"""Who is on call: schedule math on plain values, plus two thin loaders.

A schedule is layers of rotations (a higher `order` wins where it has someone) under
overrides (which win over every rotation). The math works on frozen dataclasses, not
models, so it is a pure function of (schedule, instant) that tests can reason about.

Daily and weekly shifts hand off at a local wall-clock time in the schedule's zone
(zoneinfo), so a 09:00 handoff stays at 09:00 across DST changes: the shift that contains
the spring-forward night is 23 hours long, the autumn one 25. A handoff time that does not
exist on the spring-forward day (02:30 in Europe/Berlin) happens as PEP 495 maps it, one
gap later (03:30 local). Custom shifts whose length is a whole number of days count days the
same way; other custom lengths count elapsed hours from the rotation's start.

Every instant is kept in UTC: Python compares and subtracts two datetimes that share a
tzinfo by their wall clocks, which is wrong across a DST change.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from django.contrib.auth import get_user_model

from oncall.models import Schedule

DAY = timedelta(days=1)


@dataclass(frozen=True)
class RotationSpec:
    order: int
    shift_kind: str  # daily | weekly | custom
    shift_hours: int
    handoff_time: time
    start: datetime
    user_ids: tuple[int, ...]
    restrict_weekdays: tuple[int, ...] = ()
    restrict_start: time | None = None
    restrict_end: time | None = None
    rotation_id: int | None = None

    def __post_init__(self):
        object.__setattr__(self, "start", self.start.astimezone(UTC))


@dataclass(frozen=True)
class OverrideSpec:
    user_id: int
    start: datetime
    end: datetime

    def __post_init__(self):
        object.__setattr__(self, "start", self.start.astimezone(UTC))
        object.__setattr__(self, "end", self.end.astimezone(UTC))


@dataclass(frozen=True)
class ScheduleSpec:
    tz: ZoneInfo
    rotations: tuple[RotationSpec, ...] = ()
    overrides: tuple[OverrideSpec, ...] = ()
    schedule_id: int | None = None


@dataclass(frozen=True)
class Shift:
    user_ids: tuple[int, ...]
    start: datetime
    end: datetime
    schedule_id: int | None = field(default=None, compare=False)


# --- one rotation ---------------------------------------------------------------------


def handoff_instant(day: date, handoff: time, tz: ZoneInfo) -> datetime:
    """The instant (UTC) of `handoff` local time on `day` (fold=0: the first of two, PEP 495)."""
    return datetime.combine(day, handoff.replace(tzinfo=None), tzinfo=tz).astimezone(UTC)


def _period_days(rotation: RotationSpec) -> int | None:
    """Shift length in local days, or None when the shift is counted in elapsed hours."""
    if rotation.shift_kind == "daily":
        return 1
    if rotation.shift_kind == "weekly":
        return 7
    hours = max(1, rotation.shift_hours)
    return hours // 24 if hours % 24 == 0 else None


def _first_handoff_day(rotation: RotationSpec, tz: ZoneInfo) -> date:
    start_day = rotation.start.astimezone(tz).date()
    if rotation.start < handoff_instant(start_day, rotation.handoff_time, tz):
        return start_day
    return start_day + DAY


def handoffs_passed(rotation: RotationSpec, at: datetime, tz: ZoneInfo) -> int:
    """How many daily handoffs happened in (rotation.start, at]."""
    at = at.astimezone(UTC)
    first = _first_handoff_day(rotation, tz)
    if at < handoff_instant(first, rotation.handoff_time, tz):
        return 0
    day = at.astimezone(tz).date()
    passed = (day - first).days + 1
    if at < handoff_instant(day, rotation.handoff_time, tz):
        passed -= 1
    return passed


def shift_index(rotation: RotationSpec, at: datetime, tz: ZoneInfo) -> int | None:
    """The number of the shift that contains `at` (0 = the first), None before the start."""
    at = at.astimezone(UTC)
    if at < rotation.start:
        return None
    days = _period_days(rotation)
    if days is None:
        return int((at - rotation.start) // timedelta(hours=max(1, rotation.shift_hours)))
    return handoffs_passed(rotation, at, tz) // days


def shift_start(rotation: RotationSpec, at: datetime, tz: ZoneInfo) -> datetime | None:
    """When the shift containing `at` began (used to re-anchor a rotation that is edited)."""
    index = shift_index(rotation, at, tz)
    if index is None:
        return None
    days = _period_days(rotation)
    if days is None:
        return rotation.start + index * timedelta(hours=max(1, rotation.shift_hours))
    if index == 0:
        return rotation.start
    first = _first_handoff_day(rotation, tz)
    return handoff_instant(first + (index * days - 1) * DAY, rotation.handoff_time, tz)


def restriction_allows(rotation: RotationSpec, at: datetime, tz: ZoneInfo) -> bool:
    """Is the rotation active at `at`? A window that crosses midnight belongs to the
    weekday it started on (Friday 22:00-06:00 covers early Saturday)."""
    local = at.astimezone(tz)
    wall, weekday = local.time().replace(tzinfo=None), local.weekday()
    start, end = rotation.restrict_start, rotation.restrict_end
    if start is not None and end is not None and start != end:
        if start < end:
            if not start <= wall < end:
                return False
        elif wall >= start:
            pass
        elif wall < end:
            weekday = (weekday - 1) % 7
        else:
            return False
    return not rotation.restrict_weekdays or weekday in rotation.restrict_weekdays


def rotation_user(rotation: RotationSpec, at: datetime, tz: ZoneInfo) -> int | None:
    if not rotation.user_ids or not restriction_allows(rotation, at, tz):
        return None
    index = shift_index(rotation, at, tz)
    if index is None:
        return None
    return rotation.user_ids[index % len(rotation.user_ids)]


# --- a whole schedule -----------------------------------------------------------------


def on_call_user_ids(spec: ScheduleSpec, at: datetime) -> list[int]:
    """Overrides first (all that cover `at`), else the highest layer that has someone."""
    at = at.astimezone(UTC)
    covering = sorted((o for o in spec.overrides if o.start <= at < o.end), key=lambda o: o.start)
    if covering:
        return list(dict.fromkeys(o.user_id for o in covering))
    for rotation in sorted(spec.rotations, key=lambda r: r.order, reverse=True):
        user_id = rotation_user(rotation, at, spec.tz)
        if user_id is not None:
            return [user_id]
    return []


def _local_days(start: datetime, end: datetime, tz: ZoneInfo) -> Iterable[date]:
    day = start.astimezone(tz).date() - DAY
    last = end.astimezone(tz).date() + DAY
    while day <= last:
        yield day
        day += DAY


def change_points(spec: ScheduleSpec, start: datetime, end: datetime) -> list[datetime]:
    """Every instant in (start, end) where the answer may change."""
    start, end = start.astimezone(UTC), end.astimezone(UTC)
    points: set[datetime] = set()
    for rotation in spec.rotations:
        points.add(rotation.start)
        days = _period_days(rotation)
        if days is None:
            step = timedelta(hours=max(1, rotation.shift_hours))
            k = max(0, int((start - rotation.start) // step))
            instant = rotation.start + k * step
            while instant < end:
                points.add(instant)
                instant += step
        restricted = rotation.restrict_start is not None and rotation.restrict_end is not None
        for day in _local_days(start, end, spec.tz):
            if days is not None:
                points.add(handoff_instant(day, rotation.handoff_time, spec.tz))
            if restricted:
                points.add(handoff_instant(day, rotation.restrict_start, spec.tz))
                points.add(handoff_instant(day, rotation.restrict_end, spec.tz))
            if rotation.restrict_weekdays:
                points.add(handoff_instant(day, time(0, 0), spec.tz))
    for override in spec.overrides:
        points.update((override.start, override.end))
    return sorted(p for p in points if start < p < end)


def timeline(spec: ScheduleSpec, start: datetime, end: datetime) -> list[Shift]:
    """The final on-call shifts between start and end, consecutive equal answers merged;
    stretches where nobody is on call are left out."""
    start, end = start.astimezone(UTC), end.astimezone(UTC)
    shifts: list[Shift] = []
    edges = [start, *change_points(spec, start, end), end]
    for left, right in zip(edges, edges[1:], strict=False):
        users = tuple(on_call_user_ids(spec, left))
        if not users:
            continue
        if shifts and shifts[-1].user_ids == users and shifts[-1].end == left:
            shifts[-1] = Shift(users, shifts[-1].start, right, spec.schedule_id)
        else:
            shifts.append(Shift(users, left, right, spec.schedule_id))
    return shifts


# --- loaders: models in, specs out ------------------------------------------------------


def rotation_spec(rotation) -> RotationSpec:
    return RotationSpec(
        order=rotation.order,
        shift_kind=rotation.shift_kind,
        shift_hours=rotation.shift_hours,
        handoff_time=_as_time(rotation.handoff_time),
        start=rotation.start,
        user_ids=tuple(p.user_id for p in rotation.participants.all()),
        restrict_weekdays=tuple(int(d) for d in (rotation.restrict_weekdays or [])),
        restrict_start=_as_time(rotation.restrict_start_time) if rotation.restrict_start_time else None,
        restrict_end=_as_time(rotation.restrict_end_time) if rotation.restrict_end_time else None,
        rotation_id=rotation.pk,
    )


def _as_time(value) -> time:
    if isinstance(value, str):  # a default given as text on an unsaved instance
        return time.fromisoformat(value)
    return value


def load_schedule(schedule, window: tuple[datetime, datetime] | None = None) -> ScheduleSpec:
    """Three queries: rotations with participants, and the overrides (in `window` if given)."""
    rotations = schedule.rotations.prefetch_related("participants").all()
    overrides = schedule.overrides.all()
    if window is not None:
        overrides = overrides.filter(end__gt=window[0], start__lt=window[1])
    return spec_of(schedule, rotations, overrides)


def spec_of(schedule, rotations: Iterable, overrides: Iterable) -> ScheduleSpec:
    """The spec from rows already loaded (rotations with their participants prefetched)."""
    return ScheduleSpec(
        tz=ZoneInfo(schedule.time_zone),
        rotations=tuple(rotation_spec(r) for r in rotations),
        overrides=tuple(OverrideSpec(o.user_id, o.start, o.end) for o in overrides),
        schedule_id=schedule.pk,
    )


def who_is_on_call(schedule, at: datetime | None = None) -> list:
    """The users on call for `schedule` at `at` (now by default), in a stable order."""
    at = at or datetime.now(UTC)
    user_ids = on_call_user_ids(load_schedule(schedule, (at, at + timedelta(microseconds=1))), at)
    users = get_user_model().objects.in_bulk(user_ids)
    return [users[pk] for pk in user_ids if pk in users]


def upcoming_shifts(user, start: datetime, end: datetime) -> list[tuple[object, Shift]]:
    """`user`'s shifts in [start, end) across every schedule they take part in."""
    schedules = (
        Schedule.objects.filter(rotations__participants__user=user)
        .union(Schedule.objects.filter(overrides__user=user))
        .order_by("name")
    )
    result = []
    for schedule in schedules:
        spec = load_schedule(schedule, (start, end))
        for shift in timeline(spec, start, end):
            if user.pk in shift.user_ids:
                result.append((schedule, shift))
    result.sort(key=lambda pair: pair[1].start)
    return result


# --- the timeline page's layers -------------------------------------------------------------


def rotation_shifts(spec: ScheduleSpec, rotation: RotationSpec, start: datetime, end: datetime) -> list[Shift]:
    """One layer on its own (restrictions applied, no other layer, no override), by the same
    `timeline` that answers for the whole schedule."""
    return timeline(ScheduleSpec(tz=spec.tz, rotations=(rotation,), schedule_id=spec.schedule_id), start, end)


def restriction_windows(spec: ScheduleSpec, rotation: RotationSpec, start: datetime,
                        end: datetime) -> list[tuple[datetime, datetime]]:
    """The stretches of [start, end) in which `rotation`'s restriction lets it name someone
    (empty when the rotation has no restriction: it is then always active)."""
    if not rotation.restrict_weekdays and (rotation.restrict_start is None or rotation.restrict_end is None):
        return []
    start, end = start.astimezone(UTC), end.astimezone(UTC)
    alone = ScheduleSpec(tz=spec.tz, rotations=(rotation,))
    edges = [start, *change_points(alone, start, end), end]
    windows: list[tuple[datetime, datetime]] = []
    for left, right in zip(edges, edges[1:], strict=False):
        if not restriction_allows(rotation, left, spec.tz):
            continue
        if windows and windows[-1][1] == left:
            windows[-1] = (windows[-1][0], right)
        else:
            windows.append((left, right))
    return windows
