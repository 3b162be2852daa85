"""ntfy (https://ntfy.sh, often self-hosted): one JSON publish per message to the topic's
server. The address is the full topic URL (`https://ntfy.example.com/vigil-alice`).

The message's buttons are ntfy `view` actions that open the signed Acknowledge / Resolve
links' confirm pages: the same prefetch-safe page as the email's links, so ntfy needs no
inbound endpoint of its own (an `http` action would put a credential-bearing POST in the
ntfy app's hands). Tapping the message opens the incident. The request goes through the
webhooks' transport: SSRF guard, pinned address, total deadline, no redirects."""

from __future__ import annotations

import re
from urllib.parse import urlsplit

from django.conf import settings

from escalation import messages, webhooks
from escalation.channels.base import BadAddress, Channel, Delivered, Failed, Outcome, Retry
from escalation.models import ContactMethod, Notification
from escalation.redaction import url_origin

TOPIC = re.compile(r"^[-_A-Za-z0-9]{1,64}$")  # ntfy's own topic rule
# ntfy priorities: 5 max/urgent, 4 high, 3 default, 2 low, 1 min.
PRIORITY = {"critical": 5, "error": 4, "warning": 3, "info": 2}
TAGS = {"critical": "rotating_light", "error": "warning", "warning": "warning", "info": "information_source"}


def split_topic_url(address: str) -> tuple[str, str]:
    """('https://ntfy.example.com/', 'vigil-alice'): the server (JSON publish goes to its
    root, path prefix kept) and the topic. Raises BadAddress."""
    try:
        parts = urlsplit(address)
    except ValueError:
        raise BadAddress("not a valid URL") from None
    if parts.query or parts.fragment:
        raise BadAddress("give the topic URL without a query or fragment")
    prefix, _, topic = parts.path.rstrip("/").rpartition("/")
    if not TOPIC.match(topic or ""):
        raise BadAddress("the URL must end in the topic name (letters, digits, - and _; up to 64)")
    return f"{parts.scheme}://{parts.netloc}{prefix}/", topic


def publish_body(topic: str, title: str, text: str, *, severity: str = "", click: str = "",
                 actions: list[dict] | None = None) -> dict:
    body = {"topic": topic, "title": title, "message": text,
            "priority": PRIORITY.get(severity, 3), "tags": [TAGS.get(severity, "bell")]}
    if click:
        body["click"] = click
    if actions:
        body["actions"] = actions
    return body


def page_body(topic: str, notification: Notification, context: dict) -> dict:
    incident = context["incident"]
    head = messages.headline(notification, incident, noun="")
    lines = messages.text_lines(notification, context)
    actions = []
    if notification.kind != Notification.Kind.RECOVERY:
        if context["ack_url"]:
            actions.append({"action": "view", "label": "Acknowledge", "url": context["ack_url"], "clear": True})
        if context["resolve_url"]:
            actions.append({"action": "view", "label": "Resolve", "url": context["resolve_url"], "clear": True})
    severity = incident.severity if notification.kind == Notification.Kind.PAGE else "info"
    return publish_body(topic, f"{head} {messages.one_line(incident.summary, 120)}", "\n".join(lines),
                        severity=severity, click=context["incident_url"], actions=actions)


class NtfyChannel(Channel):
    kind = "ntfy"
    label = "ntfy"
    verb = "Sent ntfy to"

    def check_address(self, address: str) -> None:
        split_topic_url(address)
        try:
            webhooks.check_webhook_url(address)
        except webhooks.UnsafeURL as exc:
            raise BadAddress(str(exc)) from None

    def send(self, notification: Notification, context: dict) -> Outcome:
        method = notification.contact_method
        try:
            _server, topic = split_topic_url(method.address)
        except BadAddress as exc:
            return Failed(f"ntfy topic URL: {exc}")
        return publish(method, page_body(topic, notification, context), context["idempotency_key"])

    def send_message(self, method: ContactMethod, subject: str, text: str) -> Outcome:
        try:
            _server, topic = split_topic_url(method.address)
        except BadAddress as exc:
            return Failed(f"ntfy topic URL: {exc}")
        return publish(method, publish_body(topic, subject, text), "")


def publish(method: ContactMethod, body: dict, idempotency_key: str) -> Outcome:
    """4xx (but 429) Failed: a wrong token (401/403) or a refused message stays refused;
    429, 5xx and no answer Retry."""
    server, _topic = split_topic_url(method.address)
    headers = {}
    token = (method.secrets or {}).get("token") or settings.NTFY_TOKEN
    if token:
        headers["Authorization"] = f"Bearer {token}"
    if idempotency_key:
        headers["Idempotency-Key"] = idempotency_key
    where = url_origin(method.address)
    try:
        status = webhooks.post(server, json=body, headers=headers)
    except webhooks.UnsafeURL as exc:
        return Failed(f"refused to call ntfy: {exc}")
    except webhooks.WebhookError as exc:
        return Retry(f"ntfy {where}: {exc}")
    if 200 <= status < 300:
        return Delivered()
    if status == 429 or status >= 500:
        return Retry(f"ntfy {where}: HTTP {status}")
    if 300 <= status < 400:
        return Failed(f"ntfy {where}: HTTP {status}: redirects are not followed")
    return Failed(f"ntfy {where}: HTTP {status}")
