"""`oncall.schedule`: who is on call, as pure functions of (schedule, instant).

Daily handoffs happen at the local wall-clock time in the schedule's zone, on both sides of
both DST transitions of a European and an American zone."""

from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest

from oncall.schedule import (
    OverrideSpec,
    RotationSpec,
    ScheduleSpec,
    on_call_user_ids,
    shift_start,
    timeline,
)

A, B, C, D = 1, 2, 3, 4


def utc(*args) -> datetime:
    return datetime(*args, tzinfo=UTC)


def daily(zone: str, start_local: datetime, users=(A, B), handoff=time(9, 0), **fields) -> ScheduleSpec:
    tz = ZoneInfo(zone)
    rotation = RotationSpec(order=0, shift_kind="daily", shift_hours=24, handoff_time=handoff,
                            start=start_local.replace(tzinfo=tz), user_ids=tuple(users), **fields)
    return ScheduleSpec(tz=tz, rotations=(rotation,))


def who(spec: ScheduleSpec, at: datetime) -> list[int]:
    return on_call_user_ids(spec, at)


# --- DST: the handoff stays at 09:00 local ---------------------------------------------------


@pytest.mark.parametrize(
    ("zone", "start", "before_utc", "after_utc", "first", "second"),
    [
        # Europe/Berlin spring forward, 2026-03-29 02:00 CET -> 03:00 CEST: 09:00 is 07:00 UTC.
        ("Europe/Berlin", datetime(2026, 3, 23, 9), utc(2026, 3, 29, 6, 59, 59), utc(2026, 3, 29, 7), B, A),
        # The day before, 09:00 CET was 08:00 UTC.
        ("Europe/Berlin", datetime(2026, 3, 23, 9), utc(2026, 3, 28, 7, 59, 59), utc(2026, 3, 28, 8), A, B),
        # Europe/Berlin fall back, 2026-10-25 03:00 CEST -> 02:00 CET: 09:00 is 08:00 UTC.
        ("Europe/Berlin", datetime(2026, 10, 19, 9), utc(2026, 10, 25, 7, 59, 59), utc(2026, 10, 25, 8), B, A),
        ("Europe/Berlin", datetime(2026, 10, 19, 9), utc(2026, 10, 24, 6, 59, 59), utc(2026, 10, 24, 7), A, B),
        # America/New_York spring forward, 2026-03-08 02:00 EST -> 03:00 EDT: 09:00 is 13:00 UTC.
        ("America/New_York", datetime(2026, 3, 2, 9), utc(2026, 3, 8, 12, 59, 59), utc(2026, 3, 8, 13), B, A),
        ("America/New_York", datetime(2026, 3, 2, 9), utc(2026, 3, 7, 13, 59, 59), utc(2026, 3, 7, 14), A, B),
        # America/New_York fall back, 2026-11-01 02:00 EDT -> 01:00 EST: 09:00 is 14:00 UTC.
        ("America/New_York", datetime(2026, 10, 26, 9), utc(2026, 11, 1, 13, 59, 59), utc(2026, 11, 1, 14), B, A),
        ("America/New_York", datetime(2026, 10, 26, 9), utc(2026, 10, 31, 12, 59, 59), utc(2026, 10, 31, 13), A, B),
    ],
)
def test_daily_handoff_happens_at_nine_local_on_both_sides_of_dst(zone, start, before_utc, after_utc, first, second):
    # A has the shifts starting on the 0th, 2nd, 4th, 6th day after the start; B the others.
    spec = daily(zone, start)
    assert who(spec, before_utc) == [first]
    assert who(spec, after_utc) == [second]
    assert after_utc.astimezone(ZoneInfo(zone)).time() == time(9, 0)


@pytest.mark.parametrize(
    ("zone", "start", "window_start", "hours"),
    [
        ("Europe/Berlin", datetime(2026, 3, 23, 9), utc(2026, 3, 28, 12), [23]),
        ("Europe/Berlin", datetime(2026, 10, 19, 9), utc(2026, 10, 24, 12), [25]),
        ("America/New_York", datetime(2026, 3, 2, 9), utc(2026, 3, 7, 18), [23]),
        ("America/New_York", datetime(2026, 10, 26, 9), utc(2026, 10, 31, 18), [25]),
    ],
)
def test_the_shift_containing_a_dst_change_is_an_hour_shorter_or_longer(zone, start, window_start, hours):
    spec = daily(zone, start, users=(A, B, C))
    shifts = timeline(spec, window_start - timedelta(days=2), window_start + timedelta(days=3))
    whole = shifts[1:-1]  # the first and last are cut by the window
    lengths = [(s.end - s.start) / timedelta(hours=1) for s in whole]
    assert hours[0] in lengths
    assert sorted(set(lengths)) == sorted({24.0, float(hours[0])})


def test_a_weekly_rotation_hands_off_on_the_same_weekday_and_hour_across_dst():
    tz = ZoneInfo("Europe/Berlin")
    rotation = RotationSpec(order=0, shift_kind="weekly", shift_hours=168, handoff_time=time(10, 0),
                            start=datetime(2026, 3, 23, 10, tzinfo=tz), user_ids=(A, B))
    spec = ScheduleSpec(tz=tz, rotations=(rotation,))
    assert who(spec, datetime(2026, 3, 30, 9, 59, tzinfo=tz)) == [A]
    assert who(spec, datetime(2026, 3, 30, 10, 0, tzinfo=tz)) == [B]  # 167 hours after the start
    assert datetime(2026, 3, 30, 10, tzinfo=tz) - rotation.start == timedelta(hours=167)


def test_a_handoff_time_that_does_not_exist_happens_one_gap_later():
    # 02:30 does not exist in Berlin on 2026-03-29: PEP 495 maps it to 03:30 CEST (01:30 UTC).
    spec = daily("Europe/Berlin", datetime(2026, 3, 23, 2, 30), handoff=time(2, 30))
    assert who(spec, utc(2026, 3, 29, 1, 29)) == who(spec, utc(2026, 3, 28, 12))
    assert who(spec, utc(2026, 3, 29, 1, 30)) != who(spec, utc(2026, 3, 28, 12))


def test_a_handoff_time_that_happens_twice_hands_off_once_at_the_first():
    # 02:30 happens twice in Berlin on 2026-10-25: at 00:30 UTC (CEST) and 01:30 UTC (CET).
    spec = daily("Europe/Berlin", datetime(2026, 10, 19, 2, 30), users=(A, B, C), handoff=time(2, 30))
    before = who(spec, utc(2026, 10, 25, 0, 29))
    after = who(spec, utc(2026, 10, 25, 0, 30))
    assert before != after
    assert who(spec, utc(2026, 10, 25, 1, 45)) == after  # no second handoff at the second 02:30
    assert who(spec, utc(2026, 10, 26, 1, 29)) == after
    assert who(spec, utc(2026, 10, 26, 1, 31)) != after  # 02:31 CET the next day


# --- starts, layers, restrictions, overrides --------------------------------------------------


def test_nobody_is_on_call_before_the_rotation_starts_and_the_first_shift_runs_to_the_first_handoff():
    spec = daily("UTC", datetime(2026, 1, 5, 6, 0))  # starts 06:00, hands off at 09:00
    assert who(spec, utc(2026, 1, 5, 5, 59)) == []
    assert who(spec, utc(2026, 1, 5, 8, 59)) == [A]
    assert who(spec, utc(2026, 1, 5, 9, 0)) == [B]
    assert who(spec, utc(2026, 1, 6, 9, 0)) == [A]


def test_custom_hours_count_elapsed_time_and_whole_days_count_local_days():
    tz = ZoneInfo("Europe/Berlin")
    twelve = RotationSpec(order=0, shift_kind="custom", shift_hours=12, handoff_time=time(9),
                          start=datetime(2026, 3, 28, 8, tzinfo=tz), user_ids=(A, B))
    spec = ScheduleSpec(tz=tz, rotations=(twelve,))
    assert who(spec, datetime(2026, 3, 28, 19, 59, tzinfo=tz)) == [A]
    assert who(spec, datetime(2026, 3, 28, 20, 0, tzinfo=tz)) == [B]
    # Twelve elapsed hours later is 09:00 CEST, not 08:00: the night lost an hour.
    assert who(spec, datetime(2026, 3, 29, 8, 59, tzinfo=tz)) == [B]
    assert who(spec, datetime(2026, 3, 29, 9, 0, tzinfo=tz)) == [A]

    two_days = RotationSpec(order=0, shift_kind="custom", shift_hours=48, handoff_time=time(9),
                            start=datetime(2026, 3, 27, 9, tzinfo=tz), user_ids=(A, B))
    spec = ScheduleSpec(tz=tz, rotations=(two_days,))
    assert who(spec, datetime(2026, 3, 29, 8, 59, tzinfo=tz)) == [A]
    assert who(spec, datetime(2026, 3, 29, 9, 0, tzinfo=tz)) == [B]


def test_a_higher_layer_wins_where_it_has_someone():
    tz = ZoneInfo("UTC")
    base = RotationSpec(order=0, shift_kind="daily", shift_hours=24, handoff_time=time(9),
                        start=utc(2026, 1, 1, 9), user_ids=(A,))
    nights = RotationSpec(order=1, shift_kind="daily", shift_hours=24, handoff_time=time(9),
                          start=utc(2026, 1, 1, 9), user_ids=(C,),
                          restrict_start=time(22), restrict_end=time(6))
    spec = ScheduleSpec(tz=tz, rotations=(base, nights))
    assert who(spec, utc(2026, 1, 5, 12)) == [A]
    assert who(spec, utc(2026, 1, 5, 23)) == [C]
    assert who(spec, utc(2026, 1, 6, 5, 59)) == [C]
    assert who(spec, utc(2026, 1, 6, 6, 0)) == [A]


def test_weekday_restrictions_give_an_overnight_window_to_the_day_it_started():
    tz = ZoneInfo("UTC")
    weekend_nights = RotationSpec(order=0, shift_kind="daily", shift_hours=24, handoff_time=time(9),
                                  start=utc(2026, 1, 1, 9), user_ids=(D,), restrict_weekdays=(4,),
                                  restrict_start=time(22), restrict_end=time(6))
    spec = ScheduleSpec(tz=tz, rotations=(weekend_nights,))
    assert who(spec, utc(2026, 1, 9, 23)) == [D]  # Friday 23:00
    assert who(spec, utc(2026, 1, 10, 3)) == [D]  # Saturday 03:00, Friday's night
    assert who(spec, utc(2026, 1, 10, 23)) == []  # Saturday night: not restricted in
    assert who(spec, utc(2026, 1, 8, 23)) == []  # Thursday night


def test_an_override_wins_over_every_rotation_for_its_time_only():
    spec = daily("UTC", datetime(2026, 1, 1, 9))
    covered = ScheduleSpec(tz=spec.tz, rotations=spec.rotations,
                           overrides=(OverrideSpec(D, utc(2026, 1, 5, 12), utc(2026, 1, 5, 18)),))
    assert who(covered, utc(2026, 1, 5, 11, 59)) == who(spec, utc(2026, 1, 5, 11, 59))
    assert who(covered, utc(2026, 1, 5, 12)) == [D]
    assert who(covered, utc(2026, 1, 5, 18)) == who(spec, utc(2026, 1, 5, 18))


def test_the_timeline_merges_equal_neighbours_and_splits_at_overrides():
    spec = daily("UTC", datetime(2026, 1, 1, 9), users=(A,))
    covered = ScheduleSpec(tz=spec.tz, rotations=spec.rotations,
                           overrides=(OverrideSpec(D, utc(2026, 1, 3, 0), utc(2026, 1, 3, 6)),))
    shifts = timeline(covered, utc(2026, 1, 2), utc(2026, 1, 5))
    assert [(s.user_ids, s.start, s.end) for s in shifts] == [
        ((A,), utc(2026, 1, 2), utc(2026, 1, 3)),
        ((D,), utc(2026, 1, 3), utc(2026, 1, 3, 6)),
        ((A,), utc(2026, 1, 3, 6), utc(2026, 1, 5)),
    ]


def test_shift_start_is_the_last_handoff():
    spec = daily("Europe/Berlin", datetime(2026, 3, 23, 9))
    rotation = spec.rotations[0]
    assert shift_start(rotation, utc(2026, 3, 29, 12), spec.tz) == utc(2026, 3, 29, 7)
    assert shift_start(rotation, utc(2026, 3, 23, 12), spec.tz) == rotation.start
