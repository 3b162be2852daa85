"""One incident's story in time order, as the portal and the REST API show it (the REST
detail serializes these same items: incidents/api.py TimelineItemSerializer).

Two sources are merged: events as received (with the pipeline's outcome and reason) and
timeline entries (people's actions, escalation steps, notifications sent or failed as the
sender records them, noise reduction). A fixed number of queries whatever the length: each
source is one query, capped, so an incident that has flapped for a week still renders
quickly."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from incidents.models import Event, Incident, TimelineEntry

# The newest items of each source that are shown; older ones are counted, not loaded.
DEFAULT_LIMIT = 300


@dataclass
class TimelineItem:
    at: datetime
    kind: str
    label: str
    message: str
    actor: str | None = None  # the person's display name (the portal)
    actor_username: str | None = None  # their login (the REST API: stable for scripts)
    outcome: str | None = None
    reason: str = ""
    dedup_key: str = ""
    sort_key: tuple = field(default=(), repr=False)


@dataclass
class Timeline:
    items: list[TimelineItem]
    # How many of each source exist beyond what is shown (0 when everything is shown).
    hidden_events: int = 0
    hidden_entries: int = 0

    @property
    def truncated(self) -> bool:
        return bool(self.hidden_events or self.hidden_entries)


def _newest(queryset, limit: int) -> tuple[list, int]:
    """The newest `limit` rows (one query, `limit + 1` to learn whether more exist)."""
    rows = list(queryset.order_by("-id")[: limit + 1])
    more = len(rows) > limit
    rows = rows[:limit]
    rows.reverse()
    return rows, more


def _actor_name(user) -> str | None:
    if user is None:
        return None
    return user.get_full_name() or user.get_username()


def entry_item(entry: TimelineEntry) -> TimelineItem:
    """One timeline entry as an item (also the REST answer to adding a note)."""
    return TimelineItem(
        at=entry.created_at,
        kind=entry.kind,
        label=entry.get_kind_display(),
        message=entry.message,
        actor=_actor_name(entry.actor),
        actor_username=entry.actor.get_username() if entry.actor else None,
        sort_key=(entry.created_at, 1, entry.id),
    )


def build_timeline(incident: Incident, *, limit: int | None = None) -> Timeline:
    limit = limit or DEFAULT_LIMIT
    # The raw body can be large; the timeline needs none of it.
    events, more_events = _newest(
        Event.objects.filter(incident=incident).only(
            "id", "received_at", "format", "action", "outcome", "reason", "dedup_key"
        ),
        limit,
    )
    entries, more_entries = _newest(
        TimelineEntry.objects.filter(incident=incident).select_related("actor"), limit
    )
    items = [
        TimelineItem(
            at=e.received_at,
            kind="event",
            label="Event received",
            message=f"{e.format} {e.action} → {e.outcome}",
            outcome=e.outcome,
            reason=e.reason,
            dedup_key=e.dedup_key,
            sort_key=(e.received_at, 0, e.id),
        )
        for e in events
    ]
    items += [entry_item(t) for t in entries]
    items.sort(key=lambda item: item.sort_key)
    hidden_events = Event.objects.filter(incident=incident).count() - len(events) if more_events else 0
    hidden_entries = (
        TimelineEntry.objects.filter(incident=incident).count() - len(entries) if more_entries else 0
    )
    return Timeline(items, hidden_events=hidden_events, hidden_entries=hidden_entries)

