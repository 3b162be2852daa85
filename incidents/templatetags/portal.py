"""Small display tags for the portal: severity and status badges that read without colour,
and timestamps a person can scan. Each renders escaped HTML from values already loaded:
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


@register.simple_tag
def when(value):
    """`<time>` saying how long ago (or how soon), with the exact UTC time as its title."""
    if value is None:
        return "—"
    utc = value.astimezone(UTC)
    now = timezone.now()
    if value > now:
        text = "in " + timesince(now, value).split(",")[0]
    elif (now - value).total_seconds() < 60:
        text = "just now"
    else:
        text = timesince(value, now).split(",")[0] + " ago"
    return format_html(
        '<time datetime="{}" title="{}">{}</time>', value.isoformat(), utc.strftime("%Y-%m-%d %H:%M:%S UTC"), text
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
