"""The portal's escalation policy pages: every policy of my teams (and the shared ones) as
the sentence a person would say, the keys that use it, the "who would be paged" preview,
and for the team's admins the step editor. A responder gets 403 on every change, and
anyone outside the team a 404 on everything.

Saving goes through the REST API's `PolicySerializer` (its validation, its writes), so the
portal and `/api/v1/escalation-policies/` agree. Editing never changes an incident already
escalating: the engine follows the snapshot it froze at the incident's first step."""

from __future__ import annotations

from datetime import datetime

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.db.models import ProtectedError
from django.http import HttpResponseBadRequest
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_GET, require_POST

from escalation.api import PolicySerializer
from escalation.models import EscalationPolicy
from escalation.policy_forms import (
    BLANK_STEP,
    MAX_STEPS,
    NewPolicyForm,
    PolicySettingsForm,
    TargetChoices,
    raw_steps,
    step_forms,
    steps_of,
)
from escalation.policy_preview import SEVERITIES, preview_policy
from escalation.policy_sentence import describe_policy
from oncall.permissions import is_team_admin, shared_or_visible, teams_administered_by

PREVIEW_INPUT_FORMAT = "%Y-%m-%dT%H:%M"


# --- access ------------------------------------------------------------------------------


def _policies(user):
    return (shared_or_visible(EscalationPolicy.objects.select_related("team"), user)
            .prefetch_related("steps__users", "steps__schedules", "steps__teams"))


def visible_policy(user, pk: int) -> EscalationPolicy:
    """The policy if it is one of the user's teams' or shared (404 otherwise)."""
    return get_object_or_404(_policies(user), pk=pk)


def editable_policy(user, pk: int) -> EscalationPolicy:
    policy = visible_policy(user, pk)
    if not is_team_admin(user, policy.team):
        raise PermissionDenied("Only admins of this policy's team can change it.")
    return policy


def keys_using(policy, user):
    """The integration keys that route to this policy, those of the user's teams only."""
    keys = policy.integration_keys.select_related("team").order_by("revoked_at", "name", "id")
    if not user.is_superuser:
        keys = keys.filter(team__memberships__user=user)
    return list(keys)


def attachable_keys(policy):
    """The team's active keys that use another policy (a shared policy: none offered here)."""
    if policy.team_id is None:
        return []
    return list(policy.team.integration_keys.filter(revoked_at__isnull=True)
                .exclude(escalation_policy=policy).order_by("name", "id"))


# --- rendering ---------------------------------------------------------------------------


def editor_context(policy, user, *, settings_form=None, steps: list[dict] | None = None, bound: bool = False,
                   errors: list[str] | None = None) -> dict:
    choices = TargetChoices.for_policy(policy, user)
    if steps is None:
        steps = steps_of(policy) or [dict(BLANK_STEP)]
    return {
        "settings_form": settings_form or PolicySettingsForm(initial={
            "name": policy.name, "repeat_count": policy.repeat_count,
            "repeat_delay_minutes": policy.repeat_delay_minutes, "description": policy.description}),
        "step_forms": step_forms(steps, choices, bound=bound),
        "max_steps": MAX_STEPS,
        "save_errors": errors or [],
    }


def render_policy(request, policy, *, status: int = 200, editor: dict | None = None):
    admin = is_team_admin(request.user, policy.team)
    context = {
        "section": "policies", "policy": policy, "is_admin": admin,
        "sentence": describe_policy(policy),
        "steps": list(policy.steps.all()),
        "keys": keys_using(policy, request.user),
        "severities": SEVERITIES,
        "preview_at": request.GET.get("at", ""),
        "preview_severity": request.GET.get("severity", "critical"),
    }
    if "at" in request.GET:  # the preview form without JavaScript: shown in the page
        try:
            context["preview"] = preview_policy(policy, _preview_instant(request.GET), _severity(request.GET))
        except ValueError as problem:
            return HttpResponseBadRequest(str(problem))
    if admin:
        context.update(editor or editor_context(policy, request.user))
        context["attachable"] = attachable_keys(policy)
    return render(request, "escalation/policy_detail.html", context, status=status)


def _preview_instant(params) -> datetime:
    raw = params.get("at", "").strip()
    if not raw:
        return timezone.now()
    try:
        naive = datetime.strptime(raw, PREVIEW_INPUT_FORMAT)
    except ValueError:
        raise ValueError("at: a date and time as YYYY-MM-DDTHH:MM (your time zone).") from None
    return timezone.make_aware(naive, timezone.get_current_timezone())


def _severity(params) -> str:
    severity = params.get("severity") or "critical"
    if severity not in SEVERITIES:
        raise ValueError("severity: critical, error, warning or info.")
    return severity


# --- pages -------------------------------------------------------------------------------


def _list_page(request, form: NewPolicyForm | None = None, status: int = 200):
    policies = list(_policies(request.user).order_by("team__name", "name", "id"))
    teams = list(teams_administered_by(request.user).order_by("name"))
    return render(request, "escalation/policy_list.html", {
        "section": "policies",
        "rows": [(p, describe_policy(p)) for p in policies],
        "form": form or (NewPolicyForm(teams=teams) if teams else None),
    }, status=status)


@login_required
@require_GET
def policy_list(request):
    return _list_page(request)


@login_required
@require_POST
def policy_create(request):
    teams = list(teams_administered_by(request.user))
    if not teams:
        raise PermissionDenied("Only team admins create escalation policies.")
    form = NewPolicyForm(request.POST, teams=teams)
    if not form.is_valid():
        return _list_page(request, form=form, status=400)
    serializer = PolicySerializer(data={"name": form.cleaned_data["name"], "team": form.cleaned_data["team"]},
                                  context={"request": request})
    if not serializer.is_valid():
        return HttpResponseBadRequest(_flat(serializer.errors)[0])
    policy = serializer.save()
    messages.success(request, f"Policy {policy.name!r} created. Give it its steps below.")
    return redirect(reverse("policy", args=[policy.pk]) + "#policy-editor")


@login_required
@require_GET
def policy_detail(request, pk: int):
    return render_policy(request, visible_policy(request.user, pk))


@login_required
@require_GET
def policy_preview(request, pk: int):
    """htmx: the preview alone, for the time and severity picked (now and critical by default)."""
    policy = visible_policy(request.user, pk)
    try:
        preview = preview_policy(policy, _preview_instant(request.GET), _severity(request.GET))
    except ValueError as problem:
        return HttpResponseBadRequest(str(problem))
    return render(request, "escalation/_policy_preview.html", {"policy": policy, "preview": preview})


@login_required
@require_POST
def policy_save(request, pk: int):
    policy = editable_policy(request.user, pk)
    settings_form = PolicySettingsForm(request.POST)
    steps = raw_steps(request.POST)
    editor = editor_context(policy, request.user, settings_form=settings_form, steps=steps, bound=True)
    valid = settings_form.is_valid() & all([form.is_valid() for form in editor["step_forms"]])
    if not steps:
        editor["save_errors"] = ["A policy needs at least one step."]
        valid = False
    if not valid:
        return render_policy(request, policy, editor=editor, status=400)
    data = {**settings_form.cleaned_data, "team": policy.team_id,
            "steps": [{k: form.cleaned_data[k] for k in ("delay_minutes", "users", "schedules", "teams")}
                      for form in editor["step_forms"]]}
    if policy.team_id is None:
        data.pop("team")
    serializer = PolicySerializer(policy, data=data, context={"request": request})
    if not serializer.is_valid():
        editor["save_errors"] = _flat(serializer.errors)
        return render_policy(request, policy, editor=editor, status=400)
    with transaction.atomic():
        serializer.save()
    messages.success(request, f"Policy {policy.name!r} saved. Incidents already escalating keep the version "
                              f"they started with.")
    return redirect("policy", pk=policy.pk)


@login_required
@require_POST
def policy_draft(request, pk: int):
    """htmx: add, remove or move a step in the editor; nothing is saved until Save. Without
    JavaScript the whole page comes back with the draft in its editor."""
    policy = editable_policy(request.user, pk)
    steps = raw_steps(request.POST)
    op, _, raw_index = request.POST.get("op", "").partition(":")
    index = int(raw_index) if raw_index.isdecimal() and int(raw_index) < len(steps) else None
    if op == "add":
        if len(steps) < MAX_STEPS:
            steps.append(dict(BLANK_STEP, delay_minutes="10" if steps else "0"))
    elif op == "remove" and index is not None:
        steps.pop(index)
    elif op == "up" and index:
        steps[index - 1], steps[index] = steps[index], steps[index - 1]
    elif op == "down" and index is not None and index + 1 < len(steps):
        steps[index + 1], steps[index] = steps[index], steps[index + 1]
    elif op not in {"add", "remove", "up", "down"}:
        return HttpResponseBadRequest("op: add, remove:<n>, up:<n> or down:<n>.")
    settings_form = PolicySettingsForm(initial={name: request.POST.get(name) for name in PolicySettingsForm.base_fields})
    editor = editor_context(policy, request.user, settings_form=settings_form, steps=steps)
    if not request.headers.get("HX-Request"):
        return render_policy(request, policy, editor=editor)
    return render(request, "escalation/_policy_editor.html", {"policy": policy, **editor})


@login_required
@require_POST
def policy_attach_key(request, pk: int):
    policy = editable_policy(request.user, pk)
    raw = request.POST.get("key", "")
    key = next((k for k in attachable_keys(policy) if str(k.pk) == raw), None)
    if key is None:
        return HttpResponseBadRequest("key: one of this team's active keys.")
    key.escalation_policy = policy
    key.save(update_fields=["escalation_policy"])
    messages.success(request, f"Key {key.name} now routes to {policy.name}: new incidents follow this policy.")
    return redirect("policy", pk=policy.pk)


@login_required
@require_POST
def policy_delete(request, pk: int):
    policy = editable_policy(request.user, pk)
    try:
        policy.delete()
    except ProtectedError:
        names = ", ".join(sorted(policy.integration_keys.values_list("name", flat=True)))
        messages.error(request, f"Keys still use this policy: {names}. Point them at another policy first.")
        return redirect("policy", pk=policy.pk)
    messages.success(request, f"Policy {policy.name!r} deleted.")
    return redirect("policies")


def _flat(errors) -> list[str]:
    """DRF's nested error structure as plain sentences."""
    if isinstance(errors, dict):
        return [text for value in errors.values() for text in _flat(value)]
    if isinstance(errors, list):
        return [text for value in errors for text in _flat(value)]
    return [str(errors)]
