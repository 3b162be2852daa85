"""Admin: teams with their members, schedules with inline rotations and overrides (a
rotation's participants are edited on the rotation's own page, linked from the inline),
and calendar tokens."""

from django.contrib import admin

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


class RotationInline(admin.StackedInline):
    model = Rotation
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
    list_display = ["__str__", "schedule", "shift_kind", "handoff_time", "start"]
    list_filter = ["schedule", "shift_kind"]
    inlines = [RotationParticipantInline]


@admin.register(CalendarFeedToken)
class CalendarFeedTokenAdmin(admin.ModelAdmin):
    list_display = ["user", "created_at"]
    # The secret is a credential: not listed, not searchable.
    readonly_fields = ["created_at"]
    exclude = ["secret"]
