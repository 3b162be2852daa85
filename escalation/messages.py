"""What a notification says: the email (text + HTML) and the webhook body.

Everything here comes from an alert payload, so templates autoescape the HTML part, the
Slack text escapes its three control characters, and the subject is flattened to one line
(a newline in a header is an injection)."""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from django.conf import settings
from django.core.mail import EmailMultiAlternatives
from django.template.loader import render_to_string

from escalation import links
from escalation.models import Notification
from incidents.models import Incident, TimelineEntry
from oncall.models import Schedule, time_zone_of

TEMPLATE_PREFIX = {
    Notification.Kind.PAGE: "page",
    Notification.Kind.RECOVERY: "recovery",
    Notification.Kind.SUMMARY: "summary",
}
EVENT_NAME = {
    Notification.Kind.PAGE: "incident.page",
    Notification.Kind.RECOVERY: "incident.recovery",
    Notification.Kind.SUMMARY: "incident.flapping_summary",
}


def incident_url(incident: Incident) -> str:
    return f"{settings.SITE_URL}/incidents/{incident.pk}/"


def is_reassignment(notification: Notification) -> bool:
    """A page outside the policy: a person reassigned the incident (step index -1)."""
    return notification.kind == Notification.Kind.PAGE and notification.step_index < 0


def reassignment_of(notification: Notification) -> dict:
    """Who handed the incident to the recipient and, when it went to a schedule, which one:
    read from the 'reassigned' timeline entry that lists this page (one query, two for a
    schedule). Empty strings when the entry is gone."""
    entry = (
        TimelineEntry.objects.filter(
            incident_id=notification.incident_id, kind=TimelineEntry.Kind.REASSIGNED,
            data__notification_ids__contains=[notification.pk],
        )
        .select_related("actor")
        .first()
    )
    found = {"by": "", "schedule": ""}
    if entry is None:
        return found
    if entry.actor is not None:
        found["by"] = entry.actor.get_full_name() or entry.actor.get_username()
    schedule_id = (entry.data or {}).get("schedule_id")
    if schedule_id:
        found["schedule"] = Schedule.objects.filter(pk=schedule_id).values_list("name", flat=True).first() or ""
    return found


def context_for(notification: Notification, *, held_count: int = 0) -> dict:
    incident = notification.incident
    user = notification.user
    labels = incident.labels if isinstance(incident.labels, dict) else {}
    context = {
        "incident": incident,
        "recipient": user,
        "kind": notification.kind,
        "severity": incident.severity,
        "labels": sorted((str(k), str(v)) for k, v in labels.items()),
        "incident_url": incident_url(incident),
        "step": notification.step_index + 1,
        "reassigned": is_reassignment(notification),
        "reassigned_by": "",
        "reassigned_schedule": "",
        "repeat": notification.repeat_index,
        "held_count": held_count,
        "ack_url": "",
        "resolve_url": "",
        "site_url": settings.SITE_URL,
    }
    if context["reassigned"]:
        reassignment = reassignment_of(notification)
        context["reassigned_by"], context["reassigned_schedule"] = reassignment["by"], reassignment["schedule"]
    context["first_seen"] = when_for(incident.first_seen_at, user)
    context["details"] = details_text(incident.details)
    if user is not None and incident.status != Incident.Status.RESOLVED:
        if incident.status == Incident.Status.TRIGGERED:
            context["ack_url"] = links.make_url(incident, user, "acknowledge")
        context["resolve_url"] = links.make_url(incident, user, "resolve")
    return context


DETAILS_MAX = 4000


def when_for(moment: datetime | None, user) -> str:
    """A time as the recipient reads it: in their own zone (their Profile), with UTC beside
    it when that differs ("2026-12-04 03:12:05 CET (02:12 UTC)")."""
    if moment is None:
        return ""
    zone = ZoneInfo(time_zone_of(user)) if user is not None else UTC
    local = moment.astimezone(zone)
    text = f"{local:%Y-%m-%d %H:%M:%S} {local.tzname()}"
    if local.utcoffset() or zone.key != "UTC":
        text += f" ({moment.astimezone(UTC):%H:%M} UTC)"
    return text


def details_text(details) -> str:
    """The sender's custom details, readable and bounded (an email is not a data dump)."""
    if details in (None, "", {}, []):
        return ""
    text = details if isinstance(details, str) else json.dumps(details, indent=2, ensure_ascii=False, default=str)
    return text if len(text) <= DETAILS_MAX else text[: DETAILS_MAX - 1] + "…"


def one_line(text: str, limit: int = 200) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"


def idempotency_key(notification: Notification) -> str:
    return hashlib.sha256(f"{settings.SECRET_KEY}:{notification.dedupe_key}".encode()).hexdigest()[:32]


def message_id(notification: Notification) -> str:
    domain = settings.DEFAULT_FROM_EMAIL.rpartition("@")[2] or "vigil.invalid"
    return f"<{idempotency_key(notification)}@{domain}>"


def thread_id(incident_id: int) -> str:
    """One Message-ID-shaped name per incident that every mail about it refers to, so mail
    clients show the page, later steps, the reassignment and the recovery as one thread.
    Never sent as a message of its own; keyed, so it tells nothing about other incidents."""
    domain = settings.DEFAULT_FROM_EMAIL.rpartition("@")[2] or "vigil.invalid"
    tag = hashlib.sha256(f"{settings.SECRET_KEY}:thread:{incident_id}".encode()).hexdigest()[:16]
    return f"<incident-{incident_id}.{tag}@{domain}>"


def build_email(notification: Notification, context: dict) -> EmailMultiAlternatives:
    prefix = TEMPLATE_PREFIX[notification.kind]
    subject = one_line(render_to_string(f"emails/{prefix}_subject.txt", context))
    text = render_to_string(f"emails/{prefix}_body.txt", context)
    html = render_to_string(f"emails/{prefix}_body.html", context)
    message = EmailMultiAlternatives(
        subject=subject,
        body=text,
        from_email=settings.DEFAULT_FROM_EMAIL,
        to=[notification.address],
        headers={
            # The same Message-ID on every attempt: if a worker dies after the SMTP server took
            # the message but before the row was marked sent, the resend is the same message,
            # which mail clients show once.
            "Message-ID": context["message_id"],
            "In-Reply-To": thread_id(notification.incident_id),
            "References": thread_id(notification.incident_id),
            "X-Vigil-Incident": str(notification.incident_id),
            "Auto-Submitted": "auto-generated",
        },
    )
    message.attach_alternative(html, "text/html")
    return message


def slack_escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def headline(notification: Notification, incident: Incident, noun: str = "Incident ") -> str:
    """"[CRITICAL] Incident #42", "[RESOLVED] Incident #42", "[FLAPPING] Incident #42"."""
    tag = {
        Notification.Kind.PAGE: f"[{incident.severity.upper()}]",
        Notification.Kind.RECOVERY: "[RESOLVED]",
        Notification.Kind.SUMMARY: "[FLAPPING]",
    }[notification.kind]
    return f"{tag} {noun}#{incident.pk}"


def text_lines(notification: Notification, context: dict) -> list[str]:
    """The page as plain lines under its headline, for the channels that send text: the
    summary, the reassignment, what a flapping summary held, the source and the labels."""
    incident = context["incident"]
    lines = [one_line(incident.summary, 500)]
    if context["reassigned"]:
        lines.append(reassigned_line(notification, context))
    if notification.kind == Notification.Kind.SUMMARY:
        lines.append(f"{context['held_count']} page(s) held while flapping; now {incident.status}")
    if incident.source:
        lines.append(f"Source: {one_line(incident.source, 200)}")
    if context["labels"]:
        lines.append(", ".join(f"{k}={v}" for k, v in context["labels"]))
    return lines


def slack_text(notification: Notification, context: dict) -> str:
    incident = context["incident"]
    head = headline(notification, incident)
    lines = [f"{head}: {slack_escape(one_line(incident.summary, 500))}"]
    if context["reassigned"]:
        lines.append(slack_escape(reassigned_line(notification, context)))
    if notification.kind == Notification.Kind.SUMMARY:
        lines.append(f"{context['held_count']} page(s) held while flapping; now {incident.status}")
    if context["labels"]:
        lines.append(", ".join(f"{slack_escape(k)}={slack_escape(v)}" for k, v in context["labels"]))
    actions = [f"<{context['incident_url']}|Open>"]
    if context["ack_url"]:
        actions.append(f"<{context['ack_url']}|Acknowledge>")
    if context["resolve_url"]:
        actions.append(f"<{context['resolve_url']}|Resolve>")
    lines.append(" · ".join(actions))
    return "\n".join(lines)


def reassigned_line(notification: Notification, context: dict) -> str:
    """'Reassigned to colin by Rita Responder (on call for Primary)': the plain-text line of
    a reassignment page (the webhook and Slack bodies; the emails say it in their templates)."""
    who = notification.user.get_username() if notification.user else "you"
    line = f"Reassigned to {who}"
    if context["reassigned_by"]:
        line += f" by {context['reassigned_by']}"
    if context["reassigned_schedule"]:
        line += f" (on call for {context['reassigned_schedule']})"
    return line


def webhook_body(notification: Notification, context: dict, *, slack_format: bool) -> dict:
    if slack_format:
        return {"text": slack_text(notification, context)}
    incident = context["incident"]
    return {
        "event": EVENT_NAME[notification.kind],
        "incident": {
            "id": incident.pk,
            "status": incident.status,
            "severity": incident.severity,
            "summary": incident.summary,
            "source": incident.source,
            "labels": dict(context["labels"]),
            "alert_count": incident.alert_count,
            "first_seen_at": incident.first_seen_at.isoformat(),
            "url": context["incident_url"],
        },
        "recipient": notification.user.get_username() if notification.user else None,
        "step": context["step"] if notification.kind == Notification.Kind.PAGE and not context["reassigned"] else None,
        # A reassignment page says so, and who did it; null for a policy step.
        "reassigned": {
            "message": reassigned_line(notification, context),
            "by": context["reassigned_by"] or None,
            "schedule": context["reassigned_schedule"] or None,
        } if context["reassigned"] else None,
        "held_count": context["held_count"] if notification.kind == Notification.Kind.SUMMARY else None,
        "links": {
            "incident": context["incident_url"],
            "acknowledge": context["ack_url"] or None,
            "resolve": context["resolve_url"] or None,
        },
    }
