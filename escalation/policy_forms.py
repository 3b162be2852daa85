"""The policy pages' forms. A step's targets are picked from select lists scoped to the
policy's team: its active members, its schedules, and the team itself ("everyone in ...").
Anything else in a posted form is refused here, and the save then goes through the REST
API's `PolicySerializer`, so the portal and `/api/v1/escalation-policies/` agree on what
a valid policy is."""

from __future__ import annotations

from dataclasses import dataclass

from django import forms
from django.contrib.auth import get_user_model
from django.http import QueryDict

from escalation.api import visible_schedules, visible_users
from oncall.models import Schedule, Team

MAX_STEPS = 20
MAX_DELAY_MINUTES = 24 * 60


@dataclass
class TargetChoices:
    """What a step of this policy may name (each list loaded once per page)."""

    users: list
    schedules: list
    teams: list

    @classmethod
    def for_policy(cls, policy, user) -> TargetChoices:
        people = get_user_model().objects.filter(is_active=True).order_by("first_name", "last_name", "username")
        if policy.team_id is None:  # a shared policy: a superuser's, who sees everyone
            return cls(list(visible_users(user).order_by("first_name", "last_name", "username")),
                       list(visible_schedules(user).order_by("name")),
                       list(Team.objects.for_user(user).order_by("name")))
        return cls(list(people.filter(team_memberships__team_id=policy.team_id)),
                   list(Schedule.objects.filter(team_id=policy.team_id).order_by("name")),
                   [policy.team])


def _label(user) -> str:
    full = user.get_full_name()
    return f"{full} ({user.get_username()})" if full else user.get_username()


class StepForm(forms.Form):
    delay_minutes = forms.IntegerField(
        min_value=0, max_value=MAX_DELAY_MINUTES, initial=0, label="Delay (minutes)",
        help_text="After the previous step; the first step: after the trigger.")
    schedules = forms.TypedMultipleChoiceField(coerce=int, required=False, label="Whoever is on call for")
    users = forms.TypedMultipleChoiceField(coerce=int, required=False, label="People")
    teams = forms.TypedMultipleChoiceField(coerce=int, required=False, label="Everyone in")

    def __init__(self, *args, choices: TargetChoices, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["users"].choices = [(u.pk, _label(u)) for u in choices.users]
        self.fields["schedules"].choices = [(s.pk, s.name) for s in choices.schedules]
        self.fields["teams"].choices = [(t.pk, t.name) for t in choices.teams]
        for name in ("users", "schedules", "teams"):
            self.fields[name].widget.attrs["size"] = str(min(6, max(2, len(self.fields[name].choices))))

    def clean(self):
        data = super().clean()
        if not self.errors and not (data.get("users") or data.get("schedules") or data.get("teams")):
            raise forms.ValidationError("Pick at least one schedule, person or team for this step.")
        return data


class PolicySettingsForm(forms.Form):
    name = forms.CharField(max_length=100)
    repeat_count = forms.IntegerField(
        min_value=0, max_value=20, initial=0, label="Repeat",
        help_text="How many more times to run every step when nobody acknowledges (0: never).")
    repeat_delay_minutes = forms.IntegerField(
        min_value=0, max_value=MAX_DELAY_MINUTES, initial=15, label="Repeat after (minutes)",
        help_text="Minutes after the last step before the steps start again.")
    description = forms.CharField(required=False, widget=forms.Textarea(attrs={"rows": 2}))


class NewPolicyForm(forms.Form):
    name = forms.CharField(max_length=100)
    team = forms.TypedChoiceField(coerce=int)

    def __init__(self, *args, teams, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["team"].choices = [(t.pk, t.name) for t in teams]


def raw_steps(data) -> list[dict]:
    """The steps of a posted editor form as plain values, in their on-page order (hidden
    `step_count`; each step's fields prefixed `step-<n>-`)."""
    raw = data.get("step_count", "0")
    count = min(int(raw), MAX_STEPS) if raw.isdecimal() else 0
    return [{
        "delay_minutes": data.get(f"step-{i}-delay_minutes", "0"),
        "users": data.getlist(f"step-{i}-users"),
        "schedules": data.getlist(f"step-{i}-schedules"),
        "teams": data.getlist(f"step-{i}-teams"),
    } for i in range(count)]


def step_forms(steps: list[dict], choices: TargetChoices, *, bound: bool) -> list[StepForm]:
    """One form per step, prefixed by its position: bound to validate a save, unbound (the
    values as initial) to show a draft after add, remove or move."""
    made = []
    for i, step in enumerate(steps):
        prefix = f"step-{i}"
        if bound:
            data = QueryDict(mutable=True)
            data[f"{prefix}-delay_minutes"] = step["delay_minutes"]
            for name in ("users", "schedules", "teams"):
                data.setlist(f"{prefix}-{name}", step[name])
            made.append(StepForm(data, prefix=prefix, choices=choices))
        else:
            made.append(StepForm(initial=step, prefix=prefix, choices=choices))
    return made


def steps_of(policy) -> list[dict]:
    """A saved policy's steps as the editor's plain values (steps prefetched)."""
    return [{
        "delay_minutes": str(step.delay_minutes),
        "users": [str(u.pk) for u in step.users.all()],
        "schedules": [str(s.pk) for s in step.schedules.all()],
        "teams": [str(t.pk) for t in step.teams.all()],
    } for step in policy.steps.all()]


BLANK_STEP = {"delay_minutes": "0", "users": [], "schedules": [], "teams": []}
