"""Vendor restriction windows -> Vigil's one-window-per-rotation restrictions.

Vigil restricts a rotation to one local time window on a set of weekdays, a window that
crosses midnight belonging to the weekday it starts on. Vendors allow several windows, some
longer than a day (PagerDuty: Monday 09:00 for 4.5 days). So a window is cut into pieces at
midnights, and the pieces that share their hours become one rotation each, all at the same
layer order with the same people and start: together they cover exactly the vendor's windows,
and the rotation math (which ignores restrictions) names the same person in every piece."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import time

DAY_MINUTES = 24 * 60
WEEK_MINUTES = 7 * DAY_MINUTES


@dataclass(frozen=True)
class Window:
    """Active hours in one local week: from `weekday` (0=Monday) at `start_minute` for `minutes`."""

    weekday: int
    start_minute: int
    minutes: int


@dataclass(frozen=True)
class Piece:
    weekdays: tuple[int, ...]  # empty: every day
    start: time | None  # None with end None: the whole day
    end: time | None


def _clock(minute: int) -> time:
    minute %= DAY_MINUTES
    return time(minute // 60, minute % 60)


def daily(start_minute: int, minutes: int) -> list[Window]:
    """The same window every day (a daily restriction)."""
    return [Window(day, start_minute, minutes) for day in range(7)]


def pieces(windows: list[Window]) -> list[Piece] | None:
    """The Vigil restriction pieces covering `windows`; None when they cover the whole week."""
    if not windows or _covers_week(windows):
        return None
    by_hours: dict[tuple[time | None, time | None], set[int]] = {}
    for window in windows:
        day, start, left = window.weekday % 7, window.start_minute % DAY_MINUTES, min(window.minutes, WEEK_MINUTES)
        while left > 0:
            if start == 0 and left >= DAY_MINUTES:
                hours, used = (None, None), DAY_MINUTES
            elif left < DAY_MINUTES:
                hours, used = (_clock(start), _clock(start + left)), left
            else:  # to midnight, then whole days
                hours, used = (_clock(start), time(0, 0)), DAY_MINUTES - start
            by_hours.setdefault(hours, set()).add(day)
            left -= used
            day, start = (day + 1) % 7, 0
    return [
        Piece(weekdays=() if len(days) == 7 else tuple(sorted(days)), start=hours[0], end=hours[1])
        for hours, days in sorted(by_hours.items(), key=lambda item: (item[0][0] or time(0), item[0][1] or time(0)))
    ]


def _covers_week(windows: list[Window]) -> bool:
    covered = bytearray(WEEK_MINUTES)
    for window in windows:
        first = window.weekday * DAY_MINUTES + window.start_minute
        for minute in range(first, first + min(window.minutes, WEEK_MINUTES)):
            covered[minute % WEEK_MINUTES] = 1
    return all(covered)
