"""Admin for integration keys.

Adding a key asks only for what a person decides (name, policy, team, grouping); the secret
is generated here and shown once, on its own page, right after saving or rotating. Only the
digest is stored: the raw key rides in the session for the one redirect and is popped when
the page renders, so a second visit (or another tab) shows nothing."""

from __future__ import annotations

from django import forms
from django.conf import settings
from django.contrib import admin, messages
from django.db.models import Q
from django.http import HttpResponseRedirect
from django.template import TemplateDoesNotExist
from django.template.loader import get_template
from django.template.response import TemplateResponse
from django.urls import path, reverse

from escalation.models import EscalationPolicy
from integrations.management.examples import curl_example
from integrations.models import IntegrationKey, NamedHeartbeat
from integrations.snippets import door_snippets
from oncall.models import Team

# Session slot for keys issued by this request and not yet shown: [{"id": pk, "raw": key}].
NEW_KEYS_SESSION_SLOT = "vigil.new_integration_keys"
SNIPPETS_TEMPLATE = "integrations/_snippets.html"


def stash_new_key(request, key: IntegrationKey, raw: str) -> None:
    pending = request.session.get(NEW_KEYS_SESSION_SLOT, [])
    pending.append({"id": key.pk, "raw": raw})
    request.session[NEW_KEYS_SESSION_SLOT] = pending


def pop_new_keys(request) -> list[dict]:
    return request.session.pop(NEW_KEYS_SESSION_SLOT, [])


def door_snippets_for(raw_key: str, base_url: str):
    """Per-door configuration snippets for the key shown once."""
    return door_snippets(raw_key, base_url)


def snippets_template_name() -> str | None:
    try:
        get_template(SNIPPETS_TEMPLATE)
    except TemplateDoesNotExist:
        return None
    return SNIPPETS_TEMPLATE


class KeyStateFilter(admin.SimpleListFilter):
    title = "state"
    parameter_name = "state"

    def lookups(self, request, model_admin):
        return [("active", "Active"), ("revoked", "Revoked")]

    def queryset(self, request, queryset):
        if self.value() == "active":
            return queryset.filter(revoked_at__isnull=True)
        if self.value() == "revoked":
            return queryset.filter(revoked_at__isnull=False)
        return queryset


class IntegrationKeyForm(forms.ModelForm):
    class Meta:
        model = IntegrationKey
        fields = "__all__"

    def clean_grouping_labels(self):
        labels = self.cleaned_data.get("grouping_labels") or []
        if not isinstance(labels, list) or not all(isinstance(item, str) for item in labels):
            raise forms.ValidationError('Enter a JSON list of label names, e.g. ["service", "env"].')
        return labels

    def clean(self):
        cleaned = super().clean()
        policy, team = cleaned.get("escalation_policy"), cleaned.get("team")
        if policy is not None and policy.team_id is not None and policy.team_id != getattr(team, "pk", None):
            self.add_error("escalation_policy", "This policy belongs to another team.")
        return cleaned


@admin.register(IntegrationKey)
class IntegrationKeyAdmin(admin.ModelAdmin):
    form = IntegrationKeyForm
    list_display = [
        "name", "key_prefix", "escalation_policy", "team", "created_at", "last_used_at", "revoked_at",
    ]
    list_filter = [KeyStateFilter, "team", "grouping_type", "escalation_policy"]
    search_fields = ["name", "key_prefix"]
    list_select_related = ["escalation_policy", "team"]
    actions = ["revoke_keys", "rotate_keys"]
    # The digests are editable=False, so no form ever carries them; they are not listed here
    # either, so no page renders them.
    readonly_fields = [
        "key_prefix", "created_by", "created_at", "last_used_at", "revoked_at", "rotated_from",
        "last_heartbeat_at",
    ]
    add_fieldsets = [
        (None, {"fields": ["name", "escalation_policy", "team"]}),
        ("Grouping", {"fields": ["grouping_type", "grouping_window_seconds", "grouping_labels"]}),
        ("Heartbeat (optional)", {"fields": ["heartbeat_interval_seconds"]}),
    ]
    change_fieldsets = [
        (None, {"fields": ["name", "key_prefix", "escalation_policy", "team"]}),
        ("Grouping", {"fields": [
            "grouping_type", "grouping_window_seconds", "grouping_labels", "group_by_alertmanager_group_key",
        ]}),
        ("Heartbeat", {"fields": [
            "heartbeat_interval_seconds", "heartbeat_grace_seconds", "watchdog_alertnames", "last_heartbeat_at",
        ]}),
        ("History", {"fields": ["created_by", "created_at", "last_used_at", "revoked_at", "rotated_from"]}),
    ]

    # --- forms -------------------------------------------------------------------------
    def get_fieldsets(self, request, obj=None):
        return self.add_fieldsets if obj is None else self.change_fieldsets

    def get_queryset(self, request):
        # Staff who are not superusers see the keys of their own teams only.
        return super().get_queryset(request).for_user(request.user)

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        user = request.user
        if db_field.name == "team" and not user.is_superuser:
            kwargs["queryset"] = Team.objects.administered_by(user)
        if db_field.name == "escalation_policy" and not user.is_superuser:
            kwargs["queryset"] = EscalationPolicy.objects.filter(
                Q(team__in=Team.objects.administered_by(user)) | Q(team__isnull=True)
            )
        return super().formfield_for_foreignkey(db_field, request, **kwargs)

    # --- issuing the secret ------------------------------------------------------------
    def save_model(self, request, obj, form, change):
        if change:
            super().save_model(request, obj, form, change)
            return
        raw = obj.issue_raw_key()
        obj.created_by = request.user
        super().save_model(request, obj, form, change)
        stash_new_key(request, obj, raw)

    def response_add(self, request, obj, post_url_continue=None):
        self.message_user(request, f"Integration key “{obj.name}” was created.", messages.SUCCESS)
        return HttpResponseRedirect(reverse("admin:integrations_integrationkey_new_key"))

    def get_urls(self):
        urls = [
            path(
                "new-key/",
                self.admin_site.admin_view(self.new_key_view),
                name="integrations_integrationkey_new_key",
            )
        ]
        return urls + super().get_urls()

    def new_key_view(self, request):
        """Show keys issued by the previous request, once. admin_view adds never_cache."""
        pending = pop_new_keys(request)
        by_id = IntegrationKey.objects.in_bulk([item["id"] for item in pending])
        base_url = settings.SITE_URL
        template = snippets_template_name()
        new_keys = [
            {
                "key": by_id[item["id"]],
                "raw": item["raw"],
                "curl": curl_example(item["raw"], base_url),
                "snippets": door_snippets_for(item["raw"], base_url),
            }
            for item in pending
            if item["id"] in by_id
        ]
        context = {
            **self.admin_site.each_context(request),
            "title": "New integration key" if len(new_keys) <= 1 else "New integration keys",
            "opts": self.model._meta,
            "new_keys": new_keys,
            "base_url": base_url,
            "snippets_template": template,
        }
        response = TemplateResponse(request, "admin/integrations/integrationkey/new_key.html", context)
        response["Cache-Control"] = "no-store"
        return response

    # --- actions -----------------------------------------------------------------------
    @staticmethod
    def administered(request, queryset):
        """Staff members act only on keys of teams they administer (responders only look)."""
        if request.user.is_superuser:
            return queryset
        return queryset.filter(team__in=Team.objects.administered_by(request.user))

    @admin.action(description="Revoke selected keys (rejected from the next request on)")
    def revoke_keys(self, request, queryset):
        revoked = 0
        for key in self.administered(request, queryset).filter(revoked_at__isnull=True):
            key.revoke()
            revoked += 1
        self.message_user(request, f"Revoked {revoked} key(s).", messages.SUCCESS)

    @admin.action(description="Rotate selected keys (issue new keys; the old ones work until revoked)")
    def rotate_keys(self, request, queryset):
        active = list(self.administered(request, queryset).filter(revoked_at__isnull=True))
        if not active:
            self.message_user(request, "Nothing to rotate: revoked keys and keys of teams you do not "
                              "administer cannot be rotated.", messages.WARNING)
            return None
        for key in active:
            new_key, raw = key.rotate(by=request.user)
            stash_new_key(request, new_key, raw)
        self.message_user(
            request,
            f"Issued {len(active)} new key(s). The old key(s) keep working until you revoke them.",
            messages.SUCCESS,
        )
        return HttpResponseRedirect(reverse("admin:integrations_integrationkey_new_key"))


@admin.register(NamedHeartbeat)
class NamedHeartbeatAdmin(admin.ModelAdmin):
    """Opsgenie-style heartbeats: created by their first ping, or here ahead of it."""

    list_display = ["name", "integration_key", "interval_seconds", "grace_seconds", "last_ping_at"]
    list_select_related = ["integration_key"]
    search_fields = ["name", "integration_key__name"]
    readonly_fields = ["last_ping_at", "created_at"]
