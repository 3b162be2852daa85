"""Admin: policies with inline steps, contact methods with their rules, and the record of
every notification (read-only: it is history)."""

from django import forms
from django.contrib import admin
from django.core.exceptions import ValidationError

from config.admin_dates import SaneDateHierarchyMixin
from escalation.channels import check_contact_address
from escalation.models import (
    ContactMethod,
    EscalationPolicy,
    EscalationStep,
    EscalationTickState,
    Notification,
    NotificationRule,
)
from escalation.redaction import shown_address
from oncall.membership import non_members


class StepFormSet(forms.BaseInlineFormSet):
    """The people a team's policy pages must be members of that team (RELIABILITY T45)."""

    def clean(self):
        super().clean()
        team = self.instance.team
        for form in self.forms:
            if not hasattr(form, "cleaned_data") or form.cleaned_data.get("DELETE"):
                continue
            users = form.cleaned_data.get("users") or []
            strangers = non_members(team, [user.pk for user in users])
            if strangers:
                names = ", ".join(user.get_username() for user in users if user.pk in strangers)
                form.add_error("users", f"Not members of the team {team.name}: {names}. Invite them to the team first.")


class EscalationStepInline(admin.StackedInline):
    model = EscalationStep
    formset = StepFormSet
    extra = 0
    fields = ["order", "delay_minutes", "users", "schedules", "teams"]
    filter_horizontal = ["users", "schedules", "teams"]


@admin.register(EscalationPolicy)
class EscalationPolicyAdmin(admin.ModelAdmin):
    list_display = ["name", "team", "step_count", "repeat_count", "updated_at"]
    list_filter = ["team"]
    search_fields = ["name"]
    inlines = [EscalationStepInline]

    @admin.display(description="steps")
    def step_count(self, policy):
        return policy.steps.count()


class NotificationRuleInline(admin.TabularInline):
    model = NotificationRule
    extra = 0
    fields = ["delay_minutes", "urgency"]


class ContactMethodForm(forms.ModelForm):
    class Meta:
        model = ContactMethod
        fields = "__all__"
        widgets = {"address": forms.TextInput(attrs={"size": 80})}

    def clean(self):
        data = super().clean()
        if "kind" in data and "address" in data:
            try:
                data["address"] = check_contact_address(data["kind"], data["address"])
            except ValidationError as exc:
                self.add_error(None, exc)
        return data


@admin.register(ContactMethod)
class ContactMethodAdmin(admin.ModelAdmin):
    form = ContactMethodForm
    list_display = ["user", "kind", "shown_address", "enabled", "verified", "slack_format"]
    list_filter = ["kind", "enabled", "verified"]
    search_fields = ["user__username"]  # the address is encrypted: not searchable
    inlines = [NotificationRuleInline]
    exclude = ["secrets"]

    @admin.display(description="address")
    def shown_address(self, method):
        # A push endpoint, an ntfy topic and an apprise URL are credentials.
        return shown_address(method.kind, method.address)

    def save_formset(self, request, form, formset, change):
        # A rule's user is its contact method's user.
        for rule in formset.save(commit=False):
            rule.user = form.instance.user
            rule.save()
        for rule in formset.deleted_objects:
            rule.delete()


@admin.register(NotificationRule)
class NotificationRuleAdmin(admin.ModelAdmin):
    list_display = ["user", "contact_method", "delay_minutes", "urgency"]
    search_fields = ["user__username"]

    def save_model(self, request, obj, form, change):
        obj.full_clean()
        super().save_model(request, obj, form, change)


@admin.register(Notification)
class NotificationAdmin(SaneDateHierarchyMixin, admin.ModelAdmin):
    list_display = ["id", "incident", "kind", "user", "channel", "status", "attempts", "due_at", "sent_at"]
    list_filter = ["status", "kind", "channel"]
    search_fields = ["incident__id", "user__username"]  # the address is encrypted
    list_select_related = ["incident", "user"]
    date_hierarchy = "due_at"

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(EscalationTickState)
class EscalationTickStateAdmin(admin.ModelAdmin):
    list_display = ["name", "last_tick_at"]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False
