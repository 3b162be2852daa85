"""The portal's On-call page: who is on call now and next for each schedule of my teams,
my upcoming shifts, and my iCalendar subscription link.

The schedule math is `oncall.schedule`'s; this module only loads, picks and formats."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import get_user_model
from django.contrib.auth.decorators import login_required
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_GET, require_POST

from oncall.models import CalendarFeedToken, Schedule, new_calendar_secret
from oncall.permissions import teams_of
from oncall.profile import my_shifts
from oncall.schedule import Shift, load_schedule, timeline

# How far back the current shift may have started, and how far ahead "next" and "my
# upcoming shifts" look.
LOOK_BACK = timedelta(days=35)
LOOK_AHEAD = timedelta(days=28)


@dataclass
class ScheduleRow:
    schedule: Schedule
    now_users: list
    now_until: datetime | None
    now_since: datetime | None
    next_users: list
    next_start: datetime | None


def current_and_next(shifts: list[Shift], now: datetime) -> tuple[Shift | None, Shift | None]:
    current = next((s for s in shifts if s.start <= now < s.end), None)
    after = current.end if current else now
    upcoming = next((s for s in shifts if s.start >= after), None)
    return current, upcoming


def _schedules_for(user):
    schedules = Schedule.objects.select_related("team").order_by("team__name", "name")
    if user.is_superuser:
        return schedules
    return schedules.filter(team__in=teams_of(user))


def schedule_rows(user, now: datetime) -> list[ScheduleRow]:
    picked = []
    for schedule in _schedules_for(user):
        window = (now - LOOK_BACK, now + LOOK_AHEAD)
        shifts = timeline(load_schedule(schedule, window), *window)
        picked.append((schedule, *current_and_next(shifts, now)))
    # One query for every person named on the page.
    ids = {pk for _, cur, nxt in picked for shift in (cur, nxt) if shift for pk in shift.user_ids}
    people = get_user_model().objects.in_bulk(ids)

    def named(shift):
        return [people[pk] for pk in shift.user_ids if pk in people] if shift else []

    return [
        ScheduleRow(
            schedule=schedule,
            now_users=named(cur),
            # A shift cut by the look-back window started earlier than we know: say nothing.
            now_since=cur.start if cur and cur.start > now - LOOK_BACK else None,
            now_until=cur.end if cur and cur.end < now + LOOK_AHEAD else None,
            next_users=named(nxt),
            next_start=nxt.start if nxt else None,
        )
        for schedule, cur, nxt in picked
    ]


def calendar_url(token: CalendarFeedToken | None) -> str:
    if token is None:
        return ""
    return settings.SITE_URL + reverse("oncall-calendar-feed", args=[token.secret])


@login_required
@require_GET
def oncall_page(request):
    now = timezone.now()
    token = CalendarFeedToken.objects.filter(user=request.user).first()
    return render(
        request,
        "oncall/oncall.html",
        {
            "section": "oncall",
            "rows": schedule_rows(request.user, now),
            # The same list as the Profile page's.
            "my_shifts": my_shifts(request.user, now, LOOK_AHEAD),
            "look_ahead_days": LOOK_AHEAD.days,
            "calendar_url": calendar_url(token),
            "viewer_zone_name": timezone.get_current_timezone_name(),
        },
    )


@login_required
@require_POST
def calendar_link(request):
    """Create my subscription link, or replace it (the old link stops working at once)."""
    token = CalendarFeedToken.objects.filter(user=request.user).first()
    if token is None:
        CalendarFeedToken.objects.create(user=request.user)
        messages.success(request, "Your calendar link is ready.")
    else:
        token.secret = new_calendar_secret()
        token.save(update_fields=["secret"])
        messages.success(request, "Your calendar link was replaced; the old one no longer works.")
    return redirect("oncall")
