"""What the sms and voice channels and their inbound endpoints share: the Twilio client,
phone numbers in E.164, how a Twilio answer becomes Delivered/Retry/Failed, the
`X-Twilio-Signature` check, and the per-person reply codes of texted pages.

Twilio's REST API is called through the official `twilio` package. The auth token is the
password of its Basic auth and the key of its webhook signatures: it never goes into an
error message, a log line or a timeline (twilio's own logger leaves out the Authorization
header; our errors name the Twilio code and message only)."""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass

import phonenumbers
from django.conf import settings
from django.db import IntegrityError, transaction
from twilio.base.exceptions import TwilioException, TwilioRestException
from twilio.http.http_client import TwilioHttpClient
from twilio.request_validator import RequestValidator
from twilio.rest import Client

from escalation.channels.base import BadAddress, Delivered, Failed, Outcome, Retry
from escalation.models import SmsReplyCode
from incidents.models import Incident

logger = logging.getLogger("vigil.phone")

SMS_SEGMENT = 160  # GSM-7 characters in one segment
# The GSM 03.38 basic character set (and the escape table, which costs two characters):
# a text outside it goes as UCS-2, 70 characters a segment.
GSM7_BASIC = set(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
GSM7_EXTENDED = set("^{}\\[~]|€")


def sms_configured() -> bool:
    return bool(settings.TWILIO_ACCOUNT_SID and settings.TWILIO_AUTH_TOKEN
                and (settings.TWILIO_FROM_NUMBER or settings.TWILIO_MESSAGING_SERVICE_SID))


def voice_configured() -> bool:
    return bool(settings.TWILIO_ACCOUNT_SID and settings.TWILIO_AUTH_TOKEN and settings.TWILIO_FROM_NUMBER)


def client() -> Client:
    """A Twilio client on api.twilio.com, or on TWILIO_API_BASE_URL (tests, gateways)."""
    twilio = Client(
        settings.TWILIO_ACCOUNT_SID, settings.TWILIO_AUTH_TOKEN,
        http_client=TwilioHttpClient(timeout=settings.TWILIO_TIMEOUT_SECONDS, pool_connections=False),
    )
    twilio.api.base_url = settings.TWILIO_API_BASE_URL
    return twilio


def e164(address: str) -> str:
    """`address` as E.164 ('+4915112345678'), or BadAddress saying why. Only international
    numbers: Vigil has no home country to guess from."""
    try:
        number = phonenumbers.parse(address, None)
    except phonenumbers.NumberParseException:
        raise BadAddress("Enter the number in international format, starting with + and the country code.") \
            from None
    if not phonenumbers.is_valid_number(number):
        raise BadAddress("This is not a valid phone number.")
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def masked(number: str) -> str:
    return number[:-4] + "••••" if len(number) > 6 else number


def call_twilio(fn, what: str) -> Outcome:
    """Run one REST call. Twilio's 4xx (21211 invalid number, 21610 unsubscribed, ...) will
    not change on a retry: Failed. 5xx, 429, timeouts and refused connections: Retry."""
    try:
        fn()
    except TwilioRestException as exc:
        error = f"Twilio {what}: HTTP {exc.status}" + (f", error {exc.code}" if exc.code else "") + \
                (f": {exc.msg}" if exc.msg else "")
        if exc.status == 429 or exc.status >= 500:
            return Retry(error)
        return Failed(error)
    except OSError as exc:  # requests' timeouts, refused or reset connections (RequestException is one)
        return Retry(f"Twilio {what}: {type(exc).__name__}")
    except TwilioException as exc:  # an answer that is not Twilio's JSON (a proxy's error page)
        return Retry(f"Twilio {what}: {exc}")
    return Delivered()


def sender() -> dict:
    if settings.TWILIO_MESSAGING_SERVICE_SID:
        return {"messaging_service_sid": settings.TWILIO_MESSAGING_SERVICE_SID}
    return {"from_": settings.TWILIO_FROM_NUMBER}


# --- inbound signatures ---------------------------------------------------------------


def public_url(request) -> str:
    """The URL Twilio signed: SITE_URL + the path (and query). Behind a reverse proxy the
    request's own idea of its scheme and host is the proxy's, and would never match."""
    query = request.META.get("QUERY_STRING", "")
    return f"{settings.SITE_URL}{request.path}" + (f"?{query}" if query else "")


def signed_by_twilio(request) -> bool:
    signature = request.headers.get("X-Twilio-Signature", "")
    if not signature or not settings.TWILIO_AUTH_TOKEN:
        return False
    validator = RequestValidator(settings.TWILIO_AUTH_TOKEN)
    return validator.validate(public_url(request), request.POST, signature)


# --- reply codes ----------------------------------------------------------------------

# "1a", "1A", "1 a", "ack 1", "a1"; "1c", "close 1", "resolve 1".
ACTION_WORDS = {"a": "acknowledge", "ack": "acknowledge", "acknowledge": "acknowledge",
                "c": "resolve", "close": "resolve", "r": "resolve", "resolve": "resolve"}
CODE_PATTERNS = [
    re.compile(r"^(?P<number>\d{1,4})\s*(?P<word>[a-z]+)$"),
    re.compile(r"^(?P<word>[a-z]+)\s*(?P<number>\d{1,4})$"),
]


@dataclass(frozen=True)
class Reply:
    number: int
    action: str  # acknowledge | resolve
    code: str  # as the person wrote it, trimmed


def parse_reply(body: str) -> Reply | None:
    text = " ".join(body.strip().lower().split()).rstrip(".!")
    for pattern in CODE_PATTERNS:
        match = pattern.match(text)
        if match and match["word"] in ACTION_WORDS:
            return Reply(int(match["number"]), ACTION_WORDS[match["word"]], body.strip()[:20])
    return None


def reply_number(user, incident: Incident) -> int:
    """The person's number for this incident's page: the one it already has, else the
    smallest number not held by another of their unresolved incidents."""
    for _attempt in range(3):
        codes = list(SmsReplyCode.objects.filter(user=user).select_related("incident"))
        for code in codes:
            if code.incident_id == incident.pk:
                return code.number
        taken = {c.number for c in codes if c.incident.status != Incident.Status.RESOLVED}
        number = next(n for n in range(1, len(taken) + 2) if n not in taken)
        try:
            with transaction.atomic():
                SmsReplyCode.objects.update_or_create(user=user, number=number, defaults={"incident": incident})
            return number
        except IntegrityError:  # another send for this person took it first: look again
            continue
    raise RuntimeError("could not allocate an SMS reply code")


def incident_for_reply(user, number: int) -> Incident | None:
    code = SmsReplyCode.objects.filter(user=user, number=number).select_related("incident").first()
    return code.incident if code is not None else None


def gsm7_length(text: str) -> int | None:
    """Characters the text costs in GSM-7, or None when it needs UCS-2."""
    length = 0
    for char in text:
        if char in GSM7_BASIC:
            length += 1
        elif char in GSM7_EXTENDED:
            length += 2
        else:
            return None
    return length


def to_gsm7(text: str) -> str:
    """Characters outside GSM-7 become '?' so the page stays one 160-character segment
    (one UCS-2 character would cut a segment to 70)."""
    return "".join(c if c in GSM7_BASIC or c in GSM7_EXTENDED else "?" for c in text)


def fit_sms(head: str, summary: str, tail: str) -> str:
    """`head` + summary + `tail` in one GSM-7 segment, the summary cut with '...' to fit
    (a tail starting with '.' then loses it: 'srv0... Reply 1a ack'). Head and tail are
    short and always whole."""
    summary = to_gsm7(" ".join(summary.split()))
    if (gsm7_length(head + summary + tail) or 0) <= SMS_SEGMENT:
        return head + summary + tail
    tail = tail[1:] if tail.startswith(".") else tail
    room = SMS_SEGMENT - (gsm7_length(head + tail) or 0) - 3
    cut, used = "", 0
    for char in summary:
        used += 2 if char in GSM7_EXTENDED else 1
        if used > room:
            break
        cut += char
    return head + cut.rstrip() + "..." + tail
