"""The portal's Noise page, one per team: its suppression rules (scope, expiry, hits, last
hit) with create / edit / expire / delete, the rule tester, and a summary of each key's
grouping and flapping settings (edited on the key's own page, `integrations.portal_noise`).

Who sees what: a team's members see its page and use the tester (it writes nothing);
anyone else gets a 404 for the team and everything under it. Only the team's admins reach
the rule forms and actions (a responder gets 403); rules that apply everywhere are shown on
every team's page and only superusers change them.

A rule is saved through the REST API's `SuppressionRuleSerializer`, so the portal and
`/api/v1/suppression-rules/` accept and refuse exactly the same rules, with the same words."""

from __future__ import annotations

import json

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.db.models import Q
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from incidents.api_rules import SuppressionRuleSerializer
from incidents.models import Event, SuppressionRule
from incidents.noise import tester
from incidents.pipeline import apply_limits
from incidents.rules.patterns import FIELDS
from integrations.body import BodyError, parse_json_object
from integrations.formats import DOORS
from integrations.formats.base import FormatError, NormalizedEvent
from integrations.models import IntegrationKey
from oncall.models import Team
from oncall.permissions import is_team_admin

RECENT_EVENTS = 20
INPUT_FORMAT = "%Y-%m-%dT%H:%M"
EVERYWHERE = "everywhere"
TEAM = "team"
MAX_PAYLOAD_CHARS = 256 * 1024
# The doors whose body the tester can read: heartbeats carry no alert, change events never page.
TESTABLE_DOORS = [door for door in DOORS if door.reads_body and not door.records_changes]


# --- access ------------------------------------------------------------------------------


def team_or_404(user, slug: str) -> Team:
    return get_object_or_404(Team.objects.for_user(user), slug=slug)


def admin_team_or_403(user, slug: str) -> Team:
    team = team_or_404(user, slug)
    if not is_team_admin(user, team):
        raise PermissionDenied("Only this team's admins change its noise rules.")
    return team


def rules_of(team: Team):
    """The rules that can act on this team's alerts: the team's, its keys', and global ones."""
    return (
        SuppressionRule.objects.filter(
            Q(team=team) | Q(integration_key__team=team) | Q(team__isnull=True, integration_key__isnull=True)
        )
        .select_related("team", "integration_key", "created_by")
        .order_by("order", "id")
    )


def rule_or_404(team: Team, pk: int) -> SuppressionRule:
    return get_object_or_404(rules_of(team), pk=pk)


def require_rule_admin(user, rule: SuppressionRule) -> None:
    owner = rule.team or (rule.integration_key.team if rule.integration_key_id else None)
    if not is_team_admin(user, owner):
        raise PermissionDenied("Only the rule's team admins (superusers for global rules) change it.")


def scope_label(rule: SuppressionRule) -> str:
    if rule.integration_key_id is not None:
        return f"Key {rule.integration_key.name} ({rule.integration_key.key_prefix}…)"
    if rule.team_id is not None:
        return f"Team {rule.team.name}"
    return "Everywhere"


# --- the rule form -------------------------------------------------------------------------


class RuleForm(forms.Form):
    name = forms.CharField(max_length=100, required=False, help_text="What it is for, e.g. “staging noise”.")
    scope = forms.ChoiceField(help_text="The whole team, or one of its integration keys.")
    field = forms.CharField(
        max_length=150, initial="summary",
        help_text=f"{', '.join(FIELDS)}, or label:<name>",
        widget=forms.TextInput(attrs={"list": "rule-fields", "autocomplete": "off"}),
    )
    operator = forms.ChoiceField(choices=SuppressionRule.Operator.choices)
    value = forms.CharField(
        max_length=512, required=False, strip=False,
        help_text="Text (contains / equals ignore case) or an RE2 regex (add (?i) to ignore case).",
    )
    order = forms.IntegerField(min_value=0, initial=0, help_text="Lower runs first; the first match wins.")
    expires_at = forms.DateTimeField(
        label="Expires", required=False, input_formats=[INPUT_FORMAT, "%Y-%m-%d %H:%M", "%Y-%m-%d %H:%M:%S"],
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}, format=INPUT_FORMAT),
        help_text="Empty: never. After this time the rule stops suppressing.",
    )
    enabled = forms.BooleanField(required=False, initial=True)

    def __init__(self, user, team: Team, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.team = team
        self.keys = {key.pk: key for key in IntegrationKey.objects.filter(team=team).order_by("name", "id")}
        choices = [(TEAM, f"Team {team.name}: all its keys")]
        choices += [(f"key:{key.pk}", f"Key {key.name} ({key.key_prefix}…)") for key in self.keys.values()]
        if user.is_superuser:
            choices.append((EVERYWHERE, "Everywhere: every team and key"))
        self.fields["scope"].choices = choices
        zone = timezone.get_current_timezone_name()
        self.fields["expires_at"].label = f"Expires ({zone})"

    @classmethod
    def initial_of(cls, rule: SuppressionRule) -> dict:
        if rule.integration_key_id is not None:
            scope = f"key:{rule.integration_key_id}"
        else:
            scope = TEAM if rule.team_id is not None else EVERYWHERE
        return {"name": rule.name, "scope": scope, "field": rule.field, "operator": rule.operator,
                "value": rule.value, "order": rule.order, "expires_at": rule.expires_at, "enabled": rule.enabled}

    def api_data(self) -> dict:
        """The REST API's request body for these answers."""
        data = dict(self.cleaned_data)
        kind, _, raw_id = data.pop("scope").partition(":")
        data["team"] = self.team.pk if kind == TEAM else None
        data["integration_key"] = self.keys[int(raw_id)].pk if kind == "key" else None
        return data


def save_with_api(request, form: RuleForm, rule: SuppressionRule | None) -> SuppressionRule | None:
    """Validate and save with the REST serializer; its errors land on the form's fields."""
    serializer = SuppressionRuleSerializer(rule, data=form.api_data(), context={"request": request})
    if not serializer.is_valid():
        for name, problems in serializer.errors.items():
            target = "scope" if name in ("team", "integration_key") else name
            for problem in problems:
                form.add_error(target if target in form.fields else None, str(problem))
        return None
    data = serializer.validated_data
    owner = data.get("team") or (data["integration_key"].team if data.get("integration_key") else None)
    if not is_team_admin(request.user, owner):  # where the rule lands, as the REST API checks
        raise PermissionDenied("Only superusers manage rules that apply everywhere.")
    if rule is None:
        return serializer.save(created_by=request.user)
    return serializer.save()


# --- the tester ------------------------------------------------------------------------------


class TesterForm(forms.Form):
    source = forms.ChoiceField(choices=[("paste", "A payload I paste"), ("event", "A recent event")],
                               initial="paste", widget=forms.RadioSelect)
    key = forms.ChoiceField(label="As if sent to key", required=False,
                            help_text="Scope: rules of other keys do not apply to it.")
    door = forms.ChoiceField(label="Door / format", required=False)
    payload = forms.CharField(required=False, strip=False, max_length=MAX_PAYLOAD_CHARS,
                              widget=forms.Textarea(attrs={"rows": 8, "spellcheck": "false"}))
    event = forms.ChoiceField(label="Recent event", required=False)

    def __init__(self, keys: list[IntegrationKey], events: list[Event], *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.keys = {key.pk: key for key in keys}
        self.events = {event.pk: event for event in events}
        self.fields["key"].choices = [(key.pk, f"{key.name} ({key.key_prefix}…)") for key in keys]
        self.fields["door"].choices = [(door.slug, door.slug) for door in TESTABLE_DOORS]
        self.fields["event"].choices = [
            (event.pk, f"#{event.pk} {event.received_at:%Y-%m-%d %H:%M} {event.format} {event.action}: "
                       f"{(event.summary or event.dedup_key)[:60]} ({event.outcome})")
            for event in events
        ]

    def clean(self):
        data = super().clean()
        if self.errors:
            return data
        if data["source"] == "paste":
            if not data.get("key"):
                self.add_error("key", "Choose the key the payload would be sent to.")
            if not data.get("door"):
                self.add_error("door", "Choose the door (format) the payload would be sent to.")
            if not data.get("payload", "").strip():
                self.add_error("payload", "Paste a JSON payload, as the sender would POST it.")
        elif not data.get("event"):
            self.add_error("event", "Choose one of the recent events.")
        return data


def stored_event(row: Event) -> NormalizedEvent:
    """The normalised fields ingest logged for this event (what its rules were matched on)."""
    logged = row.normalized if isinstance(row.normalized, dict) else {}
    names = ("action", "dedup_key", "summary", "severity", "original_severity", "source", "component",
             "group", "labels", "details", "links", "images", "runbook", "entity")
    fields = {name: logged[name] for name in names if name in logged}
    fields.setdefault("action", row.action)
    return NormalizedEvent(event_class=logged.get("class", ""), **fields)


def parse_body(door_slug: str, text: str, key: IntegrationKey) -> list[NormalizedEvent]:
    """Read a body exactly as the door does: the same JSON rules, the same format, the key's options.
    Raises BodyError or FormatError."""
    door = next(door for door in TESTABLE_DOORS if door.slug == door_slug)
    body = parse_json_object(text.encode("utf-8", "replace"))
    return door.parse_for_key(body, group_by_group_key=key.group_by_alertmanager_group_key,
                              watchdog_alertnames=key.watchdog_alertnames or ())


def events_to_test(form: TesterForm) -> tuple[IntegrationKey, list[NormalizedEvent], str]:
    """(key, events, where they came from). Raises BodyError or FormatError for a pasted body."""
    data = form.cleaned_data
    if data["source"] == "paste":
        key = form.keys[int(data["key"])]
        return key, parse_body(data["door"], data["payload"], key), f"pasted {data['door']} payload"
    row = form.events[int(data["event"])]
    key = form.keys[row.integration_key_id]
    door_slugs = {door.slug for door in TESTABLE_DOORS}
    if row.format in door_slugs and row.raw:
        try:
            return key, parse_body(row.format, row.raw, key), f"event #{row.pk}, its body parsed as {row.format}"
        except (BodyError, FormatError):
            pass  # one alert of a batch keeps only its part of the body: use what ingest logged
    return key, [stored_event(row)], f"event #{row.pk}, its fields as logged at ingest"


# --- the page --------------------------------------------------------------------------------


def _page_context(request, team: Team, *, tester_form: TesterForm | None = None, results=None) -> dict:
    user = request.user
    admin = is_team_admin(user, team)
    rules = list(rules_of(team))
    for rule in rules:
        rule.scope_label = scope_label(rule)
        rule.can_manage = admin if (rule.team_id or rule.integration_key_id) else user.is_superuser
        rule.is_expired = rule.expires_at is not None and rule.expires_at <= timezone.now()
    keys = list(IntegrationKey.objects.filter(team=team).order_by("revoked_at", "name", "id"))
    events = recent_events(team)
    return {
        "section": "noise",
        "team": team,
        "teams": list(Team.objects.for_user(user).order_by("name")),
        "is_admin": admin,
        "rules": rules,
        "keys": keys,
        "tester_form": tester_form or TesterForm(keys, events),
        "results": results,
        "time_zone_name": timezone.get_current_timezone_name(),
    }


def recent_events(team: Team) -> list[Event]:
    return list(
        Event.objects.filter(integration_key__team=team)
        .only("id", "received_at", "format", "action", "outcome", "summary", "dedup_key", "integration_key_id")
        .order_by("-id")[:RECENT_EVENTS]
    )


@login_required
@require_GET
def noise_index(request):
    teams = list(Team.objects.for_user(request.user).order_by("name"))
    if len(teams) == 1:
        return redirect("noise", slug=teams[0].slug)
    return render(request, "incidents/noise_index.html", {"section": "noise", "teams": teams})


@login_required
@require_GET
def noise_page(request, slug: str):
    team = team_or_404(request.user, slug)
    return render(request, "incidents/noise_team.html", _page_context(request, team))


@login_required
@require_POST
def test_rules(request, slug: str):
    """The tester: htmx swaps in the verdicts; without JavaScript the whole page comes back."""
    team = team_or_404(request.user, slug)
    keys = list(IntegrationKey.objects.filter(team=team).order_by("revoked_at", "name", "id"))
    form = TesterForm(keys, recent_events(team), request.POST)
    results, source, problem = None, "", ""
    if form.is_valid():
        try:
            key, events, source = events_to_test(form)
        except BodyError as error:
            problem = f"The payload is not a JSON object: {error.message}"
        except FormatError as error:
            problem = f"The {form.cleaned_data['door']} format refuses this payload: {'; '.join(error.errors)}"
        else:
            for event in events:
                apply_limits(event)
            rules = list(rules_of(team))
            results = {"key": key, "source": source,
                       "verdicts": tester.run(key, events, rules, timezone.now())}
    status = 200 if results is not None else 400
    context = {"team": team, "results": results, "problem": problem, "tester_form": form}
    if request.htmx:
        # htmx swaps only 2xx answers: a refused payload is explained in place.
        return render(request, "incidents/_noise_verdicts.html", context)
    page = _page_context(request, team, tester_form=form, results=results)
    page["problem"] = problem
    return render(request, "incidents/noise_team.html", page, status=status)


# --- rule forms and actions -------------------------------------------------------------------


def _render_rule_form(request, team, form, rule=None, status=200):
    return render(request, "incidents/noise_rule_form.html", {
        "section": "noise", "team": team, "form": form, "rule": rule, "fields": FIELDS,
        "time_zone_name": timezone.get_current_timezone_name(),
    }, status=status)


@login_required
@require_http_methods(["GET", "POST"])
def rule_create(request, slug: str):
    team = admin_team_or_403(request.user, slug)
    if request.method == "GET":
        initial = {"scope": TEAM, "field": "summary", "operator": SuppressionRule.Operator.CONTAINS,
                   "order": 0, "enabled": True}
        return _render_rule_form(request, team, RuleForm(request.user, team, initial=initial))
    form = RuleForm(request.user, team, request.POST)
    rule = save_with_api(request, form, None) if form.is_valid() else None
    if rule is None:
        return _render_rule_form(request, team, form, status=400)
    messages.success(request, f"Rule #{rule.pk} saved: {rule.field} {rule.get_operator_display()} “{rule.value}”.")
    return redirect("noise", slug=team.slug)


@login_required
@require_http_methods(["GET", "POST"])
def rule_edit(request, slug: str, pk: int):
    team = team_or_404(request.user, slug)
    rule = rule_or_404(team, pk)
    require_rule_admin(request.user, rule)
    if request.method == "GET":
        return _render_rule_form(request, team, RuleForm(request.user, team, initial=RuleForm.initial_of(rule)), rule)
    form = RuleForm(request.user, team, request.POST)
    saved = save_with_api(request, form, rule) if form.is_valid() else None
    if saved is None:
        return _render_rule_form(request, team, form, rule, status=400)
    messages.success(request, f"Rule #{saved.pk} saved.")
    return redirect("noise", slug=team.slug)


@login_required
@require_POST
def rule_expire(request, slug: str, pk: int):
    """Stop a rule now but keep it (and its hit count) on the page: its expiry becomes now."""
    team = team_or_404(request.user, slug)
    rule = rule_or_404(team, pk)
    require_rule_admin(request.user, rule)
    now = timezone.now()
    if rule.expires_at is None or rule.expires_at > now:
        rule.expires_at = now
        rule.save(update_fields=["expires_at"])
        messages.success(request, f"Rule #{rule.pk} expired: it no longer suppresses anything.")
    return redirect("noise", slug=team.slug)


@login_required
@require_POST
def rule_delete(request, slug: str, pk: int):
    team = team_or_404(request.user, slug)
    rule = rule_or_404(team, pk)
    require_rule_admin(request.user, rule)
    summary = json.dumps(rule.value)[:80]
    rule.delete()
    messages.success(request, f"Rule #{pk} ({rule.field} {rule.get_operator_display()} {summary}) deleted.")
    return redirect("noise", slug=team.slug)
