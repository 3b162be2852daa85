"""Slack's interactivity endpoint: the Acknowledge / Resolve / Escalate buttons of a page.

Slack signs every request with the app's signing secret (`X-Slack-Signature` over
`v0:<timestamp>:<body>`); `slack_sdk.signature.SignatureVerifier` checks it and that the
timestamp is within five minutes, so a captured request cannot be replayed later. Anything
unsigned, mis-signed or stale answers 401 before the body is read as JSON.

Then, in order, each answer explained to the person with an ephemeral message (only they
see it) through the interaction's `response_url`, and nothing changed unless it says so:
1 the button names an incident (its value is "<incident id>:<notification id>"); an unknown
  one answers 404;
2 the Slack member is a Vigil user: the owner of a Slack contact method with that member ID,
  else the one Vigil user whose email is the email Slack reports for them (`users.info`);
  otherwise 403 "link your account";
3 that user may act on the incident now (`links.refusal`: active, on the incident's team);
  otherwise 403 with the reason, and the attempt is written on the incident's timeline;
4 the action runs through `incidents.actions` like any other route, and the message is
  rewritten after the commit (`notify.incident_state_changed`)."""

from __future__ import annotations

import http.client
import json
import logging
import time
from urllib.parse import urlsplit

from django.conf import settings
from django.contrib.auth import get_user_model
from django.http import HttpResponse, JsonResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST
from slack_sdk.errors import SlackApiError
from slack_sdk.signature import SignatureVerifier
from slack_sdk.webhook import WebhookClient

from escalation import dispatch, links
from escalation.channels.slack import ACTION_PREFIX, ACTIONS, SlackChannel, web_client
from escalation.models import ContactMethod
from incidents import actions
from incidents.models import Incident

logger = logging.getLogger("vigil.slack")

WINDOW_SECONDS = 5 * 60  # SignatureVerifier's own window
LABEL = {"acknowledge": "Acknowledge", "resolve": "Resolve", "escalate": "Escalate"}


class BadInteraction(ValueError):
    """The signed body is not a button press of ours; the message names what is wrong."""


def _error(status: int, message: str) -> JsonResponse:
    return JsonResponse({"ok": False, "error": message}, status=status)


def parse(body: dict) -> dict:
    """The parts of a `block_actions` payload we use, or BadInteraction naming the problem."""
    if body.get("type") != "block_actions":
        raise BadInteraction(f"unsupported interaction type {str(body.get('type'))[:40]!r}")
    user = body.get("user") if isinstance(body.get("user"), dict) else {}
    if not isinstance(user.get("id"), str) or not user["id"]:
        raise BadInteraction("'user.id' is missing")
    pressed = body.get("actions")
    if not isinstance(pressed, list) or not pressed or not isinstance(pressed[0], dict):
        raise BadInteraction("'actions' is missing or empty")
    action_id = str(pressed[0].get("action_id", ""))
    action = action_id[len(ACTION_PREFIX):] if action_id.startswith(ACTION_PREFIX) else ""
    if action not in ACTIONS:
        raise BadInteraction(f"unknown action_id {action_id[:60]!r}")
    incident_part, _, notification_part = str(pressed[0].get("value", "")).partition(":")
    if not incident_part.isdigit() or len(incident_part) > 18:
        raise BadInteraction("'actions[0].value' does not name an incident")
    channel = body.get("channel") if isinstance(body.get("channel"), dict) else {}
    container = body.get("container") if isinstance(body.get("container"), dict) else {}
    return {
        "action": action,
        "incident_id": int(incident_part),
        "notification_id": int(notification_part) if notification_part.isdigit() and len(notification_part) <= 18
        else None,
        "slack_user": user["id"],
        "slack_name": str(user.get("username") or user.get("name") or user["id"])[:80],
        "response_url": body.get("response_url") if isinstance(body.get("response_url"), str) else "",
        "channel": str(channel.get("id") or container.get("channel_id") or ""),
    }


def vigil_user_for(slack_user: str):
    """The Vigil user a Slack member acts as, or None: an explicit link (a Slack contact
    method with that member ID) first, else the one user whose email is the one Slack
    reports for the member. Ambiguous matches map to nobody."""
    User = get_user_model()
    linked = set(ContactMethod.objects.at_address(ContactMethod.Kind.SLACK, slack_user)
                 .values_list("user_id", flat=True))
    if len(linked) == 1:
        return User.objects.get(pk=linked.pop())
    if linked:
        return None
    try:
        info = web_client().users_info(user=slack_user)
    except (SlackApiError, OSError, http.client.HTTPException) as exc:
        logger.warning("Slack users.info for a button press failed: %s", type(exc).__name__)
        return None
    member = info.get("user") or {}
    email = str((member.get("profile") or {}).get("email") or "").strip()
    if not email or member.get("deleted") or member.get("is_bot"):
        return None
    matches = list(User.objects.filter(email__iexact=email)[:2])
    return matches[0] if len(matches) == 1 else None


def _response_url_allowed(url: str) -> bool:
    """Only Slack's own hooks (or the configured API host: a local fake in tests), so a
    signed but odd payload cannot make Vigil post anywhere else."""
    parts = urlsplit(url)
    if parts.scheme == "https" and parts.hostname == "hooks.slack.com":
        return True
    api = urlsplit(settings.SLACK_API_BASE_URL)
    return (parts.scheme, parts.hostname, parts.port) == (api.scheme, api.hostname, api.port)


def tell(press: dict, text: str) -> None:
    """An ephemeral answer to the person who pressed the button (best effort)."""
    try:
        if press["response_url"] and _response_url_allowed(press["response_url"]):
            WebhookClient(press["response_url"], timeout=settings.SLACK_TIMEOUT_SECONDS, retry_handlers=[]).send(
                text=text, response_type="ephemeral", replace_original=False
            )
        elif press["channel"]:
            web_client().chat_postEphemeral(channel=press["channel"], user=press["slack_user"], text=text)
    except (SlackApiError, OSError, http.client.HTTPException) as exc:
        logger.warning("could not answer a Slack button press: %s", type(exc).__name__)


def _record_refusal(incident: Incident, user, press: dict, reason: str) -> None:
    links.record_refusal(
        incident, user, f"Slack: {user.get_username()} pressed {LABEL[press['action']]}; refused: {reason}",
        source="slack", action=press["action"], slack_user=press["slack_user"],
    )


def _act(press: dict, incident: Incident, user) -> actions.ActionResult:
    if press["action"] == "acknowledge":
        return actions.do_acknowledge_incident(incident.pk, by=user, via="slack")
    if press["action"] == "resolve":
        return actions.do_resolve_incident(incident.pk, by=user, via="slack")
    return actions.do_escalate_now(incident.pk, by=user, via="slack")


@csrf_exempt  # Slack's signature is the credential; Slack sends no CSRF token
@require_POST
def interactivity(request):
    if not SlackChannel.configured():
        return _error(404, "Slack is not configured on this installation")
    body = request.body
    timestamp = request.headers.get("X-Slack-Request-Timestamp", "")
    signature = request.headers.get("X-Slack-Signature", "")
    if not timestamp or not signature:
        return _error(401, "missing X-Slack-Signature or X-Slack-Request-Timestamp")
    if not timestamp.isdigit() or len(timestamp) > 12:
        return _error(401, "X-Slack-Request-Timestamp is not a Unix time")
    if abs(time.time() - int(timestamp)) > WINDOW_SECONDS:
        return _error(401, "X-Slack-Request-Timestamp is outside the 5-minute window (a replay?)")
    if not SignatureVerifier(settings.SLACK_SIGNING_SECRET).is_valid(body, timestamp, signature):
        return _error(401, "X-Slack-Signature does not match the body")
    try:
        payload = json.loads(request.POST.get("payload", ""))
        if not isinstance(payload, dict):
            raise BadInteraction("'payload' is not a JSON object")
        press = parse(payload)
    except (ValueError, UnicodeDecodeError) as exc:  # BadInteraction and JSON errors alike
        message = str(exc) if isinstance(exc, BadInteraction) else "'payload' is missing or not JSON"
        return _error(400, message)

    incident = Incident.objects.filter(pk=press["incident_id"]).first()
    if incident is None:
        tell(press, f"Vigil has no incident #{press['incident_id']}.")
        return _error(404, f"no incident #{press['incident_id']}")
    user = vigil_user_for(press["slack_user"])
    if user is None:
        tell(press, "Your Slack account is not linked to a Vigil user, so this button cannot act for you. "
                    f"Link it: add a Slack contact method with your member ID ({press['slack_user']}) on your "
                    f"Vigil profile, or use the same email address in Slack and Vigil. {settings.SITE_URL}/")
        return _error(403, "this Slack user is not linked to a Vigil user")
    reason = links.refusal(user, incident)
    if reason:
        _record_refusal(incident, user, press, reason)
        tell(press, f"Not done: {reason}")
        return _error(403, reason)
    result = _act(press, incident, user)
    if not result.changed:
        # The message may be showing an older state (an update lost or overtaken): refresh it.
        dispatch.enqueue_on_commit(dispatch.REFRESH_SLACK_MESSAGES, incident.pk)
        tell(press, f"Incident #{incident.pk}: {result.message}.")
    elif press["action"] == "escalate":
        tell(press, f"Incident #{incident.pk}: escalating to the next step now.")
    return HttpResponse(status=200)
