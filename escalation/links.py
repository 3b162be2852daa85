"""One-click Acknowledge and Resolve links for emails and webhooks.

A link is a `TimestampSigner` token (salt "ack-link") over the incident, the user, the
action and a *status version*: a hash of the incident fields that the action changes, in
the manner of Django's PasswordResetTokenGenerator. Once the action has happened, the
version no longer matches and the link is dead. Expiry uses the signer's own clock on the
web server, the only clock that checks it (RELIABILITY T23)."""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass

from django.conf import settings
from django.core import signing
from django.utils.crypto import salted_hmac

from incidents.models import TimelineEntry
from oncall.models import TeamMembership

SALT = "ack-link"
ACTIONS = ("acknowledge", "resolve")


class LinkInvalid(Exception):
    """Tampered, truncated, or not a link of ours."""


class LinkExpired(Exception):
    """Correctly signed, but older than ACK_LINK_MAX_AGE_SECONDS."""


@dataclass(frozen=True)
class LinkClaim:
    incident_id: int
    user_id: int
    action: str
    version: str


def status_version(incident, action: str) -> str:
    """Changes when `action` has been done (or undone) on the incident."""
    if action == "acknowledge":
        parts = [incident.status, incident.acknowledged_at, incident.resolved_at]
    else:
        parts = [incident.resolved_at]
    raw = "|".join("" if p is None else str(p.isoformat() if hasattr(p, "isoformat") else p) for p in parts)
    return hashlib.sha256(raw.encode("utf-8")).hexdigest()[:16]


def _signer() -> signing.TimestampSigner:
    return signing.TimestampSigner(salt=SALT)


def make_token(incident, user, action: str) -> str:
    if action not in ACTIONS:
        raise ValueError(f"unknown link action {action!r}")
    payload = {"i": incident.pk, "u": user.pk, "a": action, "v": status_version(incident, action)}
    return _signer().sign_object(payload, compress=False)


def make_url(incident, user, action: str) -> str:
    return f"{settings.SITE_URL}/ack/{make_token(incident, user, action)}/"


def form_proof(token: str) -> str:
    """The confirm page's hidden field: bound to this one token by the server's secret, so
    the POST that acts must come from the page Vigil rendered for the link. It replaces
    Django's CSRF check, which leans on Origin/Referer and fails for a page sent with
    `Referrer-Policy: no-referrer` (Chromium then posts `Origin: null`)."""
    return salted_hmac("vigil.ack-link.form", token, algorithm="sha256").hexdigest()


def proof_matches(token: str, presented: str) -> bool:
    # Bytes: compare_digest refuses str with non-ASCII characters (a 500 on a forged field).
    return hmac.compare_digest(form_proof(token).encode(), (presented or "").encode("utf-8", "replace"))


def refusal(user, incident) -> str:
    """Why this link's person may no longer act on the incident ('' if they may): checked
    when the button is pressed, not only when the link was made."""
    if not user.is_active:
        return f"The account {user.get_username()} is deactivated, so this link no longer acts."
    if user.is_superuser or incident.team_id is None:
        return ""
    if not TeamMembership.objects.filter(user=user, team_id=incident.team_id).exists():
        return (f"{user.get_username()} is no longer a member of the team of incident #{incident.pk}, "
                f"so this link no longer acts for them.")
    return ""


def record_refusal(incident, user, message: str, **data) -> None:
    """An attempt to act on `incident` from outside the portal (a link, a text reply, a
    keypress, a chat button, a push action) that was refused: on the incident's timeline,
    so whoever owns the incident sees that someone tried and why it did not count."""
    TimelineEntry.objects.create(
        incident=incident, kind=TimelineEntry.Kind.REFUSED, message=message,
        data={"refused": True, "user_id": user.pk if user is not None else None, **data},
    )


def read_token(token: str) -> LinkClaim:
    max_age = settings.ACK_LINK_MAX_AGE_SECONDS
    try:
        payload = _signer().unsign_object(token, max_age=max_age)
    except signing.SignatureExpired:
        raise LinkExpired() from None
    except (signing.BadSignature, ValueError, TypeError, UnicodeDecodeError):
        raise LinkInvalid() from None
    try:
        claim = LinkClaim(int(payload["i"]), int(payload["u"]), str(payload["a"]), str(payload["v"]))
    except (KeyError, TypeError, ValueError):
        raise LinkInvalid() from None
    if claim.action not in ACTIONS:
        raise LinkInvalid()
    return claim
