"""One vendor rotation -> Vigil rotations: the shift length, the local handoff time, and the
restriction pieces (restrictions.py), each piece a rotation at the same order."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from importers.plan import PlanRotation
from importers.restrictions import Window, pieces

DAY_SECONDS = 86400


def shift_length(seconds: int) -> tuple[str, int] | None:
    """(shift_kind, shift_hours) for a turn of `seconds`, None if not whole hours."""
    if seconds == DAY_SECONDS:
        return "daily", 24
    if seconds == 7 * DAY_SECONDS:
        return "weekly", 168
    if seconds <= 0 or seconds % 3600:
        return None
    return "custom", seconds // 3600


def rotations(
    *, name: str, order: int, turn_seconds: int, start: datetime, tz: ZoneInfo,
    user_ids: list[str], windows: list[Window] | None,
) -> list[PlanRotation] | None:
    """None when the turn length cannot be expressed (the caller reports it)."""
    length = shift_length(turn_seconds)
    if length is None:
        return None
    kind, hours = length
    base = dict(
        order=order, shift_kind=kind, shift_hours=hours, handoff_time=start.astimezone(tz).time().replace(tzinfo=None),
        start=start, user_ids=user_ids,
    )
    cut = pieces(windows) if windows else None
    if cut is None:
        return [PlanRotation(name=name, **base)]
    return [
        PlanRotation(
            name=name if len(cut) == 1 else f"{name} ({index + 1}/{len(cut)})", **base,
            restrict_weekdays=list(piece.weekdays), restrict_start=piece.start, restrict_end=piece.end,
        )
        for index, piece in enumerate(cut)
    ]
