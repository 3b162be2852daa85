"""Admin: teams with their members, schedules with inline rotations and overrides (a
rotation's participants are edited on the rotation's own page, linked from the inline),
and calendar tokens."""

from zoneinfo import ZoneInfo

from django import forms
from django.contrib import admin
from django.utils import timezone

from oncall.models import (
    CalendarFeedToken,
    Rotation,
    RotationParticipant,
    Schedule,
    ScheduleOverride,
    Team,
    TeamMembership,
)


class TeamMembershipInline(admin.TabularInline):
    model = TeamMembership
    extra = 0
    autocomplete_fields = ["user"]


@admin.register(Team)
class TeamAdmin(admin.ModelAdmin):
    list_display = ["name", "slug", "created_at"]
    search_fields = ["name", "slug"]
    prepopulated_fields = {"slug": ["name"]}
    inlines = [TeamMembershipInline]


class RotationAdminForm(forms.ModelForm):
    """The rotation's start is typed and shown in the *schedule's* zone, like its hand-off
    time; without this the admin read it in the editor's own zone (UTC for most admins), so
    "Monday 09:00" for a Berlin schedule started at 10:00 Berlin time."""

    class Meta:
        model = Rotation
        fields = "__all__"

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if "start" in self.fields:
            zone = self._zone(getattr(self.instance, "schedule", None))
            self.fields["start"].help_text = "In the schedule's time zone" + (f" ({zone.key})." if zone else ".")
            if zone is not None and self.instance.start:
                self.initial["start"] = self.instance.start.astimezone(zone).replace(tzinfo=None)

    @staticmethod
    def _zone(schedule) -> ZoneInfo | None:
        return ZoneInfo(schedule.time_zone) if schedule is not None and schedule.time_zone else None

    def clean_start(self):
        # Django made the typed wall-clock time aware in the editor's zone; re-read the same
        # wall-clock time in the schedule's zone.
        value = self.cleaned_data["start"]
        if value is None:
            return value
        # An inline's parent (even a schedule being added) is on the instance already.
        schedule = self.cleaned_data.get("schedule") or getattr(self.instance, "schedule", None)
        zone = self._zone(schedule) or timezone.get_current_timezone()
        return timezone.localtime(value).replace(tzinfo=None).replace(tzinfo=zone)


class RotationInline(admin.StackedInline):
    model = Rotation
    form = RotationAdminForm
    extra = 0
    show_change_link = True  # participants are edited on the rotation's page
    fields = [
        "name", "order", "shift_kind", "shift_hours", "handoff_time", "start",
        "restrict_weekdays", "restrict_start_time", "restrict_end_time",
    ]


class ScheduleOverrideInline(admin.TabularInline):
    model = ScheduleOverride
    extra = 0
    autocomplete_fields = ["user"]
    fields = ["user", "start", "end"]


@admin.register(Schedule)
class ScheduleAdmin(admin.ModelAdmin):
    list_display = ["name", "team", "time_zone"]
    list_filter = ["team"]
    search_fields = ["name"]
    inlines = [RotationInline, ScheduleOverrideInline]


class RotationParticipantInline(admin.TabularInline):
    model = RotationParticipant
    extra = 0
    autocomplete_fields = ["user"]
    fields = ["position", "user"]


@admin.register(Rotation)
class RotationAdmin(admin.ModelAdmin):
    form = RotationAdminForm
    list_display = ["__str__", "schedule", "shift_kind", "handoff_time", "start"]
    list_filter = ["schedule", "shift_kind"]
    inlines = [RotationParticipantInline]


@admin.register(CalendarFeedToken)
class CalendarFeedTokenAdmin(admin.ModelAdmin):
    list_display = ["user", "created_at"]
    # The secret is a credential: not listed, not searchable.
    readonly_fields = ["created_at"]
    exclude = ["secret"]
