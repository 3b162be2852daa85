"""Admin for suppression rules and maintenance windows.

Rules are listed in the order ingest checks them, (order, id), with their hit counters.
"Test this rule" runs a rule against the last N triggers of its scope and shows which would
have been suppressed, so a rule can be tried before it is enabled. Alert text is rendered
through Django's escaping only."""

from __future__ import annotations

from django.contrib import admin, messages
from django.contrib.admin.utils import unquote
from django.core.exceptions import PermissionDenied
from django.http import Http404
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone
from django.utils.html import format_html

from incidents.models import MaintenanceWindow, SuppressionRule
from incidents.noise import suppression
from incidents.noise.maintenance import HOLD_PREFIX
from incidents.rules import cache as rule_cache

TEST_DEFAULT_EVENTS = 100
TEST_MAX_EVENTS = 1000


def scope_of(obj) -> str:
    if obj.integration_key_id is not None:
        return f"key: {obj.integration_key}"
    if obj.team_id is not None:
        return f"team: {obj.team}"
    return "everywhere"


@admin.register(SuppressionRule)
class SuppressionRuleAdmin(admin.ModelAdmin):
    list_display = [
        "order", "id", "__str__", "scope", "field", "operator", "value", "enabled", "expires_at",
        "hit_count", "last_hit_at", "test_link",
    ]
    list_display_links = ["id", "__str__"]
    list_editable = ["order", "enabled"]
    list_filter = ["enabled", "operator", "team"]
    search_fields = ["name", "field", "value"]
    ordering = ["order", "id"]
    raw_id_fields = ["integration_key"]
    readonly_fields = ["hit_count", "last_hit_at", "created_by", "created_at", "test_link"]
    fieldsets = [
        (None, {"fields": ["name", "order", "enabled", "expires_at"]}),
        ("Scope (neither: everywhere)", {"fields": ["team", "integration_key"]}),
        ("Match", {
            "fields": ["field", "operator", "value"],
            "description": "Field: summary, source, component, group, class, severity, details, or "
                           "label:&lt;name&gt;. contains/equals ignore case; regexes run on RE2 "
                           "(no backreferences or lookarounds; at most 512 characters).",
        }),
        ("Hits", {"fields": ["hit_count", "last_hit_at", "test_link", "created_by", "created_at"]}),
    ]

    @admin.display(description="scope")
    def scope(self, obj):
        return scope_of(obj)

    @admin.display(description="test")
    def test_link(self, obj):
        if obj is None or obj.pk is None:
            return "save the rule first"
        url = reverse("admin:incidents_suppressionrule_test", args=[obj.pk])
        return format_html('<a href="{}">Test this rule</a>', url)

    def save_model(self, request, obj, form, change):
        if not change:
            obj.created_by = request.user
        super().save_model(request, obj, form, change)

    def delete_queryset(self, request, queryset):
        super().delete_queryset(request, queryset)
        rule_cache.invalidate_now_and_on_commit()  # a bulk delete bypasses Model.delete()

    def get_urls(self):
        urls = [
            path(
                "<path:object_id>/test/",
                self.admin_site.admin_view(self.test_rule_view),
                name="incidents_suppressionrule_test",
            )
        ]
        return urls + super().get_urls()

    def test_rule_view(self, request, object_id):
        # The admin's own lookup: an id that is not one (`%`, 10k characters) is a 404, not a 500.
        rule = self.get_object(request, unquote(object_id))
        if rule is None:
            raise Http404("no such suppression rule")
        if not self.has_view_permission(request, rule):
            raise PermissionDenied
        try:
            limit = max(1, min(TEST_MAX_EVENTS, int(request.GET.get("n", TEST_DEFAULT_EVENTS))))
        except ValueError:
            limit = TEST_DEFAULT_EVENTS
        try:
            results = suppression.dry_run(rule, suppression.events_in_scope(rule, limit))
        except ValueError as error:  # a row written around validation: say why, do not 500
            messages.error(request, f"This rule cannot run: {error}")
            results = []
        context = {
            **self.admin_site.each_context(request),
            "opts": self.model._meta,
            "title": f"Test rule: {rule}",
            "rule": rule,
            "scope": scope_of(rule),
            "limit": limit,
            "max_events": TEST_MAX_EVENTS,
            "results": results,
            "suppressed_count": sum(1 for _event, hit, _text in results if hit),
        }
        return TemplateResponse(request, "admin/incidents/suppressionrule/test_rule.html", context)


class WindowStateFilter(admin.SimpleListFilter):
    title = "state"
    parameter_name = "state"

    def lookups(self, request, model_admin):
        return [("active", "Active now"), ("upcoming", "Upcoming"), ("past", "Ended")]

    def queryset(self, request, queryset):
        now = timezone.now()
        if self.value() == "active":
            return queryset.filter(start__lte=now, end__gt=now)
        if self.value() == "upcoming":
            return queryset.filter(start__gt=now)
        if self.value() == "past":
            return queryset.filter(end__lte=now)
        return queryset


@admin.register(MaintenanceWindow)
class MaintenanceWindowAdmin(admin.ModelAdmin):
    list_display = ["reason", "scope", "start", "end", "is_active"]
    list_filter = [WindowStateFilter, "team"]
    search_fields = ["reason"]
    raw_id_fields = ["integration_key"]
    readonly_fields = ["created_by", "created_at"]
    fieldsets = [
        (None, {
            "fields": ["reason", "start", "end"],
            "description": "Triggers are stored and incidents open, but nobody is paged until the "
                           f"window ends (their escalation is held as '{HOLD_PREFIX}&lt;reason&gt;').",
        }),
        ("Scope (neither: everything)", {"fields": ["team", "integration_key"]}),
        (None, {"fields": ["created_by", "created_at"]}),
    ]

    @admin.display(description="scope")
    def scope(self, obj):
        return scope_of(obj)

    @admin.display(boolean=True, description="active now")
    def is_active(self, obj):
        return obj.start <= timezone.now() < obj.end

    def save_model(self, request, obj, form, change):
        if not change:
            obj.created_by = request.user
        super().save_model(request, obj, form, change)
