"""The schedule page's timeline, drawn server-side as one SVG: a row per rotation (layer),
a row of overrides, and the final "on call" row.

Every row comes from `oncall.schedule` (`rotation_shifts`, `restriction_windows`, and the
same `timeline` that answers `/api/v1/oncall/`), so the picture cannot disagree with the
API; this module only places those shifts on an x axis and names people. Times are laid
out in the viewer's zone (day lines at the viewer's midnights); each bar keeps its UTC
instants in data attributes for tests and its local times in a <title> tooltip."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

from oncall.schedule import ScheduleSpec, restriction_windows, rotation_shifts, timeline

WEEK_CHOICES = (1, 2, 4)
LABEL_WIDTH = 170
TRACK_WIDTH = 830
HEADER_HEIGHT = 26
ROW_HEIGHT = 30
BAR_HEIGHT = 22
PALETTE_SIZE = 8
# A bar narrower than this (in SVG units) gets no name inside it, only its tooltip.
MIN_LABELLED_WIDTH = 46


@dataclass
class Bar:
    x: float
    y: float
    width: float
    css: str
    title: str
    label: str = ""
    start: datetime | None = None
    end: datetime | None = None
    user_ids: tuple[int, ...] = ()

    @property
    def label_x(self) -> float:
        return round(self.x + 4, 1)

    @property
    def text_y(self) -> float:
        return self.y + BAR_HEIGHT / 2 + 4

    @property
    def users_attr(self) -> str:
        return ",".join(str(pk) for pk in self.user_ids)


@dataclass
class Row:
    label: str
    kind: str  # rotation | overrides | final
    y: float
    bars: list[Bar] = field(default_factory=list)
    windows: list[Bar] = field(default_factory=list)  # a restricted rotation's active stretches

    @property
    def text_y(self) -> float:
        return self.y + BAR_HEIGHT / 2 + 4


@dataclass
class Tick:
    x: float
    label: str


@dataclass
class Drawing:
    start: datetime
    end: datetime
    viewer_tz: ZoneInfo
    rows: list[Row]
    ticks: list[Tick]
    final: list[dict]
    now_x: float | None
    width: int = LABEL_WIDTH + TRACK_WIDTH

    @property
    def height(self) -> int:
        return HEADER_HEIGHT + ROW_HEIGHT * len(self.rows) + 4

    @property
    def grid_bottom(self) -> int:
        return self.height - 2


def window(first_day: date, weeks: int, viewer_tz: ZoneInfo) -> tuple[datetime, datetime]:
    """[midnight of first_day, midnight weeks later) in the viewer's zone, as UTC instants."""
    start = datetime.combine(first_day, datetime.min.time(), tzinfo=viewer_tz)
    end = datetime.combine(first_day + timedelta(weeks=weeks), datetime.min.time(), tzinfo=viewer_tz)
    return start.astimezone(UTC), end.astimezone(UTC)


def display_name(user) -> str:
    return user.get_full_name() or user.get_username()


def short_name(user) -> str:
    return user.first_name or user.get_username()


def draw(spec: ScheduleSpec, start: datetime, end: datetime, viewer_tz: ZoneInfo, people: dict,
         rotation_labels: dict[int | None, str], overrides: list, now: datetime) -> Drawing:
    """`people`: user id -> user, for everyone the spec names; `overrides`: the override rows
    (models) in the window, drawn one bar each so each can be told apart."""
    span = (end - start).total_seconds()
    colours: dict[int, str] = {}

    def x_of(instant: datetime) -> float:
        seconds = (min(max(instant, start), end) - start).total_seconds()
        return round(LABEL_WIDTH + TRACK_WIDTH * seconds / span, 2)

    def colour(user_ids: tuple[int, ...]) -> str:
        if len(user_ids) != 1:
            return "p-many"
        return colours.setdefault(user_ids[0], f"p{len(colours) % PALETTE_SIZE}")

    def names(user_ids) -> tuple[str, str]:
        found = [people[pk] for pk in user_ids if pk in people]
        return ", ".join(display_name(u) for u in found), ", ".join(short_name(u) for u in found)

    def when(a: datetime, b: datetime) -> str:
        a, b = a.astimezone(viewer_tz), b.astimezone(viewer_tz)
        return f"{a:%a %d %b %H:%M} – {b:%a %d %b %H:%M} {b.tzname()}"

    def bar(y: float, a: datetime, b: datetime, user_ids: tuple[int, ...], prefix: str = "") -> Bar:
        left, right = x_of(a), x_of(b)
        full, short = names(user_ids)
        return Bar(x=left, y=y + 2, width=round(right - left, 2), css=colour(user_ids),
                   title=f"{prefix}{full}: {when(a, b)}",
                   label=short if right - left >= MIN_LABELLED_WIDTH else "",
                   start=a, end=b, user_ids=user_ids)

    rows: list[Row] = []
    y = HEADER_HEIGHT
    for rotation in sorted(spec.rotations, key=lambda r: (r.order, r.rotation_id or 0)):
        row = Row(label=rotation_labels.get(rotation.rotation_id, "Rotation"), kind="rotation", y=y)
        row.windows = [
            Bar(x=x_of(a), y=y, width=round(x_of(b) - x_of(a), 2), css="window", title=f"Active: {when(a, b)}")
            for a, b in restriction_windows(spec, rotation, start, end)
        ]
        row.bars = [bar(y, s.start, s.end, s.user_ids) for s in rotation_shifts(spec, rotation, start, end)]
        rows.append(row)
        y += ROW_HEIGHT
    override_row = Row(label="Overrides", kind="overrides", y=y)
    override_row.bars = [
        bar(y, max(o.start, start), min(o.end, end), (o.user_id,), "Override: ") for o in overrides
        if o.end > start and o.start < end
    ]
    rows.append(override_row)
    y += ROW_HEIGHT
    final_shifts = timeline(spec, start, end)
    final_row = Row(label="On call", kind="final", y=y)
    final_row.bars = [bar(y, s.start, s.end, s.user_ids) for s in final_shifts]
    rows.append(final_row)

    final = [
        {"start": s.start, "end": s.end, "names": names(s.user_ids)[0], "user_ids": s.user_ids,
         "css": colour(s.user_ids), "open_start": s.start <= start, "open_end": s.end >= end}
        for s in final_shifts
    ]
    return Drawing(start=start, end=end, viewer_tz=viewer_tz, rows=rows, ticks=_ticks(start, end, viewer_tz, x_of),
                   final=final, now_x=x_of(now) if start <= now < end else None)


def _ticks(start: datetime, end: datetime, tz: ZoneInfo, x_of) -> list[Tick]:
    """A line at each of the viewer's midnights, labelled with the day."""
    ticks = []
    day = start.astimezone(tz).date()
    days = 0
    while True:
        instant = datetime.combine(day, datetime.min.time(), tzinfo=tz).astimezone(UTC)
        if instant >= end:
            break
        if instant >= start:
            ticks.append(Tick(x=x_of(instant), label=f"{day:%a} {day.day}"))
            days += 1
        day += timedelta(days=1)
    if len(ticks) > 14:  # four weeks: label every other day, keep every line
        ticks = [Tick(t.x, t.label if i % 2 == 0 else "") for i, t in enumerate(ticks)]
    return ticks
