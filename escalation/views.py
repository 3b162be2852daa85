"""The one-click links from emails, and the escalation watchdog.

A link's GET only shows a confirmation page: mail scanners (Safe Links and the like)
prefetch every link in a message, and must never acknowledge anything. The POST of that
page's form acts, through the same `incidents.actions` as the API. The signed link is the
credential, so the form is not tied to a session: it carries a field derived from the token
(`links.form_proof`), and who may act is checked again when the button is pressed."""

from __future__ import annotations

from datetime import UTC, timedelta

from django.conf import settings
from django.contrib.auth import get_user_model
from django.http import JsonResponse
from django.shortcuts import render
from django.template import TemplateDoesNotExist
from django.template.loader import get_template
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET, require_http_methods

from escalation import links
from escalation.clock import db_now
from escalation.engine import TICK_STATE_NAME
from escalation.models import EscalationTickState
from incidents import actions
from incidents.models import Incident

VERB = {"acknowledge": "Acknowledge", "resolve": "Resolve"}
DONE = {"acknowledge": "acknowledged", "resolve": "resolved"}


def base_template() -> str:
    """The portal's base.html when it is installed, else a minimal standalone page."""
    try:
        get_template("base.html")
    except TemplateDoesNotExist:
        return "escalation/standalone_base.html"
    return "base.html"


def _page(request, template: str, context: dict, status: int = 200):
    context = {"base_template": base_template(), **context}
    response = render(request, f"escalation/{template}", context, status=status)
    # The token is in the URL: keep it out of other sites' logs and out of caches.
    response["Referrer-Policy"] = "no-referrer"
    return response


def already_done(incident: Incident) -> str:
    """'... already acknowledged by alice (email link) at 2026-12-04 03:12 UTC.'"""
    if incident.status == Incident.Status.RESOLVED:
        by, via, at = incident.resolved_by, incident.resolved_via, incident.resolved_at
    elif incident.status == Incident.Status.ACKNOWLEDGED:
        by, via, at = incident.acknowledged_by, incident.acknowledged_via, incident.acknowledged_at
    else:
        return f"Incident #{incident.pk} is {incident.status}: this link was made before its last change."
    who = by.get_username() if by is not None else (via or "the system")
    if by is not None and via:
        who += f" ({via})"
    when = f" at {at.astimezone(UTC):%Y-%m-%d %H:%M} UTC" if at else ""
    return f"Incident #{incident.pk} is already {incident.status} by {who}{when}."


def _refused(request, context: dict, reason: str):
    return _page(request, "link_refused.html", {**context, "reason": reason}, status=403)


# The token is the credential and `form_proof` binds the form to it; Django's CSRF check
# would refuse the `Origin: null` that a no-referrer page makes browsers send.
@csrf_exempt
@never_cache
@require_http_methods(["GET", "POST"])
def link(request, token: str):
    try:
        claim = links.read_token(token)
    except links.LinkExpired:
        return _page(request, "link_expired.html", {}, status=410)
    except links.LinkInvalid:
        return _page(request, "link_invalid.html", {}, status=400)
    incident = Incident.objects.filter(pk=claim.incident_id).first()
    user = get_user_model().objects.filter(pk=claim.user_id).first()
    if incident is None or user is None:
        return _page(request, "link_invalid.html", {"gone": True}, status=404)
    context = {"incident": incident, "action": claim.action, "verb": VERB[claim.action], "link_user": user}
    reason = links.refusal(user, incident)
    if reason:
        if request.method == "POST":  # a GET is a look (or a mail scanner), not an attempt
            links.record_refusal(incident, user, f"{VERB[claim.action]} link of {user.get_username()} "
                                 f"refused: {reason}", source="link", action=claim.action)
        return _refused(request, context, reason)
    if links.status_version(incident, claim.action) != claim.version:
        # Used already (or overtaken): the link is dead, and says why.
        return _page(request, "link_done.html", {**context, "message": already_done(incident), "changed": False})
    if request.method == "GET":
        return _page(request, "link_confirm.html", {**context, "proof": links.form_proof(token)})
    if not links.proof_matches(token, request.POST.get("confirm", "")):
        return _refused(request, context, "This request did not come from Vigil's confirmation page for "
                                          "this link. Open the link again and press the button.")
    act = actions.do_acknowledge_incident if claim.action == "acknowledge" else actions.do_resolve_incident
    result = act(incident.pk, by=user, via="email link")
    message = (
        f"Incident #{incident.pk} {DONE[claim.action]} as {user.get_username()}."
        if result.changed else already_done(result.incident)
    )
    return _page(request, "link_done.html", {**context, "incident": result.incident, "message": message,
                                               "changed": result.changed})


@never_cache
@require_GET
def health(request):
    """200 while the beat tick runs and nothing is overdue; 503 otherwise (the watchdog:
    point an external monitor here, RELIABILITY T25)."""
    max_age = settings.ESCALATION_HEALTH_MAX_AGE_SECONDS or 3 * settings.ESCALATION_TICK_SECONDS
    now = db_now()
    state = EscalationTickState.objects.filter(name=TICK_STATE_NAME).first()
    age = (now - state.last_tick_at).total_seconds() if state and state.last_tick_at else None
    overdue = Incident.objects.filter(
        status=Incident.Status.TRIGGERED,
        next_escalation_at__lt=now - timedelta(seconds=max_age),
        escalation_held_reason="",
    ).count()
    healthy = age is not None and age <= max_age and overdue == 0
    body = {
        "status": "ok" if healthy else "failing",
        "last_tick_age_s": None if age is None else round(age, 1),
        "max_age_s": max_age,
        "overdue_incidents": overdue,
    }
    return JsonResponse(body, status=200 if healthy else 503)
