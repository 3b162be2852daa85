"""The portal's Integrations pages: a team's keys, create / rotate / revoke, and the events
each key received with their outcomes (rejected and test included).

Team members see their teams' keys; team admins (not only superusers) change them. Another
team's key is a 404. A raw key is in exactly one response, the one that creates it, sent
with `Cache-Control: no-store`; afterwards only its display prefix is shown."""

from __future__ import annotations

from datetime import timedelta

from django import forms
from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.db.models import Count, Max
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.utils.cache import add_never_cache_headers
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from escalation.models import EscalationPolicy
from incidents.models import Event
from incidents.portal.display import pretty_body
from integrations.models import IntegrationKey
from integrations.portal_noise import flapping_defaults, noise_form_for
from integrations.snippets import door_snippets
from oncall.permissions import is_team_admin, shared_or_visible, teams_administered_by

RECENT_EVENTS = 50
SENDERS_WINDOW = timedelta(hours=24)
MAX_SENDERS = 50


class NewKeyForm(forms.Form):
    name = forms.CharField(max_length=100, help_text="What sends to it, e.g. “Prometheus prod”.")
    team = forms.ModelChoiceField(queryset=None, empty_label=None)
    escalation_policy = forms.ModelChoiceField(queryset=None, empty_label=None)

    def __init__(self, user, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["team"].queryset = teams_administered_by(user).order_by("name")
        self.fields["escalation_policy"].queryset = shared_or_visible(
            EscalationPolicy.objects.select_related("team"), user
        ).order_by("name")
        self.fields["escalation_policy"].label_from_instance = (
            lambda p: f"{p.name} ({p.team.name})" if p.team else f"{p.name} (shared)"
        )

    def clean(self):
        data = super().clean()
        team, policy = data.get("team"), data.get("escalation_policy")
        if team and policy and policy.team_id not in (None, team.pk):
            self.add_error("escalation_policy", "This policy belongs to another team.")
        return data


def _visible_keys(user):
    return IntegrationKey.objects.for_user(user)


def _key_or_404(user, pk: int) -> IntegrationKey:
    return get_object_or_404(
        _visible_keys(user).select_related("team", "escalation_policy", "rotated_from"), pk=pk
    )


def _require_admin(user, key: IntegrationKey) -> None:
    # The user can see the key (a member), so refusing with 403 leaks nothing new.
    if not is_team_admin(user, key.team):
        raise PermissionDenied("Only admins of this key's team can change it.")


def _key_list_context(user, form: NewKeyForm | None = None) -> dict:
    admin_team_ids = set(teams_administered_by(user).values_list("pk", flat=True))
    keys = list(
        _visible_keys(user)
        .select_related("team", "escalation_policy")
        .order_by("revoked_at", "team__name", "name", "id")
    )
    for key in keys:
        key.can_manage = user.is_superuser or key.team_id in admin_team_ids
    return {
        "section": "integrations",
        "keys": keys,
        "form": form if form is not None else NewKeyForm(user),
        "can_create": bool(admin_team_ids) or user.is_superuser,
    }


@login_required
@require_GET
def key_list(request):
    return render(request, "integrations/keys.html", _key_list_context(request.user))


def _show_new_key(request, key: IntegrationKey, raw: str, rotated_from: IntegrationKey | None = None):
    base_url = settings.SITE_URL or request.build_absolute_uri("/").rstrip("/")
    response = render(
        request,
        "integrations/key_created.html",
        {
            "section": "integrations",
            "key": key,
            "raw_key": raw,
            "rotated_from": rotated_from,
            "snippets": door_snippets(raw, base_url),
        },
    )
    # The raw key must not be kept by a browser cache or a proxy.
    add_never_cache_headers(response)
    response["Cache-Control"] += ", no-store"
    return response


@login_required
@require_POST
def create_key(request):
    form = NewKeyForm(request.user, request.POST)
    if not form.is_valid():
        return render(request, "integrations/keys.html", _key_list_context(request.user, form), status=400)
    key, raw = IntegrationKey.create_with_raw_key(
        name=form.cleaned_data["name"],
        team=form.cleaned_data["team"],
        escalation_policy=form.cleaned_data["escalation_policy"],
        created_by=request.user,
    )
    return _show_new_key(request, key, raw)


@login_required
@require_POST
def rotate_key(request, pk: int):
    key = _key_or_404(request.user, pk)
    _require_admin(request.user, key)
    if not key.is_active:
        messages.error(request, "A revoked key cannot be rotated.")
        return redirect("integration-detail", pk=key.pk)
    new_key, raw = key.rotate(by=request.user)
    return _show_new_key(request, new_key, raw, rotated_from=key)


def recent_senders(key: IntegrationKey, now=None) -> list[dict]:
    """Who used `key` in the last 24 h: one row per (address, User-Agent, door) with how
    many events and when last, newest first. Read from the event log, which every door
    writes (accepted, refused by a rule, or rejected as malformed)."""
    since = (now or timezone.now()) - SENDERS_WINDOW
    return list(
        Event.objects.filter(integration_key=key, received_at__gte=since)
        .values("client_ip", "user_agent", "format")
        .annotate(count=Count("id"), last_seen=Max("received_at"))
        .order_by("-last_seen", "client_ip", "user_agent", "format")[:MAX_SENDERS]
    )


@login_required
@require_http_methods(["GET", "POST"])
def revoke_key(request, pk: int):
    """GET asks for confirmation, naming the senders that would be refused; POST revokes."""
    key = _key_or_404(request.user, pk)
    _require_admin(request.user, key)
    if request.method == "GET":
        if not key.is_active:
            return redirect("integration-detail", pk=key.pk)
        return render(request, "integrations/key_revoke.html", {
            "section": "integrations", "key": key, "senders": recent_senders(key), "max_senders": MAX_SENDERS,
        })
    if key.is_active:
        key.revoke()
        messages.success(request, f"Key {key.name} ({key.key_prefix}…) revoked: senders using it are now refused.")
    return redirect("integration-detail", pk=key.pk)


@login_required
@require_GET
def key_detail(request, pk: int):
    key = _key_or_404(request.user, pk)
    events = list(
        Event.objects.filter(integration_key=key)
        .order_by("-id")
        .only("id", "received_at", "format", "action", "outcome", "reason", "dedup_key", "summary",
              "incident_id", "client_ip", "raw")[:RECENT_EVENTS]
    )
    for event in events:
        event.body = pretty_body(event.raw) if event.outcome == Event.Outcome.REJECTED else ""
    can_manage = is_team_admin(request.user, key.team)
    return render(
        request,
        "integrations/key_detail.html",
        {
            "section": "integrations",
            "key": key,
            "events": events,
            "can_manage": can_manage,
            "recent": RECENT_EVENTS,
            "noise_form": noise_form_for(key) if can_manage else None,
            "flapping_defaults": flapping_defaults(),
        },
    )
