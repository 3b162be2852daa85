"""Small display tags for the portal: severity and status badges that read without colour,
and timestamps a person can scan, in the viewer's own time zone. Each renders escaped HTML from values already loaded:
no tag here runs a query."""

from datetime import UTC

from django import template
from django.utils import timezone
from django.utils.html import format_html
from django.utils.timesince import timesince

from incidents.models import Incident, Severity
from incidents.portal.display import SEVERITY_SYMBOL, STATUS_SYMBOL

register = template.Library()

_SEVERITY_LABEL = dict(Severity.choices)
_STATUS_LABEL = dict(Incident.Status.choices)


@register.simple_tag
def severity_badge(severity: str):
    label = _SEVERITY_LABEL.get(severity, severity or "Unknown")
    return format_html(
        '<span class="badge sev sev-{}"><span aria-hidden="true">{}</span> {}</span>',
        severity if severity in _SEVERITY_LABEL else "unknown",
        SEVERITY_SYMBOL.get(severity, "?"),
        label,
    )


@register.simple_tag
def status_badge(status: str):
    label = _STATUS_LABEL.get(status, status or "Unknown")
    return format_html(
        '<span class="badge status status-{}"><span aria-hidden="true">{}</span> {}</span>',
        status if status in _STATUS_LABEL else "unknown",
        STATUS_SYMBOL.get(status, "?"),
        label,
    )


def absolute(local) -> str:
    """'02:14 CET' today, '3 Dec 02:14 CET' this year, '3 Dec 2025 02:14 CET' before."""
    today = timezone.localdate()
    if local.date() == today:
        day = ""
    elif local.year == today.year:
        day = f"{local.day} {local:%b} "
    else:
        day = f"{local.day} {local:%b %Y} "
    return f"{day}{local:%H:%M} {local.tzname()}"


@register.simple_tag
def when(value):
    """`<time>`: how long ago (or how soon), then the time in the viewer's zone (the zone
    the middleware activated from their profile): "3 minutes ago, 02:14 CET". The title
    has the full date and time, also in UTC."""
    if value is None:
        return "—"
    local = timezone.localtime(value)
    now = timezone.now()
    if value > now:
        relative = "in " + timesince(now, value).split(",")[0]
    elif (now - value).total_seconds() < 60:
        relative = "just now"
    else:
        relative = timesince(value, now).split(",")[0] + " ago"
    title = f"{local:%Y-%m-%d %H:%M:%S} {local.tzname()}"
    utc = value.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
    if title != utc:
        title += f" ({utc})"
    return format_html(
        '<time datetime="{}" title="{}">{}, {}</time>', value.isoformat(), title, relative, absolute(local)
    )


@register.simple_tag
def duration(value):
    """A timedelta as "4m 10s" / "2h 5m" / "—"."""
    if value is None:
        return "—"
    seconds = int(value.total_seconds())
    if seconds < 60:
        return f"{seconds}s"
    minutes, seconds = divmod(seconds, 60)
    if minutes < 60:
        return f"{minutes}m {seconds}s"
    hours, minutes = divmod(minutes, 60)
    if hours < 48:
        return f"{hours}h {minutes}m"
    days, hours = divmod(hours, 24)
    return f"{days}d {hours}h"
