"""The invitation link's pages (`/invitations/<token>/`): the invitee signs in, or signs up
with the invited address, and presses Accept (a POST with the CSRF token); only that makes
them a member. A wrong account, an unknown, expired, used or revoked link each get a page
that says so, with a 4xx status. The token is a credential: it is in no log line
(config/redaction.py)."""

from __future__ import annotations

from django import forms
from django.contrib.auth import get_user_model, login
from django.contrib.auth.forms import UserCreationForm
from django.db import transaction
from django.shortcuts import redirect, render
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_POST

from oncall import invitations
from oncall.invitations import InvitationRefused
from oncall.models import TeamInvitation


class SignUpForm(UserCreationForm):
    """User name, name and password; the email address is the invitation's."""

    first_name = forms.CharField(max_length=150, required=False, label="Your name")

    class Meta(UserCreationForm.Meta):
        model = get_user_model()
        fields = ("username", "first_name")

    def __init__(self, *args, email: str, **kwargs):
        super().__init__(*args, **kwargs)
        # Before validation: the password validators compare the password with the email.
        self.instance.email = email


def account_exists(email: str) -> bool:
    return get_user_model().objects.filter(email__iexact=email, is_active=True).exists()


def refused(request, refusal: InvitationRefused):
    return render(request, "oncall/invitation_refused.html",
                  {"title": refusal.title, "reason": refusal.reason}, status=refusal.status)


def open_invitation(token: str) -> TeamInvitation:
    invitation = invitations.find_invitation(token)
    invitations.check_open(invitation)
    return invitation


@never_cache
@require_GET
def invitation_page(request, token: str):
    try:
        invitation = open_invitation(token)
        if request.user.is_authenticated:
            invitations.check_invitee(invitation, request.user)
    except InvitationRefused as refusal:
        return refused(request, refusal)
    context = {"invitation": invitation, "token": token}
    if request.user.is_authenticated:
        return render(request, "oncall/invitation_confirm.html", context)
    # Only the holder of the mailed link sees whether the address has an account.
    has_account = account_exists(invitation.email)
    context |= {"has_account": has_account,
                "signup_form": None if has_account else SignUpForm(email=invitation.email)}
    return render(request, "oncall/invitation_signin.html", context)


@never_cache
@require_POST
def invitation_signup(request, token: str):
    """A new account with the invited address; then the same confirm page (nothing joined yet)."""
    try:
        invitation = open_invitation(token)
    except InvitationRefused as refusal:
        return refused(request, refusal)
    if request.user.is_authenticated or account_exists(invitation.email):
        return redirect("team-invitation", token=token)
    form = SignUpForm(request.POST, email=invitation.email)
    if not form.is_valid():
        return render(request, "oncall/invitation_signin.html", {
            "invitation": invitation, "token": token, "has_account": False, "signup_form": form,
        }, status=400)
    with transaction.atomic():
        user = form.save()
    login(request, user, backend="django.contrib.auth.backends.ModelBackend")
    return redirect("team-invitation", token=token)


@never_cache
@require_POST
def invitation_accept(request, token: str):
    if not request.user.is_authenticated:
        return redirect("team-invitation", token=token)
    try:
        invitation, joined = invitations.do_accept(token, request.user)
    except InvitationRefused as refusal:
        return refused(request, refusal)
    return render(request, "oncall/invitation_accepted.html", {"invitation": invitation, "joined": joined})
