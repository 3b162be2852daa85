"""Times on the on-call pages: absolute in the viewer's zone (the one the middleware
activated from their profile), zone named, plus how far away. No tag here runs a query."""

from datetime import UTC

from django import template
from django.utils import timezone
from django.utils.html import format_html
from django.utils.timesince import timesince

register = template.Library()


def relative(value, now) -> str:
    if abs((value - now).total_seconds()) < 60:
        return "now"
    if value > now:
        return "in " + timesince(now, value).split(",")[0]
    return timesince(value, now).split(",")[0] + " ago"


@register.simple_tag
def shift_time(value, zone=None):
    """`<time>` "Mon 7 Dec 09:00 CET (in 3 days)", in `zone` if given (a ZoneInfo) else
    the viewer's; the title adds UTC."""
    if value is None:
        return "—"
    utc = value.astimezone(UTC)
    return format_html('<time datetime="{}" title="{}">{}</time> <span class="muted">({})</span>',
                       utc.isoformat(), f"{utc:%Y-%m-%d %H:%M} UTC", absolute(value, zone),
                       relative(value, timezone.now()))


def absolute(value, zone=None) -> str:
    local = value.astimezone(zone) if zone is not None else timezone.localtime(value)
    return f"{local:%a} {local.day} {local:%b %H:%M} {local.tzname()}"


@register.simple_tag
def local_time(value, zone=None):
    """Just "Mon 7 Dec 09:00 CET" (no relative part), for dense lists."""
    if value is None:
        return "—"
    return format_html('<time datetime="{}">{}</time>', value.astimezone(UTC).isoformat(), absolute(value, zone))


WEEKDAY_NAMES = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")


@register.filter
def weekday_names(days) -> str:
    """[0, 4] -> "Mon, Fri" (a rotation restriction's weekdays, 0 = Monday)."""
    return ", ".join(WEEKDAY_NAMES[d] for d in sorted(days) if isinstance(d, int) and 0 <= d <= 6)
