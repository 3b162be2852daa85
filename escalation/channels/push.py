"""Web Push to the portal installed as an app (a PWA): the page arrives on the lock screen
with Acknowledge and Resolve buttons, which the service worker (`static/vigil/sw.js`)
answers by POSTing the signed token in the payload to `/push/action/`.

`pywebpush` encrypts the payload for the subscription (aes128gcm, RFC 8291) and signs the
VAPID header (RFC 8292); the request it builds goes out through the webhooks' transport
(a requests adapter over `escalation.webhooks.post`), so a push endpoint gets the same SSRF
guard, address pinning and total deadline as an outgoing webhook. The endpoint URL is a
capability and is never logged or shown whole (`escalation.redaction`)."""

from __future__ import annotations

import json

import requests
from django.conf import settings
from py_vapid import Vapid, VapidException
from pywebpush import WebPushException, webpush

from escalation import links, messages, webhooks
from escalation.channels.base import BadAddress, Channel, Delivered, Failed, Outcome, Retry
from escalation.models import ContactMethod, Notification
from escalation.redaction import url_origin

ACTION_PATH = "/push/action/"
# A page waits this long at the push service for a phone that is offline; a recovery or
# test message less (it matters less once it is late).
PAGE_TTL_SECONDS = 3600
OTHER_TTL_SECONDS = 600
TITLE = {
    Notification.Kind.PAGE: "[{severity}] #{id} {summary}",
    Notification.Kind.RECOVERY: "[RESOLVED] #{id} {summary}",
    Notification.Kind.SUMMARY: "[FLAPPING] #{id} {summary}",
}
# Headers requests adds that the pinned transport sets itself.
_TRANSPORT_HEADERS = {"host", "content-length", "connection", "accept-encoding", "accept"}


class _PinnedAdapter(requests.adapters.BaseAdapter):
    """Hands the request pywebpush built to `webhooks.post`: checked, pinned, no redirects,
    one total deadline. Errors propagate as UnsafeURL or WebhookError."""

    def send(self, request, stream=False, timeout=None, verify=True, cert=None, proxies=None):
        headers = {k: v for k, v in request.headers.items() if k.lower() not in _TRANSPORT_HEADERS}
        body = request.body or b""
        status = webhooks.post(request.url, content=body if isinstance(body, bytes) else body.encode(),
                               headers=headers)
        response = requests.Response()
        response.status_code, response.request, response.url = status, request, request.url
        response.reason, response._content = "", b""
        return response

    def close(self):
        pass


def _session() -> requests.Session:
    session = requests.Session()
    session.trust_env = False
    adapter = _PinnedAdapter()
    session.mount("https://", adapter)
    session.mount("http://", adapter)
    return session


def action_url() -> str:
    return f"{settings.SITE_URL}{ACTION_PATH}"


def page_payload(notification: Notification, context: dict) -> dict:
    """What the service worker shows. Each action carries the signed token that
    `/push/action/` acts on, and the signed link's confirm page as the fallback when the
    POST cannot be made (offline, or signed out of a browser that blocks it)."""
    incident = context["incident"]
    title = TITLE[notification.kind].format(
        severity=incident.severity.upper(), id=incident.pk, summary=messages.one_line(incident.summary, 120))
    lines = []
    if context["reassigned"]:
        lines.append(messages.reassigned_line(notification, context))
    if notification.kind == Notification.Kind.SUMMARY:
        lines.append(f"{context['held_count']} page(s) held while flapping; now {incident.status}")
    if incident.source:
        lines.append(f"Source: {messages.one_line(incident.source, 80)}")
    if context["labels"]:
        lines.append(messages.one_line(", ".join(f"{k}={v}" for k, v in context["labels"]), 160))
    actions = []
    user = notification.user
    for action, verb, link in (("acknowledge", "Acknowledge", context["ack_url"]),
                               ("resolve", "Resolve", context["resolve_url"])):
        if link and user is not None and notification.kind != Notification.Kind.RECOVERY:
            actions.append({"action": action, "title": verb, "url": action_url(),
                            "token": links.make_token(incident, user, action), "link": link})
    return {
        "title": title,
        "body": "\n".join(lines) or incident.status,
        # One notification per incident on the device: a later page replaces the earlier one.
        "tag": f"vigil-incident-{incident.pk}",
        "url": context["incident_url"],
        "kind": notification.kind,
        "incident": incident.pk,
        "actions": actions,
    }


class PushChannel(Channel):
    kind = "push"
    label = "Web Push"
    verb = "Pushed to"
    interactive = True
    typed_address = False

    @classmethod
    def configured(cls) -> bool:
        return bool(settings.VAPID_PUBLIC_KEY and settings.VAPID_PRIVATE_KEY and settings.VAPID_SUBJECT)

    def check_address(self, address: str) -> None:
        # A browser hands us the endpoint, but a person could post any URL as one.
        try:
            webhooks.check_webhook_url(address)
        except webhooks.UnsafeURL as exc:
            raise BadAddress(f"push endpoint: {exc}") from None

    def send(self, notification: Notification, context: dict) -> Outcome:
        urgent = notification.kind == Notification.Kind.PAGE
        return push(notification.contact_method, page_payload(notification, context),
                    ttl=PAGE_TTL_SECONDS if urgent else OTHER_TTL_SECONDS,
                    urgency="high" if urgent else "normal", topic=f"incident-{notification.incident_id}")

    def send_message(self, method: ContactMethod, subject: str, text: str) -> Outcome:
        payload = {"title": subject, "body": text, "tag": "vigil-message", "url": f"{settings.SITE_URL}/",
                   "kind": "message", "actions": []}
        return push(method, payload, ttl=OTHER_TTL_SECONDS, urgency="normal", topic="message")


DEAD_PREFIX = "the push service answered"


def disable_dead(method: ContactMethod, status: int) -> None:
    reason = f"{DEAD_PREFIX} {status}: this browser's subscription has ended"
    ContactMethod.objects.filter(pk=method.pk).update(enabled=False, disabled_reason=reason)
    method.enabled, method.disabled_reason = False, reason


def push(method: ContactMethod, payload: dict, *, ttl: int, urgency: str, topic: str) -> Outcome:
    """One encrypted push to the method's subscription. 404/410: the subscription is gone,
    so the method is disabled (with the reason) and the send Failed; other 4xx Failed;
    429, 5xx and no answer Retry."""
    keys = method.secrets or {}
    if not (keys.get("p256dh") and keys.get("auth")):
        return Failed("the push subscription has no encryption keys")
    where = url_origin(method.address)
    try:
        # Before pywebpush reads the URL (it cannot sign claims for an IPv6 literal), and
        # again in `webhooks.post` on the pinned connection.
        webhooks.check_webhook_url(method.address)
    except webhooks.UnsafeURL as exc:
        return Failed(f"refused to call the push service: {exc}")
    try:
        vapid = Vapid.from_string(private_key=settings.VAPID_PRIVATE_KEY)
    except Exception as exc:  # py_vapid raises whatever its decoders raise
        return Failed(f"VAPID_PRIVATE_KEY is not a usable key ({type(exc).__name__})")
    try:
        webpush(
            subscription_info={"endpoint": method.address, "keys": {"p256dh": keys["p256dh"], "auth": keys["auth"]}},
            data=json.dumps(payload, separators=(",", ":")),
            vapid_private_key=vapid,
            vapid_claims={"sub": settings.VAPID_SUBJECT},
            ttl=ttl,
            # RFC 8030: urgency wakes the device; a topic replaces an undelivered older push.
            headers={"Urgency": urgency, "Topic": topic[:32]},
            requests_session=_session(),
        )
    except webhooks.UnsafeURL as exc:
        return Failed(f"refused to call the push service: {exc}")
    except webhooks.WebhookError as exc:
        return Retry(f"push service {where}: {exc}")
    except WebPushException as exc:
        status = exc.response.status_code if exc.response is not None else 0
        if status in (404, 410):
            disable_dead(method, status)
            return Failed(f"push service {where}: HTTP {status}, the subscription has ended; "
                          f"the method is now disabled")
        if status == 429 or status >= 500 or status == 0:
            return Retry(f"push service {where}: HTTP {status or 'error'}")
        return Failed(f"push service {where}: HTTP {status}")
    except VapidException as exc:  # claims py_vapid will not sign, e.g. for an IPv6-literal endpoint
        return Failed(f"push service {where}: VAPID claims refused ({str(exc)[:80]})")
    except (ValueError, TypeError) as exc:  # keys that do not decode or are not on the curve
        return Failed(f"the push subscription's keys are unusable ({type(exc).__name__})")
    return Delivered()
