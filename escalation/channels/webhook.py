"""An HTTP POST of a JSON body (or a Slack-compatible one) to a public address only."""

from __future__ import annotations

from escalation import messages
from escalation.channels.base import BadAddress, Channel, Delivered, Failed, Outcome, Retry
from escalation.models import ContactMethod, Notification
from escalation.webhooks import UnsafeURL, WebhookError, check_webhook_url, post_json


class WebhookChannel(Channel):
    kind = "webhook"
    label = "Outgoing webhook"
    verb = "Webhook to"

    def check_address(self, address: str) -> None:
        # Checked at save and again at send: DNS can change in between.
        try:
            check_webhook_url(address)
        except UnsafeURL as exc:
            raise BadAddress(str(exc)) from None

    def send(self, notification: Notification, context: dict) -> Outcome:
        method = notification.contact_method
        body = messages.webhook_body(notification, context, slack_format=method.slack_format)
        # The same key on every attempt of this notification, so a receiver can drop a resend.
        return self._post(notification.address, body, {"Idempotency-Key": context["idempotency_key"]})

    def send_message(self, method: ContactMethod, subject: str, text: str) -> Outcome:
        if method.slack_format:
            body = {"text": f"{messages.slack_escape(subject)}\n{messages.slack_escape(text)}"}
        else:
            body = {"event": "message", "subject": subject, "text": text}
        return self._post(method.address, body, {})

    def _post(self, url: str, body: dict, headers: dict) -> Outcome:
        try:
            post_json(url, body, headers)
        except UnsafeURL as exc:
            return Failed(f"refused to call the webhook: {exc}")
        except WebhookError as exc:
            # A redirect is an answer that will not change: following it is what SSRF needs.
            if "redirect" in str(exc):
                return Failed(f"webhook: {exc}")
            return Retry(f"webhook: {exc}")
        return Delivered()
