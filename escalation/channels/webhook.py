"""An HTTP POST of a JSON body (or a Slack-compatible one) to a public address only,
signed per Standard Webhooks (https://www.standardwebhooks.com/): `webhook-id`,
`webhook-timestamp` and `webhook-signature` (HMAC-SHA256 with the method's own secret,
made by the `standardwebhooks` package), so a receiver can tell Vigil's requests from
anyone's and refuse an old one replayed.

Slack-format bodies are signed too: Slack ignores headers it does not know, and the
Slack-compatible receivers people run themselves (Mattermost, a relay) can then verify."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime

from standardwebhooks.webhooks import Webhook

from escalation import messages
from escalation.channels.base import BadAddress, Channel, Delivered, Failed, Outcome, Retry
from escalation.models import ContactMethod, Notification
from escalation.webhooks import UnsafeURL, WebhookError, check_webhook_url, post_bytes


def signed_headers(secret: str, message_id: str, content: bytes, now: datetime | None = None) -> dict:
    """The three Standard Webhooks headers for `content` sent now."""
    now = now or datetime.now(UTC)
    signature = Webhook(secret).sign(msg_id=message_id, timestamp=now, data=content.decode())
    return {"webhook-id": message_id, "webhook-timestamp": str(int(now.timestamp())),
            "webhook-signature": signature}


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
        # The same key on every attempt of this notification, so a receiver can drop a
        # resend: it is the Idempotency-Key and the Standard Webhooks message id alike.
        key = context["idempotency_key"]
        return self._post(method, notification.address, body, key, {"Idempotency-Key": key})

    def send_message(self, method: ContactMethod, subject: str, text: str) -> Outcome:
        if method.slack_format:
            body = {"text": f"{messages.slack_escape(subject)}\n{messages.slack_escape(text)}"}
        else:
            body = {"event": "message", "subject": subject, "text": text}
        return self._post(method, method.address, body, f"msg_{uuid.uuid4().hex}", {})

    def _post(self, method: ContactMethod, url: str, body: dict, message_id: str, headers: dict) -> Outcome:
        if not method.signing_secret:
            return Failed("this webhook was never given a signing secret; rotate it on the Profile page")
        content = json.dumps(body, separators=(",", ":"), ensure_ascii=False).encode()
        try:
            post_bytes(url, content, {**headers, **signed_headers(method.signing_secret, message_id, content)})
        except UnsafeURL as exc:
            return Failed(f"refused to call the webhook: {exc}")
        except WebhookError as exc:
            # A redirect is an answer that will not change: following it is what SSRF needs.
            if "redirect" in str(exc):
                return Failed(f"webhook: {exc}")
            return Retry(f"webhook: {exc}")
        return Delivered()
