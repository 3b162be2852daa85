"""Proving a contact method reaches its owner: a 6-digit code sent over the method itself,
typed back on the Profile page; and the test page a person sends themselves.

Only the code's digest is stored (HMAC-SHA-256 keyed with SECRET_KEY and bound to the
method, so a digest copied to another row proves nothing), with its expiry and the count
of wrong tries. A new code is sent at most once a minute per method: adding someone
else's address must not turn Vigil into a way to flood it. Codes never reach a log.

The message goes out after the row's transaction commits: no lock is held during an SMTP
or HTTP call."""

from __future__ import annotations

import enum
import hashlib
import hmac
import secrets
from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from escalation.channels import Channel, Delivered, Failed, Outcome, channel_for
from escalation.models import ContactMethod

CODE_DIGITS = 6
CODE_LIFETIME = timedelta(minutes=15)
RESEND_AFTER = timedelta(seconds=60)
MAX_ATTEMPTS = 5


class Check(enum.Enum):
    VERIFIED = "verified"
    ALREADY = "already verified"
    WRONG = "wrong code"
    EXPIRED = "expired"
    TOO_MANY = "too many wrong codes"
    NO_CODE = "no code was sent"


def code_digest(method_id: int, code: str) -> str:
    message = f"contact-method-verification:{method_id}:{code}".encode()
    return hmac.new(settings.SECRET_KEY.encode(), message, hashlib.sha256).hexdigest()


def new_code() -> str:
    return f"{secrets.randbelow(10 ** CODE_DIGITS):0{CODE_DIGITS}d}"


def seconds_until_resend(method: ContactMethod, now=None) -> int:
    """0 when a new code may be sent now; else how long to wait."""
    if method.verification_expires_at is None:
        return 0
    sent_at = method.verification_expires_at - CODE_LIFETIME
    wait = (sent_at + RESEND_AFTER - (now or timezone.now())).total_seconds()
    return max(0, int(wait + 0.999))


def _channel(method: ContactMethod) -> Channel | None:
    return channel_for(method.kind)


def do_send_verification_code(method_id: int, user) -> Outcome:
    """Write a fresh code's digest for the user's own unverified method, then send the code
    over it. A code sent less than a minute ago is not replaced (Failed says when)."""
    with transaction.atomic():
        method = ContactMethod.objects.select_for_update().get(pk=method_id, user=user)
        if method.verified:
            return Failed("this contact method is already verified")
        wait = seconds_until_resend(method)
        if wait:
            return Failed(f"a code was sent less than a minute ago; try again in {wait} s")
        code = new_code()
        method.verification_digest = code_digest(method.pk, code)
        method.verification_expires_at = timezone.now() + CODE_LIFETIME
        method.verification_attempts = 0
        method.save(update_fields=["verification_digest", "verification_expires_at", "verification_attempts"])
    channel = _channel(method)
    if channel is None:
        return Failed(f"unknown channel {method.kind!r}")
    minutes = int(CODE_LIFETIME.total_seconds() // 60)
    return channel.send_message(
        method,
        f"Vigil verification code: {code}",
        f"Your Vigil verification code is {code}.\n\nEnter it on your Profile page within {minutes} "
        f"minutes to start receiving pages here. If you did not ask for it, ignore this message.",
    )


def do_check_verification_code(method_id: int, user, code: str) -> Check:
    """Compare `code` with the pending one (constant time). Wrong codes are counted; after
    MAX_ATTEMPTS the code is dead and a new one must be sent."""
    code = "".join(code.split())
    with transaction.atomic():
        method = ContactMethod.objects.select_for_update().get(pk=method_id, user=user)
        if method.verified:
            return Check.ALREADY
        if not method.verification_digest or method.verification_expires_at is None:
            return Check.NO_CODE
        if method.verification_expires_at <= timezone.now():
            return Check.EXPIRED
        if method.verification_attempts >= MAX_ATTEMPTS:
            return Check.TOO_MANY
        if hmac.compare_digest(method.verification_digest, code_digest(method.pk, code)):
            method.verified = True
            method.verification_digest = ""
            method.verification_expires_at = None
            method.verification_attempts = 0
            method.save(update_fields=[
                "verified", "verification_digest", "verification_expires_at", "verification_attempts",
            ])
            return Check.VERIFIED
        method.verification_attempts += 1
        method.save(update_fields=["verification_attempts"])
        return Check.TOO_MANY if method.verification_attempts >= MAX_ATTEMPTS else Check.WRONG


def do_send_test_message(method: ContactMethod) -> Outcome:
    """'Send me a test page': one message over a verified method, its outcome shown to the
    person at once (not a Notification row: there is no incident, and no retry)."""
    if not method.verified:
        return Failed("verify this contact method first")
    channel = _channel(method)
    if channel is None:
        return Failed(f"unknown channel {method.kind!r}")
    return channel.send_message(
        method,
        "Vigil test page",
        f"This is a test page from Vigil to {method.address}. If you can read it, Vigil can "
        f"reach you here when you are on call.",
    )


def describe(outcome: Outcome) -> str:
    if isinstance(outcome, Delivered):
        return "delivered"
    return outcome.error
