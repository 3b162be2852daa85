"""The Slack app: a page is a message with Acknowledge / Resolve / Escalate buttons, posted
through Slack's Web API with the official `slack_sdk` WebClient, and updated in place
(`chat.update`) when the incident changes state, by whatever route.

The address is a Slack member ID (`U...`/`W...`: the message goes to the person's direct
messages with the app, opened with `conversations.open`) or a conversation ID (`C...`,
`G...`, `D...`: the message goes there; the app must be a member of a private channel).
A member ID is also the explicit link between that Slack account and the contact method's
owner (the buttons act for them); otherwise the person pressing a button is matched by the
email Slack reports for them (`escalation.slack_interactivity`).

Slack answers `ok: false` with an error name for what another try would not fix
(`channel_not_found`, `invalid_auth`, `not_in_channel`, ...): Failed. HTTP 429 (with
Retry-After), 5xx, Slack's own transient errors, timeouts and refused connections: Retry.
The bot token travels in the Authorization header only and is in no error text."""

from __future__ import annotations

import http.client
import logging
import re
from datetime import UTC

from django.conf import settings
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from escalation import messages
from escalation.channels.base import BadAddress, Channel, Delivered, Failed, Outcome, Retry
from escalation.models import Notification, SlackMessage
from incidents.models import Incident

logger = logging.getLogger("vigil.slack")

ADDRESS = re.compile(r"^[UWCGD][A-Z0-9]{2,30}$")
# The buttons' action ids; their value is "<incident id>:<notification id>".
ACTION_PREFIX = "vigil_"
ACTIONS = ("acknowledge", "resolve", "escalate")
# `ok: false` errors that Slack documents as temporary: worth another try.
TRANSIENT_ERRORS = {"ratelimited", "internal_error", "fatal_error", "service_unavailable", "request_timeout"}
SEVERITY_MARK = {"critical": ":red_circle:", "error": ":large_orange_circle:", "warning": ":large_yellow_circle:",
                 "info": ":large_blue_circle:"}


def web_client() -> WebClient:
    # No retry handlers of the SDK's own: escalation.notify owns retries and their backoff.
    return WebClient(token=settings.SLACK_BOT_TOKEN, base_url=settings.SLACK_API_BASE_URL,
                     timeout=settings.SLACK_TIMEOUT_SECONDS, retry_handlers=[])


def outcome_of_error(exc: Exception, call: str) -> Retry | Failed:
    """A Web API call that did not succeed, as Retry or Failed (no token in the text)."""
    if isinstance(exc, SlackApiError):
        status = exc.response.status_code
        data = exc.response.data if isinstance(exc.response.data, dict) else {}
        error = str(data.get("error") or f"HTTP {status}")
        if status == 429:
            after = exc.response.headers.get("Retry-After") or exc.response.headers.get("retry-after")
            return Retry(f"Slack {call}: rate limited (HTTP 429" + (f", Retry-After {after} s)" if after else ")"))
        if status >= 500 or error in TRANSIENT_ERRORS:
            return Retry(f"Slack {call}: {error} (HTTP {status})")
        return Failed(f"Slack {call}: {error} (HTTP {status})")
    return Retry(f"Slack {call}: {type(exc).__name__}: {exc}")


def conversation_for(client: WebClient, address: str) -> str:
    """The conversation a message to `address` goes to: a member's DM with the app, or the
    conversation itself."""
    if address[:1] in "UW":
        return client.conversations_open(users=address)["channel"]["id"]
    return address


# --- what the message says --------------------------------------------------------------


def _who(user, via: str) -> str:
    name = (user.get_full_name() or user.get_username()) if user is not None else ""
    name = name or via or "the system"
    return f"{name} ({via})" if via and user is not None else name


def _when(at) -> str:
    return f"{at.astimezone(UTC):%Y-%m-%d %H:%M} UTC" if at else ""


def state_line(incident: Incident) -> str:
    if incident.status == Incident.Status.ACKNOWLEDGED:
        who = _who(incident.acknowledged_by, incident.acknowledged_via)
        return f":eyes: Acknowledged by {messages.slack_escape(who)} at {_when(incident.acknowledged_at)}"
    if incident.status == Incident.Status.RESOLVED:
        who = _who(incident.resolved_by, incident.resolved_via)
        return f":white_check_mark: Resolved by {messages.slack_escape(who)} at {_when(incident.resolved_at)}"
    return ":rotating_light: Triggered, not yet acknowledged"


def button(action: str, label: str, value: str, style: str = "") -> dict:
    element = {"type": "button", "action_id": f"{ACTION_PREFIX}{action}",
               "text": {"type": "plain_text", "text": label}, "value": value}
    if style:
        element["style"] = style
    return element


def message_for(notification: Notification, incident: Incident) -> tuple[str, list[dict]]:
    """(fallback text, Block Kit blocks) of the notification, as the incident is now. The
    buttons are those the incident's state still allows."""
    head = {
        Notification.Kind.PAGE: f"[{incident.severity.upper()}] Incident #{incident.pk}",
        Notification.Kind.RECOVERY: f"[RESOLVED] Incident #{incident.pk}",
        Notification.Kind.SUMMARY: f"[FLAPPING] Incident #{incident.pk}",
    }[notification.kind]
    summary = messages.slack_escape(messages.one_line(incident.summary, 500))
    url = messages.incident_url(incident)
    mark = SEVERITY_MARK.get(incident.severity, "")
    text = f"{head}: {summary}"
    details = []
    labels = incident.labels if isinstance(incident.labels, dict) else {}
    if labels:
        details.append(", ".join(f"{messages.slack_escape(str(k))}={messages.slack_escape(str(v))}"
                                 for k, v in sorted(labels.items())))
    blocks: list[dict] = [
        {"type": "section", "text": {"type": "mrkdwn", "text": f"{mark} *<{url}|{head}>*\n{summary}".strip()}},
    ]
    if details:
        blocks.append({"type": "context", "elements": [{"type": "mrkdwn", "text": d[:2000]} for d in details]})
    blocks.append({"type": "context", "elements": [{"type": "mrkdwn", "text": state_line(incident)}]})
    value = f"{incident.pk}:{notification.pk}"
    buttons = []
    if notification.kind != Notification.Kind.RECOVERY:
        if incident.status == Incident.Status.TRIGGERED:
            buttons.append(button("acknowledge", "Acknowledge", value, "primary"))
        if incident.status != Incident.Status.RESOLVED:
            buttons.append(button("resolve", "Resolve", value))
        if incident.status == Incident.Status.TRIGGERED:
            buttons.append(button("escalate", "Escalate", value, "danger"))
    if buttons:
        blocks.append({"type": "actions", "block_id": f"vigil_incident_{incident.pk}", "elements": buttons})
    return text, blocks


# --- the channel ------------------------------------------------------------------------


class SlackChannel(Channel):
    kind = "slack"
    label = "Slack"
    verb = "Sent on Slack to"
    interactive = True

    @classmethod
    def configured(cls) -> bool:
        return bool(settings.SLACK_BOT_TOKEN and settings.SLACK_SIGNING_SECRET)

    def check_address(self, address: str) -> None:
        if not ADDRESS.match(address or ""):
            raise BadAddress("Enter a Slack member ID (U..., from the person's profile: More, Copy member ID) "
                             "or a channel ID (C..., from the channel's details).")

    def send(self, notification: Notification, context: dict) -> Outcome:
        if not self.configured():
            return Failed("Slack is not configured on this installation (SLACK_BOT_TOKEN, SLACK_SIGNING_SECRET)")
        try:
            self.check_address(notification.address)
        except BadAddress as exc:
            return Failed(f"Slack: {exc}")
        text, blocks = message_for(notification, context["incident"])
        client = web_client()
        call = "conversations.open"
        try:
            channel = conversation_for(client, notification.address)
            call = "chat.postMessage"
            thread = {"thread_ts": first.ts} if (first := self._first_message(notification, channel)) else {}
            posted = client.chat_postMessage(channel=channel, text=text, blocks=blocks,
                                             unfurl_links=False, unfurl_media=False, **thread)
        except (SlackApiError, OSError, http.client.HTTPException) as exc:
            return outcome_of_error(exc, call)
        # In the send's transaction, with the row's status: a rolled-back send keeps neither.
        SlackMessage.objects.update_or_create(
            notification=notification, defaults={"channel": posted["channel"], "ts": posted["ts"]}
        )
        return Delivered()

    @staticmethod
    def _first_message(notification: Notification, channel: str) -> SlackMessage | None:
        """A recovery note or summary replies in the thread of the first page this contact
        method received for the incident (as the emails thread with In-Reply-To)."""
        if notification.kind == Notification.Kind.PAGE:
            return None
        return (SlackMessage.objects.filter(notification__incident_id=notification.incident_id,
                                            notification__contact_method_id=notification.contact_method_id,
                                            notification__kind=Notification.Kind.PAGE, channel=channel)
                .order_by("pk").first())

    def send_message(self, method, subject: str, text: str) -> Outcome:
        """A message that is not about an incident (a verification code, a test page)."""
        if not self.configured():
            return Failed("Slack is not configured on this installation (SLACK_BOT_TOKEN, SLACK_SIGNING_SECRET)")
        try:
            self.check_address(method.address)
        except BadAddress as exc:
            return Failed(f"Slack: {exc}")
        body = f"*{messages.slack_escape(messages.one_line(subject))}*\n{messages.slack_escape(text)}"
        client = web_client()
        call = "conversations.open"
        try:
            channel = conversation_for(client, method.address)
            call = "chat.postMessage"
            client.chat_postMessage(channel=channel, text=body, unfurl_links=False, unfurl_media=False)
        except (SlackApiError, OSError, http.client.HTTPException) as exc:
            return outcome_of_error(exc, call)
        return Delivered()


# --- updating the messages in place ----------------------------------------------------------


def refresh_messages(incident_id: int) -> list[Outcome]:
    """Rewrite every Slack message of the incident to show its state now (who acknowledged
    or resolved it, which buttons still apply). Idempotent: it reads the state when it runs,
    so late or repeated runs converge on the latest state."""
    if not SlackChannel.configured():
        return []
    rows = list(
        SlackMessage.objects.filter(notification__incident_id=incident_id)
        .select_related("notification", "notification__incident", "notification__incident__acknowledged_by",
                        "notification__incident__resolved_by")
        .order_by("pk")
    )
    if not rows:
        return []
    client = web_client()
    outcomes: list[Outcome] = []
    for row in rows:
        text, blocks = message_for(row.notification, row.notification.incident)
        try:
            client.chat_update(channel=row.channel, ts=row.ts, text=text, blocks=blocks)
        except (SlackApiError, OSError, http.client.HTTPException) as exc:
            outcome = outcome_of_error(exc, "chat.update")
            logger.warning("updating the Slack message of notification %s: %s", row.notification_id, outcome.error)
            outcomes.append(outcome)
            continue
        outcomes.append(Delivered())
    return outcomes
