"""Web Push: what the portal needs to be installed as an app and to receive pages.

- `/manifest.webmanifest` and `/sw.js`: served from Vigil's own origin. The service worker
  is served here rather than under /static/ because a worker's scope cannot be wider than
  its path unless `Service-Worker-Allowed` says so; at `/sw.js` its scope is the whole portal.
- `/push/`: the page with the button that subscribes this browser (`static/vigil/push.js`).
- `/push/subscribe/`: session-authenticated, CSRF-protected POST of the browser's
  `PushSubscription.toJSON()`; stores one `push` contact method per browser.
- `/push/renew/`: the service worker's report that the browser replaced its subscription,
  proven by the old subscription's auth secret.
- `/push/action/`: the service worker's Acknowledge / Resolve POST. The signed token in the
  payload (`links.make_token`) is the credential; who may act is checked again when the
  button is pressed, as for the email's links. A bad or expired token is a 4xx and changes
  nothing."""

from __future__ import annotations

import base64
import binascii
import hmac
import json
from functools import cache
from pathlib import Path

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.views import redirect_to_login
from django.contrib.staticfiles import finders
from django.db import transaction
from django.http import HttpResponse, JsonResponse
from django.shortcuts import render
from django.templatetags.static import static
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET, require_POST

from escalation import links
from escalation.channels.base import BadAddress
from escalation.channels.push import DEAD_PREFIX, PushChannel
from escalation.models import ContactMethod
from escalation.redaction import shown_address
from escalation.views import DONE, already_done
from incidents import actions
from incidents.models import Incident

MAX_SUBSCRIPTION_BYTES = 4096
TAKEN_OVER = "another account has since turned on push in this browser"


def _error(status: int, message: str, errors: dict | None = None) -> JsonResponse:
    body = {"status": "error", "message": message}
    if errors:
        body["errors"] = errors
    return JsonResponse(body, status=status)


@cache
def _worker_source() -> bytes:
    return Path(finders.find("vigil/sw.js")).read_bytes()


@require_GET
def service_worker(request):
    response = HttpResponse(_worker_source(), content_type="text/javascript; charset=utf-8")
    response["Service-Worker-Allowed"] = "/"
    # Browsers check for a new worker at most daily anyway; never serve a stale one.
    response["Cache-Control"] = "no-cache"
    return response


@require_GET
def manifest(request):
    body = {
        "name": "Vigil",
        "short_name": "Vigil",
        "description": "Incidents, on-call and pages.",
        "id": "/",
        "start_url": "/",
        "scope": "/",
        "display": "standalone",
        "background_color": "#1f2937",
        "theme_color": "#1f2937",
        "icons": [
            {"src": static("vigil/icon-192.png"), "sizes": "192x192", "type": "image/png", "purpose": "any"},
            {"src": static("vigil/icon-512.png"), "sizes": "512x512", "type": "image/png", "purpose": "any"},
        ],
    }
    return JsonResponse(body, content_type="application/manifest+json")


def _own_push_methods(user):
    return ContactMethod.objects.filter(user=user, kind=ContactMethod.Kind.PUSH).order_by("id")


@never_cache
def page(request):
    if not request.user.is_authenticated:
        return redirect_to_login(request.get_full_path())
    methods = [{"id": m.pk, "where": shown_address(m.kind, m.address), "enabled": m.enabled,
                "disabled_reason": m.disabled_reason, "created_at": m.created_at}
               for m in _own_push_methods(request.user)]
    return render(request, "escalation/push.html", {
        "configured": PushChannel.configured(), "vapid_public_key": settings.VAPID_PUBLIC_KEY,
        "methods": methods, "section": "push",
    })


def _key(value, name: str, length: int) -> tuple[str, str]:
    """(the key, '') or ('', why): a base64url string that decodes to `length` bytes."""
    if not isinstance(value, str) or not value or len(value) > 200:
        return "", f"keys.{name} is required (base64url)"
    try:
        raw = base64.urlsafe_b64decode(value + "=" * (-len(value) % 4))
    except (binascii.Error, ValueError):
        return "", f"keys.{name} is not base64url"
    if len(raw) != length or (name == "p256dh" and raw[0] != 4):
        what = "an uncompressed P-256 public key" if name == "p256dh" else "a secret"
        return "", f"keys.{name} must be {what} of {length} bytes"
    return value, ""


def read_subscription(body: bytes) -> tuple[dict, dict]:
    """(subscription, {}) or ({}, {field: why}) from `PushSubscription.toJSON()`."""
    if len(body) > MAX_SUBSCRIPTION_BYTES:
        return {}, {"body": f"at most {MAX_SUBSCRIPTION_BYTES} bytes"}
    try:
        data = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        return {}, {"body": "expected the JSON of PushSubscription.toJSON()"}
    if not isinstance(data, dict):
        return {}, {"body": "expected a JSON object"}
    errors = {}
    endpoint = data.get("endpoint")
    if not isinstance(endpoint, str) or not endpoint:
        errors["endpoint"] = "endpoint is required"
    else:
        try:
            PushChannel().check_address(endpoint)
        except BadAddress as exc:
            errors["endpoint"] = str(exc)
    keys = data.get("keys") if isinstance(data.get("keys"), dict) else {}
    p256dh, why = _key(keys.get("p256dh"), "p256dh", 65)
    if why:
        errors["keys.p256dh"] = why
    auth, why = _key(keys.get("auth"), "auth", 16)
    if why:
        errors["keys.auth"] = why
    if errors:
        return {}, errors
    return {"endpoint": endpoint, "p256dh": p256dh, "auth": auth}, {}


@never_cache
@require_POST
def subscribe(request):
    """Store this browser's subscription as the signed-in person's `push` contact method
    (one per endpoint). CSRF-protected by the middleware: the portal's JS sends the token."""
    if not request.user.is_authenticated:
        return _error(401, "Sign in first: a push subscription belongs to a person.")
    if not PushChannel.configured():
        return _error(404, "Web Push is not set up on this Vigil (VAPID settings are missing).")
    subscription, errors = read_subscription(request.body)
    if errors:
        return _error(400, "This is not a usable push subscription: " + "; ".join(errors.values()), errors)
    endpoint = subscription["endpoint"]
    secrets = {"p256dh": subscription["p256dh"], "auth": subscription["auth"]}
    with transaction.atomic():
        same_browser = ContactMethod.objects.select_for_update().at_address(
            ContactMethod.Kind.PUSH, endpoint)
        # One browser, one person: whoever subscribed it last gets its pages.
        same_browser.exclude(user=request.user).update(enabled=False, disabled_reason=TAKEN_OVER)
        method = same_browser.filter(user=request.user).first()
        created = method is None
        if created:
            method = ContactMethod.objects.create(user=request.user, kind=ContactMethod.Kind.PUSH,
                                                  address=endpoint, secrets=secrets)
        else:
            method.secrets, method.enabled, method.disabled_reason = secrets, True, ""
            method.save(update_fields=["secrets", "enabled", "disabled_reason"])
    return JsonResponse({
        "status": "ok",
        "message": "Push is on for this browser." if created else "Push is on again for this browser.",
        "contact_method": {"id": method.pk, "kind": method.kind,
                           "address": shown_address(method.kind, method.address), "enabled": True},
    }, status=201 if created else 200)


# A browser may replace a subscription on its own (the push service rotated it): the service
# worker then has no session and no CSRF token, only the old subscription. Its auth secret
# is shared by that browser and Vigil alone, so it proves the renewal comes from the
# browser that held it.
@csrf_exempt
@never_cache
@require_POST
def renew(request):
    try:
        data = json.loads(request.body[:2 * MAX_SUBSCRIPTION_BYTES] or b"{}")
    except (ValueError, UnicodeDecodeError):
        data = None
    if not isinstance(data, dict) or not isinstance(data.get("old"), dict):
        return _error(400, "Send {\"old\": <the old subscription>, \"new\": <the new one>}.")
    old = data["old"]
    endpoint = old.get("endpoint") if isinstance(old.get("endpoint"), str) else ""
    old_keys = old.get("keys") if isinstance(old.get("keys"), dict) else {}
    presented = old_keys.get("auth") if isinstance(old_keys.get("auth"), str) else ""
    method = next((m for m in ContactMethod.objects.at_address(ContactMethod.Kind.PUSH, endpoint)
                   if presented and hmac.compare_digest(presented, (m.secrets or {}).get("auth", ""))), None)
    if method is None:
        return _error(403, "This is not a subscription Vigil knows.")
    subscription, errors = read_subscription(json.dumps(data.get("new")).encode())
    if errors:
        return _error(400, "The new subscription is not usable: " + "; ".join(errors.values()), errors)
    method.address = subscription["endpoint"]
    method.secrets = {"p256dh": subscription["p256dh"], "auth": subscription["auth"]}
    if method.disabled_reason.startswith(DEAD_PREFIX):  # the old endpoint died; this one lives
        method.enabled, method.disabled_reason = True, ""
    method.save(update_fields=["address", "secrets", "enabled", "disabled_reason"])
    return JsonResponse({"status": "ok", "message": "The subscription was renewed."})


def _token_from(request) -> str:
    if request.content_type == "application/json":
        try:
            data = json.loads(request.body[:4096] or b"{}")
        except (ValueError, UnicodeDecodeError):
            return ""
        return data.get("token", "") if isinstance(data, dict) and isinstance(data.get("token"), str) else ""
    return request.POST.get("token", "")


# The signed token is the credential and the only input; the worker posts it without a
# cookie, so Django's CSRF check has nothing to protect here (a forged request without the
# token changes nothing).
@csrf_exempt
@never_cache
@require_POST
def action(request):
    token = _token_from(request)
    if not token:
        return _error(400, "Send the action's token as JSON: {\"token\": \"...\"}.")
    try:
        claim = links.read_token(token)
    except links.LinkExpired:
        return _error(410, "This page's buttons have expired; open the incident in Vigil.")
    except links.LinkInvalid:
        return _error(400, "This token is not one of Vigil's (tampered or truncated).")
    incident = Incident.objects.filter(pk=claim.incident_id).first()
    user = get_user_model().objects.filter(pk=claim.user_id).first()
    if incident is None or user is None:
        return _error(404, "The incident or the person of this page no longer exists.")
    reason = links.refusal(user, incident)
    if reason:
        links.record_refusal(incident, user, f"Push {claim.action} of {user.get_username()} refused: {reason}",
                             source="push", action=claim.action)
        return _error(403, reason)
    if links.status_version(incident, claim.action) != claim.version:
        return JsonResponse({"status": "unchanged", "incident": incident.pk, "message": already_done(incident)},
                            status=409)
    act = actions.do_acknowledge_incident if claim.action == "acknowledge" else actions.do_resolve_incident
    result = act(incident.pk, by=user, via="push")
    if not result.changed:
        return JsonResponse({"status": "unchanged", "incident": incident.pk,
                             "message": already_done(result.incident)}, status=409)
    return JsonResponse({"status": DONE[claim.action], "incident": incident.pk,
                         "message": f"Incident #{incident.pk} {DONE[claim.action]} as {user.get_username()}."})
