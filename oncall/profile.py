"""The on-call app's parts of a person's Profile page: their time zone, their upcoming
shifts, and their REST API token. The page itself is `escalation.profile` (contact methods
and rules are escalation's); it asks `profile_context` for these.

REST tokens (`oncall.tokens`): one per device or script, each named and with an expiry,
stored as a digest; a new token is shown once, on the answer that creates it, and
afterwards by its name and first characters."""

from __future__ import annotations

import zoneinfo
from datetime import datetime, timedelta
from functools import cache

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.shortcuts import redirect, render
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_POST

from oncall import tokens
from oncall.models import UserProfile, time_zone_of
from oncall.schedule import upcoming_shifts

# The session remembers the viewer's zone, so the middleware reads it without a query.
TIME_ZONE_SESSION_KEY = "vigil_time_zone"
SHIFTS_AHEAD = timedelta(days=28)
# The expiries the Profile page offers; a token that never expires is the command's only.
TOKEN_EXPIRY_DAYS = (7, 30, 90, 365)


@cache
def time_zone_names() -> tuple[str, ...]:
    return tuple(sorted(zoneinfo.available_timezones()))


class TokenForm(forms.Form):
    name = forms.CharField(max_length=100, label="Device or script", help_text="e.g. laptop, backup cron")
    expires_in_days = forms.TypedChoiceField(coerce=int, label="Expires after")

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        days = sorted({*TOKEN_EXPIRY_DAYS, tokens.default_ttl_days()})
        self.fields["expires_in_days"].choices = [(d, f"{d} days") for d in days]
        self.fields["expires_in_days"].initial = tokens.default_ttl_days()


class TimeZoneForm(forms.Form):
    time_zone = forms.ChoiceField(label="Time zone")

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["time_zone"].choices = [(name, name) for name in time_zone_names()]


def remember_time_zone(request, user) -> str:
    """Store the person's zone in their session (the middleware reads it from there)."""
    zone = time_zone_of(user)
    request.session[TIME_ZONE_SESSION_KEY] = zone
    return zone


def my_shifts(user, now: datetime, ahead: timedelta = SHIFTS_AHEAD) -> list[dict]:
    """The user's shifts from now on, the current one first; a shift cut by the window's
    end has an unknown end (shown as open-ended)."""
    return [
        {"schedule": schedule, "start": shift.start, "end": shift.end,
         "now": shift.start <= now, "end_known": shift.end < now + ahead}
        for schedule, shift in upcoming_shifts(user, now, now + ahead)
    ]


def profile_context(user, now: datetime) -> dict:
    zone = time_zone_of(user)
    return {
        "time_zone": zone,
        "time_zone_form": TimeZoneForm(initial={"time_zone": zone}),
        "my_shifts": my_shifts(user, now),
        "shifts_ahead_days": SHIFTS_AHEAD.days,
        "tokens": [
            {"id": token.pk, "name": token.name, "prefix": tokens.shown_prefix(token),
             "created": token.created, "expiry": token.expiry}
            for token in tokens.live_tokens(user)
        ],
        "token_form": TokenForm(),
    }


@login_required
@require_POST
def set_time_zone(request):
    form = TimeZoneForm(request.POST)
    if not form.is_valid():
        messages.error(request, "Choose a time zone from the list.")
        return redirect("profile")
    zone = form.cleaned_data["time_zone"]
    UserProfile.objects.update_or_create(user=request.user, defaults={"time_zone": zone})
    request.session[TIME_ZONE_SESSION_KEY] = zone
    messages.success(request, f"Times are now shown in {zone}.")
    return redirect("profile")


@never_cache
@login_required
@require_POST
def create_token(request):
    """A new token for one device or script, shown on this answer only. Other tokens keep
    working."""
    form = TokenForm(request.POST)
    if not form.is_valid():
        messages.error(request, "Name the device or script and pick an expiry from the list.")
        return redirect("profile")
    try:
        token, raw = tokens.create_token(request.user, form.cleaned_data["name"],
                                         ttl_days=form.cleaned_data["expires_in_days"])
    except tokens.TokenRefused as refused:
        messages.error(request, str(refused))
        return redirect("profile")
    return render(request, "oncall/token_created.html", {
        "section": "profile", "raw_token": raw, "token": token,
    })


@login_required
@require_POST
def revoke_token(request, pk: int):
    if tokens.revoke_token(request.user, pk):
        messages.success(request, "The token was revoked; it no longer works.")
    else:
        messages.info(request, "No such token of yours.")
    return redirect("profile")
