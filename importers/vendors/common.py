"""Small parsing helpers the three vendor modules share."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

OVERRIDE_HORIZON = timedelta(days=90)


def parse_instant(value: str, tz: ZoneInfo | None = None) -> datetime:
    """An ISO 8601 instant, in UTC (so adding seconds adds elapsed time, not wall-clock time);
    a naive one (Grafana OnCall's `start`) is local time in `tz`."""
    moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=tz or ZoneInfo("UTC"))
    return moment.astimezone(UTC)


def zone(name: str | None, default: str = "UTC") -> tuple[ZoneInfo, str]:
    try:
        return ZoneInfo(name or default), name or default
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo(default), default


def in_horizon(start: datetime, end: datetime, now: datetime) -> bool:
    """An override that matters: it ends after now and starts within the next 90 days."""
    return end > now and start < now + OVERRIDE_HORIZON
