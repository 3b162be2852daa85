"""The on-call app's parts of a person's Profile page: their time zone, their upcoming
shifts, and their REST API token. The page itself is `escalation.profile` (contact methods
and rules are escalation's); it asks `profile_context` for these.

The REST token is DRF's authtoken as it is today: one per person, stored as is. Issue 12
moves tokens to hashed, expiring ones; until then the token is shown once, here, and only
its first characters afterwards."""

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
from rest_framework.authtoken.models import Token

from oncall.models import UserProfile, time_zone_of
from oncall.schedule import upcoming_shifts

# The session remembers the viewer's zone, so the middleware reads it without a query.
TIME_ZONE_SESSION_KEY = "vigil_time_zone"
SHIFTS_AHEAD = timedelta(days=28)
TOKEN_PREFIX_LENGTH = 6


@cache
def time_zone_names() -> tuple[str, ...]:
    return tuple(sorted(zoneinfo.available_timezones()))


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
            {"prefix": token.key[:TOKEN_PREFIX_LENGTH], "created": token.created}
            for token in Token.objects.filter(user=user)
        ],
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
    """A new REST token, shown on this answer only. DRF keeps one per person, so a new one
    replaces the old (which stops working at once)."""
    replaced = Token.objects.filter(user=request.user).delete()[0] > 0
    token = Token.objects.create(user=request.user)
    return render(request, "oncall/token_created.html", {
        "section": "profile", "raw_token": token.key, "replaced": replaced,
    })


@login_required
@require_POST
def revoke_token(request):
    deleted = Token.objects.filter(user=request.user).delete()[0]
    if deleted:
        messages.success(request, "Your REST API token was revoked; it no longer works.")
    else:
        messages.info(request, "You had no REST API token.")
    return redirect("profile")
