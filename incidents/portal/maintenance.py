"""The portal's Maintenance page: windows in progress, upcoming and recently ended, and the
maintenance notes on the incident pages (the list's banner, the detail page's hold note).

Who sees what: members see their teams' windows and their teams' keys' windows, everyone
sees the windows that cover everything, superusers see all. Who changes what: a team's
admins schedule, end early and cancel the windows of their team and its keys; only
superusers touch windows that cover everything. A window the user cannot see is a 404;
one they see but may not change is a 403 (it tells them nothing new). Ending a window
goes through `incidents.noise.maintenance.end_window_now`, the same release the periodic
task runs, so held incidents start escalating at once."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import Count, Q
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.views.decorators.http import require_GET, require_POST

from incidents.models import Incident, MaintenanceWindow
from incidents.noise import maintenance
from integrations.models import IntegrationKey
from oncall.models import Team
from oncall.permissions import teams_administered_by

# What the page loads, whatever the history: a fixed number of queries, each capped.
ACTIVE_MAX = 100
UPCOMING_MAX = 50
RECENT_MAX = 20
RECENT_DAYS = 30
# A forgotten window silently mutes paging: a month is the longest one can be scheduled.
LONGEST_WINDOW = timedelta(days=31)
BANNER_MAX = 3
DURATIONS = [(30, "30 minutes"), (60, "1 hour"), (120, "2 hours"), (240, "4 hours"),
             (480, "8 hours"), (1440, "24 hours")]
# <input type="datetime-local">'s value, read in the viewer's time zone (their profile's;
# the middleware activates it), which the labels name.
INPUT_FORMAT = "%Y-%m-%dT%H:%M"
EVERYTHING = "everything"


def utc(value: datetime) -> str:
    return f"{value.astimezone(UTC):%Y-%m-%d %H:%M} UTC"


def visible_windows(user):
    windows = MaintenanceWindow.objects.all()
    if not user.is_authenticated:
        return windows.none()
    if user.is_superuser:
        return windows
    # Subqueries rather than joins through memberships: no duplicate rows, no DISTINCT.
    my_teams = Team.objects.for_user(user).values("pk")
    return windows.filter(
        Q(team_id__in=my_teams)
        | Q(integration_key__team_id__in=my_teams)
        | Q(team__isnull=True, integration_key__isnull=True)
    )


def _with_scope(windows):
    return windows.select_related("team", "integration_key__team", "created_by")


def owning_team_id(window: MaintenanceWindow) -> int | None:
    """The team whose admins manage the window (None: an everything window, superusers only).
    Needs `integration_key` loaded for a key's window."""
    if window.integration_key_id is not None:
        return window.integration_key.team_id
    return window.team_id


def scope_label(window: MaintenanceWindow) -> str:
    if window.integration_key_id is not None:
        key = window.integration_key
        team = f", {key.team.name}" if key.team_id else ""
        return f"Key {key.name} ({key.key_prefix}…{team})"
    if window.team_id is not None:
        return f"Team {window.team.name}"
    return "Everything"


def _held_counts(user, windows: list[MaintenanceWindow]) -> None:
    """Sets `held` on each active window: the open incidents of the user's teams whose paging
    is held by maintenance and that the window covers. One grouped query over the partial
    index of held incidents, however many windows and incidents."""
    if not windows:
        return
    groups = list(
        Incident.objects.visible_to(user)
        .open()
        .exclude(escalation_held_reason="")
        .filter(escalation_held_reason__startswith=maintenance.HOLD_PREFIX)
        .values("integration_key_id", "team_id")
        .annotate(n=Count("id"))
        .order_by()
    )
    for window in windows:
        window.held = sum(
            g["n"] for g in groups if maintenance.window_covers(window, g["integration_key_id"], g["team_id"])
        )


# --- the form ------------------------------------------------------------------------------


class NewWindowForm(forms.Form):
    scope = forms.ChoiceField(help_text="Whose pages are held: one integration key, a team, or everything.")
    start = forms.DateTimeField(
        label="Start (UTC)",
        required=False,
        input_formats=[INPUT_FORMAT, "%Y-%m-%d %H:%M", "%Y-%m-%d %H:%M:%S"],
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}, format=INPUT_FORMAT),
        help_text="Empty: now.",
    )
    end = forms.DateTimeField(
        label="End (UTC)",
        required=False,
        input_formats=[INPUT_FORMAT, "%Y-%m-%d %H:%M", "%Y-%m-%d %H:%M:%S"],
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}, format=INPUT_FORMAT),
        help_text="Empty: the duration below, from the start.",
    )
    duration = forms.TypedChoiceField(
        choices=[("", "None: use the end")] + DURATIONS, coerce=int, required=False, empty_value=None,
        initial=60,
    )
    reason = forms.CharField(
        max_length=500, help_text="Shown on the held incidents and on this page, e.g. “Database upgrade”."
    )

    def __init__(self, user, admin_teams: list[Team], *args, now: datetime, **kwargs):
        super().__init__(*args, **kwargs)
        self.now = now
        zone = timezone.get_current_timezone_name()
        self.fields["start"].label = f"Start ({zone})"
        self.fields["end"].label = f"End ({zone})"
        self.fields["start"].initial = now.replace(second=0, microsecond=0)
        self._teams = {team.pk: team for team in admin_teams}
        keys = IntegrationKey.objects.active().select_related("team").order_by("team__name", "name", "id")
        if not user.is_superuser:
            keys = keys.filter(team_id__in=list(self._teams))  # no teams: no query at all
        self._keys = {key.pk: key for key in keys}
        choices = [(EVERYTHING, "Everything: every team and key")] if user.is_superuser else []
        if self._teams:
            choices.append(("Teams", [(f"team:{t.pk}", t.name) for t in admin_teams]))
        if self._keys:
            choices.append(("Integration keys", [
                (f"key:{k.pk}", f"{k.name} ({k.key_prefix}…{', ' + k.team.name if k.team_id else ''})")
                for k in self._keys.values()
            ]))
        self.fields["scope"].choices = choices

    def clean_scope(self) -> tuple[Team | None, IntegrationKey | None]:
        # ChoiceField already refused anything not offered: another team, a revoked key.
        kind, _, raw_id = self.cleaned_data["scope"].partition(":")
        if kind == "team":
            return self._teams[int(raw_id)], None
        if kind == "key":
            return None, self._keys[int(raw_id)]
        return None, None

    def clean(self):
        data = super().clean()
        if self.errors.get("start") or self.errors.get("end"):
            return data
        start = data.get("start") or self.now
        end = data.get("end")
        if end is None and data.get("duration"):
            end = start + timedelta(minutes=data["duration"])
        if end is None:
            self.add_error("end", "Give an end time or choose a duration.")
        elif end <= start:
            self.add_error("end", "A maintenance window must end after it starts.")
        elif end <= self.now:
            self.add_error("end", "This window would already be over: choose an end in the future.")
        elif end - start > LONGEST_WINDOW:
            self.add_error("end", f"A window can last at most {LONGEST_WINDOW.days} days.")
        data["start"], data["end"] = start, end
        return data


# --- the page and its actions ----------------------------------------------------------------


def _page_context(user, now: datetime, form: NewWindowForm | None = None) -> dict:
    windows = _with_scope(visible_windows(user))
    active = list(windows.filter(start__lte=now, end__gt=now).order_by("end", "id")[:ACTIVE_MAX])
    upcoming = list(windows.filter(start__gt=now).order_by("start", "id")[:UPCOMING_MAX])
    recent = list(
        windows.filter(end__lte=now, end__gt=now - timedelta(days=RECENT_DAYS)).order_by("-end", "-id")[
            :RECENT_MAX
        ]
    )
    _held_counts(user, active)
    admin_teams = list(teams_administered_by(user).order_by("name"))
    admin_team_ids = {team.pk for team in admin_teams}
    for window in active + upcoming + recent:
        window.scope_label = scope_label(window)
        window.can_manage = user.is_superuser or owning_team_id(window) in admin_team_ids
    can_create = user.is_superuser or bool(admin_teams)
    if form is None and can_create:
        form = NewWindowForm(user, admin_teams, now=now)
    return {
        "section": "maintenance",
        "time_zone_name": timezone.get_current_timezone_name(),
        "active": active,
        "upcoming": upcoming,
        "recent": recent,
        "recent_days": RECENT_DAYS,
        "can_create": can_create,
        "form": form,
    }


def _window_or_404(user, pk: int) -> MaintenanceWindow:
    return get_object_or_404(_with_scope(visible_windows(user)), pk=pk)


def _require_admin(user, window: MaintenanceWindow) -> None:
    if user.is_superuser:
        return
    team_id = owning_team_id(window)
    if team_id is None or not teams_administered_by(user).filter(pk=team_id).exists():
        raise PermissionDenied("Only admins of this window's team can change it.")


@login_required
@require_GET
def maintenance_page(request):
    return render(request, "incidents/maintenance.html", _page_context(request.user, timezone.now()))


@login_required
@require_POST
def create_window(request):
    now = timezone.now()
    admin_teams = list(teams_administered_by(request.user).order_by("name"))
    if not (request.user.is_superuser or admin_teams):
        raise PermissionDenied("Only team admins schedule maintenance windows.")
    form = NewWindowForm(request.user, admin_teams, request.POST, now=now)
    if form.is_valid():
        team, key = form.cleaned_data["scope"]
        window = MaintenanceWindow(
            team=team, integration_key=key, start=form.cleaned_data["start"], end=form.cleaned_data["end"],
            reason=form.cleaned_data["reason"], created_by=request.user,
        )
        try:
            window.full_clean()  # the model's own rules, whatever the form checked
        except ValidationError as error:
            form.add_error(None, error)
        else:
            window.save()
            when = "now" if window.start <= now else f"from {utc(window.start)}"
            messages.success(
                request, f"Maintenance scheduled for {scope_label(window)}: pages are held {when} "
                         f"until {utc(window.end)}.",
            )
            return redirect("maintenance")
    return render(request, "incidents/maintenance.html", _page_context(request.user, now, form), status=400)


@login_required
@require_POST
def end_window(request, pk: int):
    window = _window_or_404(request.user, pk)
    _require_admin(request.user, window)
    released = maintenance.end_window_now(window.pk, by=request.user)
    if released is None:
        messages.info(request, "Nothing changed: this window is not in progress.")
    else:
        messages.success(
            request, f"Maintenance ended: {released} held incident{'s' if released != 1 else ''} released; "
                     "triggered ones start escalating now.",
        )
    return redirect("maintenance")


@login_required
@require_POST
def cancel_window(request, pk: int):
    """An upcoming window is deleted: it has held nothing yet, so there is nothing to keep."""
    window = _window_or_404(request.user, pk)
    _require_admin(request.user, window)
    deleted, _ = MaintenanceWindow.objects.filter(pk=window.pk, start__gt=timezone.now()).delete()
    if deleted:
        messages.success(request, f"Upcoming maintenance “{window.reason}” cancelled.")
    else:
        messages.info(request, "Nothing changed: this window has already started; end it instead.")
    return redirect("maintenance")


# --- notes on the incident pages -------------------------------------------------------------


@dataclass
class MaintenanceBanner:
    windows: list[MaintenanceWindow]
    more: bool  # more windows are in progress than the banner shows


def maintenance_banner(user, now: datetime | None = None) -> MaintenanceBanner | None:
    """The windows in progress over the user's teams and keys (and everything), soonest end
    first, at most BANNER_MAX. One query."""
    now = now or timezone.now()
    windows = list(
        _with_scope(visible_windows(user)).filter(start__lte=now, end__gt=now).order_by("end", "id")[
            : BANNER_MAX + 1
        ]
    )
    if not windows:
        return None
    for window in windows:
        window.scope_label = scope_label(window)
    return MaintenanceBanner(windows=windows[:BANNER_MAX], more=len(windows) > BANNER_MAX)


@dataclass
class MaintenanceHold:
    reason: str
    until: datetime | None  # None: its window has ended; the release task is about to run


def maintenance_hold(incident: Incident, now: datetime | None = None) -> MaintenanceHold | None:
    """Why and until when an open incident's paging is held by maintenance. One query, and
    only for a held incident."""
    if not maintenance.held_by_maintenance(incident):
        return None
    now = now or timezone.now()
    window = (
        maintenance.active_windows(now)
        .filter(maintenance.covering(incident.integration_key_id, incident.team_id))
        .order_by("-end", "id")
        .only("end")
        .first()
    )
    reason = incident.escalation_held_reason.removeprefix(maintenance.HOLD_PREFIX)
    return MaintenanceHold(reason=reason, until=window.end if window else None)
