"""What Twilio posts back: SMS replies to pages, and the TwiML and keypresses of a paging call.

Every request must carry a valid `X-Twilio-Signature` over SITE_URL + path and the posted
fields (twilio's RequestValidator with our auth token): the signature is the credential, so
the endpoints are CSRF-exempt, and an unsigned or mis-signed request answers 403 and
changes nothing. A signed request with a human mistake in it (an unknown code, a key that
is no option) is answered the way Twilio expects, 200 with TwiML, so the person hears or
reads what went wrong; nothing changes, and when the attempt names an incident it is on
that incident's timeline."""

from __future__ import annotations

import logging
from functools import wraps

from django.conf import settings
from django.http import HttpResponse
from django.urls import reverse
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST
from twilio.twiml.messaging_response import MessagingResponse
from twilio.twiml.voice_response import Gather, VoiceResponse

from escalation import links
from escalation.channels import BadAddress, phone
from escalation.models import ContactMethod, Notification
from incidents import actions
from incidents.models import Incident

logger = logging.getLogger("vigil.phone")

DONE = {"acknowledge": "Acknowledged", "resolve": "Resolved", "escalate": "Escalated"}
KEYS = {"1": "acknowledge", "2": "resolve", "3": "escalate"}


def _twiml(response) -> HttpResponse:
    return HttpResponse(str(response), content_type="text/xml; charset=utf-8")


def twilio_signed(view):
    """403 unless Twilio signed this request; 404 while Twilio is not configured."""

    @csrf_exempt
    @never_cache
    @require_POST
    @wraps(view)
    def checked(request, *args, **kwargs):
        if not (phone.sms_configured() or phone.voice_configured()):
            return HttpResponse("Twilio is not configured on this installation.\n", status=404,
                                content_type="text/plain")
        if not phone.signed_by_twilio(request):
            logger.warning("refused a Twilio callback to %s: missing or wrong X-Twilio-Signature", request.path)
            return HttpResponse("X-Twilio-Signature is missing or does not match this request.\n",
                                status=403, content_type="text/plain")
        return view(request, *args, **kwargs)

    return checked


def _refused_on_timeline(incident: Incident, user, what: str, reason: str) -> None:
    links.record_refusal(incident, user, f"{what} from {user.get_username()} refused: {reason}", source="twilio")


def _act(action: str, incident: Incident, user, via: str) -> str:
    """Do it as `user`; the sentence to read or text back."""
    if action == "escalate":
        result = actions.do_escalate_now(incident.pk, by=user, via=via)
    else:
        act = actions.do_acknowledge_incident if action == "acknowledge" else actions.do_resolve_incident
        result = act(incident.pk, by=user, via=via)
    if result.changed:
        return f"{DONE[action]} #{incident.pk}: {phone.to_gsm7(incident.summary)[:80]}"
    return f"Incident #{incident.pk}: nothing changed, {result.message}."


# --- SMS replies ---------------------------------------------------------------------------


@twilio_signed
def sms_reply(request):
    sender, body = request.POST.get("From", ""), request.POST.get("Body", "")
    if not sender:
        return HttpResponse("'From' is missing.\n", status=400, content_type="text/plain")
    answer = MessagingResponse()
    answer.message(_sms_answer(sender, body))
    return _twiml(answer)


def _sms_answer(sender: str, body: str) -> str:
    try:
        number = phone.e164(sender)
    except BadAddress:
        number = sender
    methods = list(ContactMethod.objects.at_address(ContactMethod.Kind.SMS, number).filter(enabled=True)
                   .select_related("user"))
    if not methods:
        return "Vigil: this number is not a contact of anyone in Vigil. Nothing changed."
    reply = phone.parse_reply(body)
    if reply is None:
        return f"Vigil: {phone.to_gsm7(body.strip())[:20]!r} is not a reply code. Reply e.g. 1a to acknowledge " \
               "page 1, 1c to resolve it."
    for method in methods:
        user = method.user
        incident = phone.incident_for_reply(user, reply.number)
        if incident is None:
            continue
        what = f"SMS reply {reply.code!r}"
        reason = links.refusal(user, incident)
        if reason:
            _refused_on_timeline(incident, user, what, reason)
            return f"Vigil: {reason} Nothing changed."
        return "Vigil: " + _act(reply.action, incident, user, "SMS reply")
    return f"Vigil: unknown code {reply.code}. Nothing changed."


# --- voice ---------------------------------------------------------------------------------


def _call_page(notification_id: int) -> Notification | None:
    return (Notification.objects.filter(pk=notification_id, channel=ContactMethod.Kind.VOICE,
                                        kind=Notification.Kind.PAGE, user__isnull=False)
            .select_related("incident", "user").first())


def _gather(response: VoiceResponse, notification: Notification) -> None:
    gather = Gather(num_digits=1, timeout=10, method="POST",
                    action=settings.SITE_URL + reverse("twilio-voice-gather", args=[notification.pk]))
    gather.say("Press 1 to acknowledge, 2 to resolve, 3 to escalate.")
    response.append(gather)
    response.say("No key pressed. Goodbye.")


@twilio_signed
def voice(request, notification_id: int):
    """The TwiML Twilio fetches when the person answers the call."""
    notification = _call_page(notification_id)
    response = VoiceResponse()
    if notification is None:
        response.say("This Vigil call is not for a page any more. Goodbye.")
        return _twiml(response)
    incident = notification.incident
    severity = incident.severity if incident.severity != "error" else "error level"
    response.say(f"Vigil page. {severity} incident {incident.pk}: {incident.summary[:300]}.")
    if incident.status != Incident.Status.TRIGGERED:
        response.say(f"It is {incident.status} already.")
    _gather(response, notification)
    return _twiml(response)


@twilio_signed
def voice_gather(request, notification_id: int):
    """The key the person pressed: 1 acknowledge, 2 resolve, 3 escalate now."""
    notification = _call_page(notification_id)
    response = VoiceResponse()
    if notification is None:
        response.say("This Vigil call is not for a page any more. Goodbye.")
        return _twiml(response)
    digits = request.POST.get("Digits", "")
    action = KEYS.get(digits)
    if action is None:
        response.say(f"{digits or 'Nothing'} is not an option.")
        _gather(response, notification)
        return _twiml(response)
    user, incident = notification.user, notification.incident
    reason = links.refusal(user, incident)
    if reason:
        _refused_on_timeline(incident, user, f"Key {digits} on a call", reason)
        response.say(f"{reason} Nothing changed. Goodbye.")
        return _twiml(response)
    response.say(_act(action, incident, user, "voice call").replace("#", "") + " Goodbye.")
    response.hangup()
    return _twiml(response)
