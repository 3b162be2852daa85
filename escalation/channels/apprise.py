"""Everything one-way that apprise reaches (Microsoft Teams, Discord, Telegram, Matrix,
Pushover, Gotify, ...): the address is an apprise URL, the message is text carrying the
signed Acknowledge and Resolve links (their confirm pages act, as from an email).

An apprise URL holds the provider's credentials, so it is shown as its scheme (and server,
when the URL names one) only, everywhere (`escalation.redaction`). apprise logs through the
`apprise` logger, which settings keep out of Vigil's log; what a failed send logged is read
here for the HTTP status only. Where the URL names a server the user chose (json://,
gotify://, ...) that server must have public addresses, as an outgoing webhook's must (not
pinned: apprise makes its own connection)."""

from __future__ import annotations

import logging
import re
from urllib.parse import urlsplit

import apprise

from escalation import messages, webhooks
from escalation.channels.base import BadAddress, Channel, Delivered, Failed, Outcome, Retry
from escalation.models import ContactMethod, Notification
from escalation.redaction import APPRISE_SERVER_SCHEMES, shown_address

STATUS = re.compile(r"error=(\d{3})")
NOTIFY_TYPE = {
    Notification.Kind.PAGE: apprise.NotifyType.FAILURE,
    Notification.Kind.RECOVERY: apprise.NotifyType.SUCCESS,
    Notification.Kind.SUMMARY: apprise.NotifyType.WARNING,
}


def page_text(notification: Notification, context: dict) -> tuple[str, str]:
    incident = context["incident"]
    head = messages.headline(notification, incident)
    lines = messages.text_lines(notification, context)
    lines.append("")
    lines.append(f"Open: {context['incident_url']}")
    if context["ack_url"]:
        lines.append(f"Acknowledge: {context['ack_url']}")
    if context["resolve_url"] and notification.kind != Notification.Kind.RECOVERY:
        lines.append(f"Resolve: {context['resolve_url']}")
    return f"{head}: {messages.one_line(incident.summary, 120)}", "\n".join(lines)


def check_server(address: str) -> None:
    """For a scheme whose host is a server the user chose: public addresses only."""
    scheme = address.partition("://")[0].lower()
    if scheme not in APPRISE_SERVER_SCHEMES:
        return
    try:
        parts = urlsplit(address)
        host, port = parts.hostname, parts.port
    except ValueError:
        raise BadAddress("not a valid URL") from None
    if not host:
        raise BadAddress("the URL names no server")
    host = f"[{host}]" if ":" in host else host
    secure = scheme.endswith("s")  # jsons, gotifys, ...: the TLS variant of each
    try:
        webhooks.check_webhook_url(f"{'https' if secure else 'http'}://{host}{f':{port}' if port else ''}/")
    except webhooks.UnsafeURL as exc:
        raise BadAddress(str(exc)) from None


class AppriseChannel(Channel):
    kind = "apprise"
    label = "Apprise"
    verb = "Sent apprise to"

    def check_address(self, address: str) -> None:
        if not address or any(ch.isspace() for ch in address) or len(address) > 500:
            raise BadAddress("an apprise URL of at most 500 characters, without spaces, is required")
        if apprise.Apprise.instantiate(address) is None:
            raise BadAddress("apprise does not know this URL (see its wiki for each service's URL)")
        check_server(address)

    def send(self, notification: Notification, context: dict) -> Outcome:
        title, text = page_text(notification, context)
        return notify(notification.contact_method, title, text, NOTIFY_TYPE[notification.kind])

    def send_message(self, method: ContactMethod, subject: str, text: str) -> Outcome:
        return notify(method, subject, text, apprise.NotifyType.INFO)


def notify(method: ContactMethod, title: str, text: str, notify_type) -> Outcome:
    """4xx (but 429) Failed; 429, 5xx and no answer Retry."""
    where = shown_address("apprise", method.address)
    try:
        check_server(method.address)  # again at send: DNS may have changed
    except BadAddress as exc:
        return Failed(f"refused to call {where}: {exc}")
    plugin = apprise.Apprise.instantiate(method.address)
    if plugin is None:
        return Failed(f"apprise does not know the URL {where}")
    sender = apprise.Apprise()
    sender.add(plugin)
    with apprise.LogCapture(level=logging.WARNING) as captured:
        sent = sender.notify(body=text, title=title, notify_type=notify_type,
                             body_format=apprise.NotifyFormat.TEXT)
    if sent:
        return Delivered()
    codes = [int(code) for code in STATUS.findall(captured.getvalue())]
    if not codes:
        return Retry(f"apprise {where}: no answer")
    status = codes[-1]
    if 400 <= status < 500 and status != 429:
        return Failed(f"apprise {where}: HTTP {status}")
    return Retry(f"apprise {where}: HTTP {status}")
