"""Admin for incidents, alerts, events and the timeline.

Read-mostly: incidents change state only through incidents.actions (the same functions the
REST API and the portal call), never by editing fields. Everything here comes from alert
payloads, so it is rendered through Django's escaping (format_html, never mark_safe)."""

from __future__ import annotations

import json

from django.contrib import admin, messages
from django.utils.html import format_html

from config.admin_dates import SaneDateHierarchyMixin
from incidents import actions
from incidents.models import Alert, ChangeEvent, Event, Incident, TimelineEntry


def pretty_json(value) -> str:
    return json.dumps(value, indent=2, ensure_ascii=False, sort_keys=True, default=str)


def pre(text: str):
    """Preformatted, escaped text."""
    return format_html("<pre>{}</pre>", text)


class ReadOnlyAdmin(admin.ModelAdmin):
    """Rows written by the pipeline: viewable, never added or edited by hand."""

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    #: The lookup from this model to its team: staff who are not superusers see only
    #: their teams' rows.
    team_path = "team"

    def get_queryset(self, request):
        qs = super().get_queryset(request)
        if request.user.is_superuser:
            return qs
        return qs.filter(**{f"{self.team_path}__memberships__user": request.user})


class ReadOnlyInline(admin.TabularInline):
    extra = 0
    can_delete = False
    show_change_link = False

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False


class AlertInline(ReadOnlyInline):
    model = Alert
    fields = ["dedup_key", "status", "severity", "summary", "count", "first_seen_at", "last_seen_at", "resolved_at"]
    readonly_fields = fields


class TimelineInline(ReadOnlyInline):
    model = TimelineEntry
    fields = ["created_at", "kind", "message", "actor"]
    readonly_fields = fields


@admin.register(Incident)
class IncidentAdmin(SaneDateHierarchyMixin, admin.ModelAdmin):
    list_display = [
        "id", "summary", "status", "severity", "team", "integration_key", "alert_count",
        "first_seen_at", "last_seen_at",
    ]
    list_display_links = ["id", "summary"]
    list_filter = ["status", "severity", "team", "is_flapping", "integration_key"]
    search_fields = ["summary", "dedup_key", "alerts__dedup_key"]
    list_select_related = ["team", "integration_key"]
    date_hierarchy = "first_seen_at"
    inlines = [AlertInline, TimelineInline]
    actions = ["acknowledge_selected", "resolve_selected"]
    fieldsets = [
        (None, {"fields": ["summary", "status", "severity", "original_severity", "team", "integration_key"]}),
        ("Source", {"fields": ["dedup_key", "source", "component", "group", "event_class", "entity", "runbook"]}),
        ("Payload", {"fields": ["labels_shown", "details_shown", "links_shown", "latest_shown"]}),
        ("Counts and times", {"fields": [
            "alert_count", "first_seen_at", "last_seen_at", "acknowledged_at", "acknowledged_by",
            "acknowledged_via", "resolved_at", "resolved_by", "resolved_via",
        ]}),
        ("Escalation", {"fields": [
            "escalation_policy", "escalation_step", "escalation_repeat", "next_escalation_at",
            "escalation_held_reason", "is_flapping", "group_key",
        ]}),
    ]
    readonly_fields = [f for _, opts in fieldsets for f in opts["fields"]]

    def has_add_permission(self, request):
        return False

    def get_queryset(self, request):
        # Staff who are not superusers see their teams' incidents, as in the REST API.
        return super().get_queryset(request).visible_to(request.user)

    @admin.display(description="labels")
    def labels_shown(self, obj):
        return pre(pretty_json(obj.labels))

    @admin.display(description="details")
    def details_shown(self, obj):
        return pre(obj.details if isinstance(obj.details, str) else pretty_json(obj.details))

    @admin.display(description="links")
    def links_shown(self, obj):
        return pre(pretty_json(obj.links))

    @admin.display(description="latest trigger")
    def latest_shown(self, obj):
        return pre(pretty_json(obj.latest))

    @admin.action(description="Acknowledge selected incidents")
    def acknowledge_selected(self, request, queryset):
        changed = sum(
            actions.do_acknowledge_incident(pk, by=request.user, via="admin").changed
            for pk in queryset.values_list("pk", flat=True)
        )
        self.message_user(request, f"Acknowledged {changed} incident(s).", messages.SUCCESS)

    @admin.action(description="Resolve selected incidents")
    def resolve_selected(self, request, queryset):
        changed = sum(
            actions.do_resolve_incident(pk, by=request.user, via="admin").changed
            for pk in queryset.values_list("pk", flat=True)
        )
        self.message_user(request, f"Resolved {changed} incident(s).", messages.SUCCESS)


@admin.register(Alert)
class AlertAdmin(ReadOnlyAdmin):
    team_path = "incident__team"
    list_display = ["id", "dedup_key", "status", "severity", "summary", "incident", "integration_key", "count"]
    list_filter = ["status", "severity"]
    search_fields = ["dedup_key", "summary"]
    list_select_related = ["incident", "integration_key"]


@admin.register(Event)
class EventAdmin(SaneDateHierarchyMixin, ReadOnlyAdmin):
    team_path = "integration_key__team"
    list_display = [
        "id", "received_at", "format", "action", "outcome", "dedup_key", "summary", "integration_key",
        "incident",
    ]
    list_filter = ["format", "outcome", "action"]
    search_fields = ["dedup_key", "summary"]
    list_select_related = ["integration_key", "incident"]
    date_hierarchy = "received_at"
    fields = [
        "received_at", "format", "action", "outcome", "reason", "integration_key", "incident", "alert",
        "dedup_key", "summary", "severity", "original_severity", "client_ip", "suppressed_by",
        "normalized_shown", "raw_shown",
    ]
    readonly_fields = fields

    @admin.display(description="normalised")
    def normalized_shown(self, obj):
        return pre(pretty_json(obj.normalized))

    @admin.display(description="body as received")
    def raw_shown(self, obj):
        try:
            text = pretty_json(json.loads(obj.raw))
        except (ValueError, RecursionError):
            text = obj.raw
        return pre(text)


@admin.register(TimelineEntry)
class TimelineEntryAdmin(ReadOnlyAdmin):
    team_path = "incident__team"
    list_display = ["id", "created_at", "incident", "kind", "message", "actor"]
    list_filter = ["kind"]
    search_fields = ["message"]
    list_select_related = ["incident", "actor"]


@admin.register(ChangeEvent)
class ChangeEventAdmin(ReadOnlyAdmin):
    team_path = "team"
    list_display = ["id", "received_at", "summary", "source", "team", "integration_key"]
    list_filter = ["team"]
    search_fields = ["summary", "source"]
    list_select_related = ["team", "integration_key"]
    fields = ["received_at", "timestamp", "summary", "source", "team", "integration_key", "links_shown",
              "custom_details_shown", "raw"]
    readonly_fields = fields

    @admin.display(description="links")
    def links_shown(self, obj):
        return pre(pretty_json(obj.links))

    @admin.display(description="custom details")
    def custom_details_shown(self, obj):
        return pre(pretty_json(obj.custom_details))
