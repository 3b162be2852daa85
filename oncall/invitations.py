"""Team invitations: how a person joins a team without a superuser.

A team admin invites an email address (`do_invite`); the address gets a link carrying a
random token, of which only the SHA-256 digest is stored. Whoever signs in (or signs up)
with that address and presses Accept on the link's page becomes a member
(`do_accept`). Every answer to the inviting admin is the same whether an account with that
address exists or not: the mail is sent either way (to a stranger it offers a sign-up).

`check_*` raise `InvitationRefused` with the status and words for the page; `do_*` write."""

from __future__ import annotations

import hashlib
import logging
import secrets
import smtplib
from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings
from django.core.mail import EmailMultiAlternatives, get_connection
from django.db import transaction
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone

from oncall.models import Team, TeamInvitation, TeamMembership

logger = logging.getLogger(__name__)

# Pending invitations per team: enough for any onboarding, not a mail cannon.
MAX_PENDING_PER_TEAM = 100


@dataclass
class InvitationRefused(Exception):
    status: int
    title: str
    reason: str


def token_digest(raw: str) -> str:
    return hashlib.sha256(raw.encode("utf-8")).hexdigest()


def normalize_email(email: str) -> str:
    return email.strip().lower()


def invitation_url(raw: str) -> str:
    return settings.SITE_URL + reverse("team-invitation", args=[raw])


def check_can_invite(team: Team) -> None:
    if TeamInvitation.objects.filter(team=team).pending().count() >= MAX_PENDING_PER_TEAM:
        raise InvitationRefused(400, "Too many invitations",
                                f"At most {MAX_PENDING_PER_TEAM} pending invitations per team: revoke some first.")


def do_invite(team: Team, email: str, role: str, invited_by) -> tuple[TeamInvitation, str]:
    """A new invitation and its raw token (for the mail only). Does not send."""
    raw = secrets.token_urlsafe(32)
    invitation = TeamInvitation.objects.create(
        team=team, email=normalize_email(email), role=role, invited_by=invited_by,
        token_digest=token_digest(raw),
        expires_at=timezone.now() + timedelta(days=settings.TEAM_INVITATION_DAYS),
    )
    return invitation, raw


def do_renew_token(invitation: TeamInvitation) -> str:
    """A new link for a pending invitation (the old one stops working), for a resend."""
    raw = secrets.token_urlsafe(32)
    invitation.token_digest = token_digest(raw)
    invitation.expires_at = timezone.now() + timedelta(days=settings.TEAM_INVITATION_DAYS)
    invitation.send_error = ""
    invitation.save(update_fields=["token_digest", "expires_at", "send_error"])
    return raw


def send_invitation(invitation: TeamInvitation, raw: str) -> bool:
    """Mail the link; call after commit (no SMTP under a transaction). A failure is kept on
    the row for the admins to see, never raised: the answer must not depend on the mailbox."""
    context = {
        "team": invitation.team, "role": invitation.get_role_display(),
        "invited_by": invitation.invited_by.get_username() if invitation.invited_by else "An administrator",
        "url": invitation_url(raw), "expires_at": invitation.expires_at, "site_url": settings.SITE_URL,
    }
    message = EmailMultiAlternatives(
        subject=" ".join(render_to_string("emails/invitation_subject.txt", context).split()),
        body=render_to_string("emails/invitation_body.txt", context),
        from_email=settings.DEFAULT_FROM_EMAIL, to=[invitation.email],
        headers={"Auto-Submitted": "auto-generated"},
    )
    message.attach_alternative(render_to_string("emails/invitation_body.html", context), "text/html")
    try:
        message.connection = get_connection(timeout=settings.EMAIL_TIMEOUT)
        message.send(fail_silently=False)
    except (smtplib.SMTPException, OSError) as exc:
        error = f"{type(exc).__name__}: {exc}"[:300]
        logger.warning("invitation %s to team %s: mail not sent: %s", invitation.pk, invitation.team_id, error)
        TeamInvitation.objects.filter(pk=invitation.pk).update(send_error=error)
        return False
    return True


def find_invitation(raw: str) -> TeamInvitation:
    invitation = (
        TeamInvitation.objects.select_related("team").filter(token_digest=token_digest(raw)).first()
        if raw else None
    )
    if invitation is None:
        raise InvitationRefused(404, "Unknown invitation",
                                "This invitation link is not valid. Ask your team admin for a new one.")
    return invitation


def check_open(invitation: TeamInvitation) -> None:
    if invitation.revoked_at is not None:
        raise InvitationRefused(410, "Invitation revoked",
                                "This invitation was revoked by a team admin. Ask them for a new one.")
    if invitation.accepted_at is not None:
        raise InvitationRefused(410, "Invitation already used",
                                "This invitation was already accepted. Sign in to Vigil to see your teams.")
    if invitation.expires_at <= timezone.now():
        raise InvitationRefused(410, "Invitation expired",
                                "This invitation has expired. Ask your team admin for a new one.")


def email_matches(invitation: TeamInvitation, user) -> bool:
    return bool(user.email) and normalize_email(user.email) == invitation.email


def check_invitee(invitation: TeamInvitation, user) -> None:
    if not user.is_active or not email_matches(invitation, user):
        raise InvitationRefused(
            403, "Not your invitation",
            f"You are signed in as {user.get_username()}, whose email address is not the one this "
            "invitation was sent to. Sign out and sign in with the account for the invited address.",
        )


@transaction.atomic
def do_accept(raw: str, user) -> tuple[TeamInvitation, bool]:
    """Join the team; (invitation, joined). Locks the invitation row, so a double press
    accepts once. Someone already in the team keeps their role."""
    invitation = find_invitation(raw)
    invitation = TeamInvitation.objects.select_for_update().select_related("team").get(pk=invitation.pk)
    check_open(invitation)
    check_invitee(invitation, user)
    _, joined = TeamMembership.objects.get_or_create(
        team=invitation.team, user=user, defaults={"role": invitation.role}
    )
    invitation.accepted_at = timezone.now()
    invitation.accepted_by = user
    invitation.save(update_fields=["accepted_at", "accepted_by"])
    return invitation, joined


def do_revoke(team: Team, invitation_id: int) -> bool:
    return TeamInvitation.objects.filter(team=team, pk=invitation_id).pending().update(
        revoked_at=timezone.now()
    ) > 0
