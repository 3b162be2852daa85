"""The portal's schedule pages: a schedule's timeline (every member), and on the same page
its rotations and overrides (its team's admins only; a responder gets 403 on every edit,
and anyone outside the team a 404 on everything).

The timeline is `oncall.timeline.draw` over `oncall.schedule`'s specs, the same math that
answers `/api/v1/oncall/`. Saving a rotation goes through the REST API's `_save_rotation`
(an edit keeps whoever is on call now on call), and so does the preview: it saves inside a
transaction that is rolled back, so what is previewed is exactly what saving would do."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.http import Http404, HttpResponseBadRequest
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_GET, require_POST

from oncall.api import _save_rotation as save_rotation
from oncall.models import Rotation, Schedule, ScheduleOverride, SwapRequest
from oncall.permissions import is_team_admin, teams_administered_by, visible_to_members
from oncall.profile import time_zone_names
from oncall.schedule import spec_of
from oncall.schedule_forms import (
    OverrideForm,
    RotationForm,
    ScheduleForm,
    SwapForm,
    participants_from,
    team_members,
)
from oncall.timeline import WEEK_CHOICES, draw, window

ROTATION_FORM_FIELDS = ("name", "order", "shift_kind", "shift_hours", "handoff_time", "start",
                        "restrict_start", "restrict_end")


class BadWindow(ValueError):
    pass


# --- access ------------------------------------------------------------------------------


def visible_schedule(user, pk: int) -> Schedule:
    """The schedule if it is one of the user's teams' (404 otherwise: no hint it exists)."""
    return get_object_or_404(visible_to_members(Schedule.objects.select_related("team"), user), pk=pk)


def editable_schedule(user, pk: int) -> Schedule:
    schedule = visible_schedule(user, pk)
    if not is_team_admin(user, schedule.team):
        raise PermissionDenied("Only admins of this schedule's team can change it.")
    return schedule


def viewer_zone() -> ZoneInfo:
    zone = timezone.get_current_timezone()
    return zone if isinstance(zone, ZoneInfo) else ZoneInfo(str(zone))


def requested_window(params, zone: ZoneInfo) -> tuple[int, date]:
    raw_weeks = params.get("weeks", "1")
    if raw_weeks not in {str(w) for w in WEEK_CHOICES}:
        raise BadWindow("weeks: 1, 2 or 4.")
    raw_from = params.get("from")
    if raw_from:
        try:
            first_day = date.fromisoformat(raw_from)
        except ValueError:
            raise BadWindow("from: a date as YYYY-MM-DD.") from None
    else:
        first_day = timezone.now().astimezone(zone).date()
    return int(raw_weeks), first_day


# --- the page ----------------------------------------------------------------------------


def timeline_context(schedule: Schedule, weeks: int, first_day: date, *, preview: bool = False) -> dict:
    """Everything the timeline partial and the rotation and override lists show, in five
    queries whatever the schedule's size: rotations, their participants, those people,
    the overrides in the window with theirs."""
    zone = viewer_zone()
    start, end = window(first_day, weeks, zone)
    rotations = list(schedule.rotations.prefetch_related("participants__user"))
    overrides = list(schedule.overrides.filter(end__gt=start, start__lt=end).select_related("user")
                     .order_by("start"))
    spec = spec_of(schedule, rotations, overrides)
    labels = {r.pk: f"{r.name or 'Rotation'} (layer {r.order})" for r in rotations}
    people = {p.user_id: p.user for r in rotations for p in r.participants.all()}
    people.update({o.user_id: o.user for o in overrides})
    drawing = draw(spec, start, end, zone, people, labels, overrides, timezone.now())
    step = timedelta(weeks=weeks)
    return {
        "drawing": drawing, "weeks": weeks, "week_choices": WEEK_CHOICES, "first_day": first_day,
        "earlier": first_day - step, "later": first_day + step, "preview": preview,
        "schedule_zone": ZoneInfo(schedule.time_zone), "viewer_zone": zone, "rotations": rotations,
        "overrides_in_window": [(o, o.user) for o in overrides],
    }


def rotation_form_for(schedule: Schedule, rotation: Rotation | None, members, data=None,
                      initial: dict | None = None, participants: list[int] | None = None,
                      next_order: int = 0) -> RotationForm:
    zone = ZoneInfo(schedule.time_zone)
    if rotation is not None and data is None and initial is None:
        initial = {
            "name": rotation.name, "order": rotation.order, "shift_kind": rotation.shift_kind,
            "shift_hours": rotation.shift_hours, "handoff_time": rotation.handoff_time, "start": rotation.start,
            "restrict_weekdays": rotation.restrict_weekdays, "restrict_start": rotation.restrict_start_time,
            "restrict_end": rotation.restrict_end_time,
        }
        participants = [p.user_id for p in rotation.participants.all()]
    if rotation is None and data is None and initial is None:
        start = datetime.combine(timezone.now().astimezone(zone).date(), datetime.min.time()).replace(hour=9)
        initial = {"order": next_order, "shift_kind": Rotation.ShiftKind.WEEKLY,
                   "handoff_time": "09:00", "start": start.replace(tzinfo=zone)}
    if participants is None:
        participants = participants_from(data) if data is not None else []
    return RotationForm(data, initial=initial, zone=zone, members=members, participants=participants)


def render_schedule(request, schedule: Schedule, *, status: int = 200, **given) -> object:
    zone = viewer_zone()
    try:
        weeks, first_day = requested_window(request.GET, zone)
    except BadWindow as problem:
        return HttpResponseBadRequest(str(problem))
    admin = is_team_admin(request.user, schedule.team)
    context = {
        "section": "oncall", "schedule": schedule, "is_admin": admin,
        **timeline_context(schedule, weeks, first_day),
        "swaps": list(schedule.swap_requests.filter(status=SwapRequest.Status.PENDING)
                      .select_related("requester", "other")),
        "zone_names": time_zone_names(),
    }
    members = list(team_members(schedule.team))
    context["members"] = members
    context["swap_form"] = given.get("swap_form") or SwapForm(
        prefix="swap", zone=ZoneInfo(schedule.time_zone), members=members, requester=request.user)
    if admin:
        editing = given.get("editing")
        if editing is None and request.GET.get("edit"):
            editing = request.GET["edit"]
        context["editing"] = editing
        if "rotation_form" in given:
            context["rotation_form"] = given["rotation_form"]
        elif editing == "new":
            layers = [r.order for r in context["rotations"]]
            context["rotation_form"] = rotation_form_for(schedule, None, members,
                                                         next_order=max(layers) + 1 if layers else 0)
        elif editing:
            rotation = next((r for r in context["rotations"] if str(r.pk) == str(editing)), None)
            if rotation is None:
                raise Http404("No such rotation in this schedule.")
            context["rotation_form"] = rotation_form_for(schedule, rotation, members)
        context["override_form"] = given.get("override_form") or OverrideForm(
            prefix="override", zone=ZoneInfo(schedule.time_zone), members=members)
        context["settings_form"] = given.get("settings_form") or ScheduleForm(
            prefix="settings",
            teams=list(teams_administered_by(request.user)),
            initial={"name": schedule.name, "team": schedule.team_id, "time_zone": schedule.time_zone,
                     "description": schedule.description},
        )
    elif request.GET.get("edit"):
        raise PermissionDenied("Only admins of this schedule's team can change it.")
    if "rotation_form" in context:
        context["participant_people"] = _participant_people(context["rotation_form"], members)
    return render(request, "oncall/schedule_detail.html", context, status=status)


def _participant_people(form: RotationForm, members) -> list:
    by_id = {u.pk: u for u in members}
    return [by_id[pk] for pk in form.participants if pk in by_id]


@login_required
@require_GET
def schedule_list(request):
    schedules = (visible_to_members(Schedule.objects.select_related("team"), request.user)
                 .order_by("team__name", "name"))
    teams = teams_administered_by(request.user)
    waiting = SwapRequest.objects.filter(other=request.user, status=SwapRequest.Status.PENDING).count()
    return render(request, "oncall/schedule_list.html", {
        "section": "oncall", "schedules": schedules, "waiting_swaps": waiting,
        "form": ScheduleForm(teams=teams, initial={"time_zone": timezone.get_current_timezone_name()})
        if teams.exists() else None,
        "zone_names": time_zone_names(),
    })


@login_required
@require_POST
def schedule_create(request):
    teams = teams_administered_by(request.user)
    if not teams.exists():
        raise PermissionDenied("Only team admins create schedules.")
    form = ScheduleForm(request.POST, teams=teams)
    if not form.is_valid():
        return render(request, "oncall/schedule_list.html", {
            "section": "oncall", "form": form, "zone_names": time_zone_names(),
            "schedules": visible_to_members(Schedule.objects.select_related("team"), request.user),
        }, status=400)
    schedule = Schedule.objects.create(**form.cleaned_data)
    messages.success(request, f"Schedule {schedule.name!r} created. Add its first rotation below.")
    return redirect(reverse("schedule", args=[schedule.pk]) + "?edit=new")


@login_required
@require_GET
def schedule_detail(request, pk: int):
    return render_schedule(request, visible_schedule(request.user, pk))


@login_required
@require_GET
def schedule_timeline(request, pk: int):
    """The timeline alone (htmx: the 1/2/4-week and earlier/later links swap it in place)."""
    schedule = visible_schedule(request.user, pk)
    try:
        weeks, first_day = requested_window(request.GET, viewer_zone())
    except BadWindow as problem:
        return HttpResponseBadRequest(str(problem))
    return render(request, "oncall/_schedule_timeline.html",
                  {"schedule": schedule, **timeline_context(schedule, weeks, first_day)})


@login_required
@require_POST
def schedule_settings(request, pk: int):
    schedule = editable_schedule(request.user, pk)
    form = ScheduleForm(request.POST, prefix="settings", teams=teams_administered_by(request.user))
    if not form.is_valid():
        return render_schedule(request, schedule, settings_form=form, status=400)
    for field, value in form.cleaned_data.items():
        setattr(schedule, field, value)
    schedule.save()
    messages.success(request, "Schedule saved.")
    return redirect("schedule", pk=schedule.pk)


# --- rotations ------------------------------------------------------------------------------


def _editing(schedule: Schedule, data) -> Rotation | None:
    raw = data.get("rotation_id", "")
    if not raw:
        return None
    if not raw.isdecimal():
        raise PermissionDenied("Not a rotation of this schedule.")
    return get_object_or_404(schedule.rotations.prefetch_related("participants"), pk=int(raw))


@login_required
@require_POST
def rotation_save(request, pk: int):
    schedule = editable_schedule(request.user, pk)
    rotation = _editing(schedule, request.POST)
    members = list(team_members(schedule.team))
    form = rotation_form_for(schedule, rotation, members, data=request.POST)
    if not form.is_valid():
        return render_schedule(request, schedule, rotation_form=form, editing=request.POST.get("rotation_id") or "new",
                               status=400)
    with transaction.atomic():
        saved = save_rotation(schedule, rotation, form.rotation_fields())
    messages.success(request, f"Rotation {saved} saved.")
    return redirect("schedule", pk=schedule.pk)


@login_required
@require_POST
def rotation_draft(request, pk: int):
    """htmx: add, remove or move a participant in the rotation form being edited; nothing
    is saved. The form comes back with the new order (hidden `participant` inputs)."""
    schedule = editable_schedule(request.user, pk)
    members = list(team_members(schedule.team))
    member_ids = {u.pk for u in members}
    order = participants_from(request.POST)
    op, _, raw_index = request.POST.get("op", "").partition(":")
    index = int(raw_index) if raw_index.isdecimal() and int(raw_index) < len(order) else None
    if op == "add":
        raw = request.POST.get("add_participant", "")
        if raw.isdecimal() and int(raw) in member_ids and int(raw) not in order:
            order.append(int(raw))
    elif op == "remove" and index is not None:
        order.pop(index)
    elif op == "up" and index:
        order[index - 1], order[index] = order[index], order[index - 1]
    elif op == "down" and index is not None and index + 1 < len(order):
        order[index + 1], order[index] = order[index], order[index + 1]
    elif op not in {"add", "remove", "up", "down"}:
        return HttpResponseBadRequest("op: add, remove:<n>, up:<n> or down:<n>.")
    initial = {name: request.POST.get(name) for name in ROTATION_FORM_FIELDS}
    initial["restrict_weekdays"] = request.POST.getlist("restrict_weekdays")
    form = rotation_form_for(schedule, None, members, initial=initial, participants=order)
    return render(request, "oncall/_rotation_form.html", {
        "schedule": schedule, "rotation_form": form, "members": members,
        "participant_people": _participant_people(form, members),
        "editing": request.POST.get("rotation_id") or "new",
    })


@login_required
@require_POST
def rotation_preview(request, pk: int):
    """htmx: the timeline as it would be with the rotation form saved. The real save runs in
    a transaction that is always rolled back."""
    schedule = editable_schedule(request.user, pk)
    rotation = _editing(schedule, request.POST)
    members = list(team_members(schedule.team))
    form = rotation_form_for(schedule, rotation, members, data=request.POST)
    try:
        weeks, first_day = requested_window(request.GET, viewer_zone())
    except BadWindow as problem:
        return HttpResponseBadRequest(str(problem))
    if not form.is_valid():
        context = timeline_context(schedule, weeks, first_day)
        context["preview_errors"] = [e for errors in form.errors.values() for e in errors]
        return render(request, "oncall/_schedule_timeline.html", {"schedule": schedule, **context})
    with transaction.atomic():
        save_rotation(schedule, rotation, form.rotation_fields())
        context = timeline_context(schedule, weeks, first_day, preview=True)
        transaction.set_rollback(True)
    return render(request, "oncall/_schedule_timeline.html", {"schedule": schedule, **context})


@login_required
@require_POST
def rotation_delete(request, pk: int, rotation_id: int):
    schedule = editable_schedule(request.user, pk)
    rotation = get_object_or_404(schedule.rotations, pk=rotation_id)
    rotation.delete()
    messages.success(request, f"Rotation {rotation} deleted.")
    return redirect("schedule", pk=schedule.pk)


# --- overrides -----------------------------------------------------------------------------


@login_required
@require_POST
def override_create(request, pk: int):
    schedule = editable_schedule(request.user, pk)
    members = list(team_members(schedule.team))
    form = OverrideForm(request.POST, prefix="override", zone=ZoneInfo(schedule.time_zone), members=members)
    if not form.is_valid():
        return render_schedule(request, schedule, override_form=form, status=400)
    data = form.cleaned_data
    override = ScheduleOverride.objects.create(schedule=schedule, user_id=data["user"], start=data["start"],
                                               end=data["end"])
    person = next(u for u in members if u.pk == override.user_id)
    messages.success(request, f"{person.get_full_name() or person.get_username()} covers the schedule "
                              f"for the chosen time.")
    return redirect("schedule", pk=schedule.pk)


@login_required
@require_POST
def override_delete(request, pk: int, override_id: int):
    schedule = editable_schedule(request.user, pk)
    get_object_or_404(schedule.overrides, pk=override_id).delete()
    messages.success(request, "Override removed.")
    return redirect("schedule", pk=schedule.pk)
