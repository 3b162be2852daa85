"""A person's on-call shifts as an iCalendar feed their calendar app subscribes to.

The URL's secret (CalendarFeedToken) is the only credential, as calendar apps cannot log
in: replacing it (portal or API) kills the old URL at once."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import icalendar
from django.conf import settings
from django.http import Http404, HttpResponse
from django.views.decorators.http import require_GET

from oncall.models import CalendarFeedToken
from oncall.schedule import upcoming_shifts

# Shifts that ended recently stay in the feed, so today's finished shift does not vanish.
LOOK_BACK = timedelta(days=7)


def feed_url(token: CalendarFeedToken | None) -> str | None:
    return f"{settings.SITE_URL}/oncall/calendar/{token.secret}.ics" if token else None


def build_calendar(user, now: datetime) -> bytes:
    weeks = settings.ONCALL_CALENDAR_WEEKS
    calendar = icalendar.Calendar()
    calendar.add("prodid", "-//Vigil//On-call shifts//EN")
    calendar.add("version", "2.0")
    calendar.add("calscale", "GREGORIAN")
    calendar.add("x-wr-calname", f"On call: {user.get_username()}")
    for schedule, shift in upcoming_shifts(user, now - LOOK_BACK, now + timedelta(weeks=weeks)):
        event = icalendar.Event()
        event.add("uid", f"vigil-{schedule.pk}-{user.pk}-{int(shift.start.timestamp())}@vigil")
        event.add("summary", f"On call: {schedule.name}")
        event.add("dtstart", shift.start.astimezone(UTC))
        event.add("dtend", shift.end.astimezone(UTC))
        event.add("dtstamp", now.astimezone(UTC))
        others = len(shift.user_ids) - 1
        text = f"Schedule {schedule.name} ({schedule.time_zone})"
        if others > 0:
            text += f", together with {others} other(s) (override)"
        event.add("description", text)
        event.add("transp", "TRANSPARENT")
        calendar.add_component(event)
    return calendar.to_ical()


@require_GET
def feed(request, secret: str):
    token = (
        CalendarFeedToken.objects.select_related("user")
        .filter(secret=secret, user__is_active=True)
        .first()
    )
    if token is None:
        raise Http404("unknown calendar")
    body = build_calendar(token.user, datetime.now(UTC))
    response = HttpResponse(body, content_type="text/calendar; charset=utf-8")
    response["Content-Disposition"] = 'inline; filename="vigil-oncall.ics"'
    response["Cache-Control"] = "private, max-age=300"
    return response
