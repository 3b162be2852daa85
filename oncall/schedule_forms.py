"""The forms of the schedule pages. Rotation starts, hand-offs, overrides and swaps are
typed as wall-clock times in the *schedule's* zone (named next to each field), whatever
the viewer's zone is: a "09:00 hand-off from Monday" means the team's Monday 09:00."""

from __future__ import annotations

from datetime import UTC
from zoneinfo import ZoneInfo

from django import forms
from django.contrib.auth import get_user_model
from django.utils import timezone

from oncall.models import Rotation, Team
from oncall.profile import time_zone_names

WEEKDAYS = [(0, "Mon"), (1, "Tue"), (2, "Wed"), (3, "Thu"), (4, "Fri"), (5, "Sat"), (6, "Sun")]
MAX_SHIFT_HOURS = 24 * 28


class ZoneField(forms.CharField):
    """An IANA zone typed into a searchable list (`<input list>` + `<datalist>` of
    zoneinfo's names); anything not in the list is refused here, on the server."""

    def __init__(self, **kwargs):
        kwargs.setdefault("max_length", 64)
        super().__init__(**kwargs)
        self.widget.attrs.update({"list": "zone-names", "autocomplete": "off", "spellcheck": "false"})

    def clean(self, value):
        value = super().clean(value).strip()
        if value not in time_zone_names():
            raise forms.ValidationError(f"{value!r} is not a time zone in the list (e.g. Europe/Berlin).")
        return value


class ZonedDateTimeField(forms.DateTimeField):
    """A wall-clock date and time in `zone` (set by the form), stored as the instant it is
    there; a time that does not exist or happens twice there (DST) is refused by Django."""

    widget = forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M")
    zone: ZoneInfo = ZoneInfo("UTC")

    def to_python(self, value):
        with timezone.override(self.zone):
            return super().to_python(value)

    def prepare_value(self, value):
        if hasattr(value, "tzinfo") and value.tzinfo is not None:
            return value.astimezone(self.zone).replace(tzinfo=None)
        return value


def team_members(team: Team | None):
    users = get_user_model().objects.filter(is_active=True).order_by("first_name", "last_name", "username")
    if team is None:
        return users.filter(is_superuser=True)
    return users.filter(team_memberships__team=team)


def person_choices(people) -> list[tuple[str, str]]:
    return [(str(u.pk), u.get_full_name() or u.get_username()) for u in people]


class ZonedForm(forms.Form):
    """Puts the schedule's zone on every ZonedDateTimeField."""

    def __init__(self, *args, zone: ZoneInfo, **kwargs):
        super().__init__(*args, **kwargs)
        self.zone = zone
        for field in self.fields.values():
            if isinstance(field, ZonedDateTimeField):
                field.zone = zone
                field.help_text = f"In {zone.key}."


class ScheduleForm(forms.Form):
    name = forms.CharField(max_length=100)
    team = forms.TypedChoiceField(coerce=int)
    time_zone = ZoneField(label="Time zone", help_text="Hand-offs and restrictions follow this zone's clock.")
    description = forms.CharField(required=False, widget=forms.Textarea(attrs={"rows": 2}))

    def __init__(self, *args, teams, **kwargs):
        super().__init__(*args, **kwargs)
        self.teams = {team.pk: team for team in teams}  # the teams the user administers
        self.fields["team"].choices = [(pk, team.name) for pk, team in self.teams.items()]

    def clean_team(self) -> Team:
        return self.teams[self.cleaned_data["team"]]


class RotationForm(ZonedForm):
    name = forms.CharField(max_length=100, required=False)
    order = forms.IntegerField(min_value=0, max_value=1000, initial=0,
                               help_text="Layer: a higher layer wins where it has someone.")
    shift_kind = forms.ChoiceField(choices=Rotation.ShiftKind.choices, label="Shift length")
    shift_hours = forms.IntegerField(min_value=1, max_value=MAX_SHIFT_HOURS, required=False, initial=24,
                                     label="Custom length (hours)")
    handoff_time = forms.TimeField(label="Hand-off time", widget=forms.TimeInput(attrs={"type": "time"},
                                                                                format="%H:%M"))
    start = ZonedDateTimeField(label="First shift starts")
    restrict_weekdays = forms.TypedMultipleChoiceField(
        choices=WEEKDAYS, coerce=int, required=False, widget=forms.CheckboxSelectMultiple,
        label="Only on", help_text="None ticked: every day.",
    )
    restrict_start = forms.TimeField(required=False, label="Only from",
                                     widget=forms.TimeInput(attrs={"type": "time"}, format="%H:%M"))
    restrict_end = forms.TimeField(required=False, label="until",
                                   widget=forms.TimeInput(attrs={"type": "time"}, format="%H:%M"))

    def __init__(self, *args, members, participants: list[int], **kwargs):
        super().__init__(*args, **kwargs)
        self.members = {u.pk: u for u in members}
        self.participants = participants
        self.fields["handoff_time"].help_text = f"In {self.zone.key}."
        self.fields["restrict_start"].help_text = f"In {self.zone.key}; a window may cross midnight."

    def clean(self):
        data = super().clean()
        if data.get("shift_kind") == Rotation.ShiftKind.CUSTOM and not data.get("shift_hours"):
            self.add_error("shift_hours", "Give the shift length in hours.")
        if (data.get("restrict_start") is None) != (data.get("restrict_end") is None):
            self.add_error("restrict_end", "Give both restriction times, or neither.")
        elif data.get("restrict_start") is not None and data["restrict_start"] == data["restrict_end"]:
            self.add_error("restrict_end", "The window must not start and end at the same time.")
        strangers = [pk for pk in self.participants if pk not in self.members]
        if strangers:
            raise forms.ValidationError("Only members of the schedule's team can take part.")
        if not self.participants:
            raise forms.ValidationError("Add at least one participant.")
        if len(set(self.participants)) != len(self.participants):
            raise forms.ValidationError("Each person can appear once in a rotation.")
        return data

    def rotation_fields(self) -> dict:
        """The cleaned values in the shape of Rotation's fields (and the REST serializer's)."""
        data = self.cleaned_data
        return {
            "name": data["name"], "order": data["order"], "shift_kind": data["shift_kind"],
            "shift_hours": data.get("shift_hours") or 24, "handoff_time": data["handoff_time"],
            "start": data["start"].astimezone(UTC),
            "restrict_weekdays": sorted(set(data["restrict_weekdays"])),
            "restrict_start_time": data["restrict_start"], "restrict_end_time": data["restrict_end"],
            "participants": list(self.participants),
        }


def participants_from(data) -> list[int]:
    """The ordered participant ids the rotation form posts (hidden `participant` inputs)."""
    result = []
    for raw in data.getlist("participant"):
        if raw.isdecimal():
            result.append(int(raw))
    return result


class OverrideForm(ZonedForm):
    user = forms.TypedChoiceField(coerce=int, label="Who covers")
    start = ZonedDateTimeField(label="From")
    end = ZonedDateTimeField(label="To")

    def __init__(self, *args, members, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["user"].choices = person_choices(members)

    def clean(self):
        data = super().clean()
        if data.get("start") and data.get("end") and data["end"] <= data["start"]:
            self.add_error("end", "The override must end after it starts.")
        return data


class SwapForm(ZonedForm):
    other = forms.TypedChoiceField(coerce=int, label="Ask")
    start = ZonedDateTimeField(label="From")
    end = ZonedDateTimeField(label="To")

    def __init__(self, *args, members, requester, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["other"].choices = person_choices(u for u in members if u.pk != requester.pk)

    def clean(self):
        data = super().clean()
        if data.get("start") and data.get("end") and data["end"] <= data["start"]:
            self.add_error("end", "The swap must end after it starts.")
        return data
