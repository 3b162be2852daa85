"""Shift swaps: a member asks a teammate to take a stretch of their own shift; the teammate
accepts (an override for them is written) or declines, in the portal. Any member of the
schedule's team may ask, only for time they are on call themselves; only the person asked
may answer; the asker may withdraw while it is pending."""

from __future__ import annotations

from zoneinfo import ZoneInfo

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.http import Http404
from django.shortcuts import get_object_or_404, redirect
from django.utils import timezone
from django.views.decorators.http import require_POST

from oncall.models import Schedule, ScheduleOverride, SwapRequest
from oncall.schedule import load_schedule, timeline
from oncall.schedule_forms import SwapForm, team_members
from oncall.schedule_pages import render_schedule, visible_schedule


def check_on_call_throughout(schedule: Schedule, user, start, end) -> None:
    """Raise unless `user` is on call for all of [start, end) (by the same math as the API)."""
    covered = start
    for shift in timeline(load_schedule(schedule, (start, end)), start, end):
        if user.pk not in shift.user_ids or shift.start > covered:
            break
        covered = shift.end
    if covered < end:
        raise ValidationError("You can only hand over time when you are on call yourself.")


@transaction.atomic
def do_accept(swap: SwapRequest) -> ScheduleOverride:
    """Call with the swap row locked (`select_for_update`) and pending."""
    swap.override = ScheduleOverride.objects.create(
        schedule=swap.schedule, user=swap.other, start=swap.start, end=swap.end
    )
    swap.status = SwapRequest.Status.ACCEPTED
    swap.decided_at = timezone.now()
    swap.save(update_fields=["override", "status", "decided_at"])
    return swap.override


@login_required
@require_POST
def swap_create(request, pk: int):
    schedule = visible_schedule(request.user, pk)
    members = list(team_members(schedule.team))
    form = SwapForm(request.POST, prefix="swap", zone=ZoneInfo(schedule.time_zone), members=members, requester=request.user)
    if form.is_valid():
        data = form.cleaned_data
        if data["end"] <= timezone.now():
            form.add_error("end", "That time is already over.")
        else:
            try:
                check_on_call_throughout(schedule, request.user, data["start"], data["end"])
            except ValidationError as problem:
                form.add_error(None, problem)
    if not form.is_valid():
        return render_schedule(request, schedule, swap_form=form, status=400)
    SwapRequest.objects.create(schedule=schedule, requester=request.user, other_id=form.cleaned_data["other"],
                               start=form.cleaned_data["start"], end=form.cleaned_data["end"])
    messages.success(request, "Swap request sent; nothing changes until it is accepted.")
    return redirect("schedule", pk=schedule.pk)


def _pending_swap(request, swap_id: int) -> SwapRequest:
    """The swap, locked; 404 unless it is on one of the user's teams' schedules."""
    swap = get_object_or_404(SwapRequest.objects.select_for_update(of=("self",)).select_related("schedule"),
                             pk=swap_id)
    visible_schedule(request.user, swap.schedule_id)
    if swap.status != SwapRequest.Status.PENDING:
        raise PermissionDenied(f"This swap request is already {swap.get_status_display().lower()}.")
    return swap


@login_required
@require_POST
@transaction.atomic
def swap_answer(request, swap_id: int, answer: str):
    if answer not in {"accept", "decline", "cancel"}:
        raise Http404("accept, decline or cancel")
    swap = _pending_swap(request, swap_id)
    if answer == "cancel":
        if swap.requester_id != request.user.pk:
            raise PermissionDenied("Only the person who asked can withdraw the request.")
        swap.status = SwapRequest.Status.CANCELLED
    else:
        if swap.other_id != request.user.pk:
            raise PermissionDenied("Only the person asked can answer this request.")
        if answer == "accept":
            do_accept(swap)
            messages.success(request, "Swap accepted: you are on call for that time.")
            return redirect("schedule", pk=swap.schedule_id)
        swap.status = SwapRequest.Status.DECLINED
    swap.decided_at = timezone.now()
    swap.save(update_fields=["status", "decided_at"])
    messages.info(request, f"Swap request {swap.get_status_display().lower()}.")
    return redirect("schedule", pk=swap.schedule_id)
