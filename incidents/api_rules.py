"""`/api/v1/suppression-rules/`: read and write suppression rules.

Members read their teams' rules (team-scoped, and key-scoped for their teams' keys) and the
global ones; another team's rule is a 404. Team admins write their team's rules; only
superusers write global rules (no team, no key). An invalid or unsafe regex answers 400
naming the field, before anything is saved."""

from __future__ import annotations

from django.db.models import Q
from rest_framework import serializers, viewsets

from incidents.models import SuppressionRule
from incidents.rules.patterns import field_error, rule_errors
from integrations.models import IntegrationKey
from oncall.fields import TeamField
from oncall.permissions import require_team_admin


class SuppressionRuleSerializer(serializers.ModelSerializer):
    team = TeamField(allow_null=True, default=None, help_text="Team slug or id.")
    integration_key = serializers.PrimaryKeyRelatedField(
        queryset=IntegrationKey.objects.all(), allow_null=True, default=None,
        help_text="Integration key id: the rule applies to this key only.",
    )
    field = serializers.CharField(
        max_length=150,
        help_text="summary, source, component, group, class, severity, details, or label:<name>",
    )
    operator = serializers.ChoiceField(choices=SuppressionRule.Operator.choices)
    value = serializers.CharField(
        allow_blank=True, trim_whitespace=False,
        help_text="Text to compare, or an RE2 pattern (at most 512 characters) for regex operators.",
    )

    class Meta:
        model = SuppressionRule
        fields = [
            "id", "name", "field", "operator", "value", "enabled", "order", "team", "integration_key",
            "expires_at", "hit_count", "last_hit_at",
        ]
        read_only_fields = ["hit_count", "last_hit_at"]

    def get_fields(self):
        fields = super().get_fields()
        request = self.context.get("request")
        if request is not None:
            fields["integration_key"].queryset = IntegrationKey.objects.for_user(request.user)
        return fields

    def validate_field(self, value):
        problem = field_error(value)
        if problem:
            raise serializers.ValidationError(problem)
        return value

    def validate(self, attrs):
        current = self.instance
        field_name = attrs.get("field", getattr(current, "field", ""))
        operator = attrs.get("operator", getattr(current, "operator", ""))
        value = attrs.get("value", getattr(current, "value", ""))
        errors = rule_errors(field_name, operator, value)
        team = attrs.get("team", getattr(current, "team", None))
        key = attrs.get("integration_key", getattr(current, "integration_key", None))
        if key is not None and team is not None and key.team_id != team.pk:
            errors["integration_key"] = "This key belongs to another team."
        if errors:
            raise serializers.ValidationError(errors)
        return attrs


def rule_team(team, key):
    """The team that administers a rule: its own, else its key's; None for global rules."""
    if team is not None:
        return team
    return key.team if key is not None else None


class SuppressionRuleViewSet(viewsets.ModelViewSet):
    serializer_class = SuppressionRuleSerializer

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):  # drf-spectacular reading the types
            return SuppressionRule.objects.none()
        user = self.request.user
        rules = SuppressionRule.objects.select_related("team", "integration_key__team").order_by("order", "id")
        if user.is_superuser:
            return rules
        visible = SuppressionRule.objects.filter(
            Q(team__memberships__user=user)
            | Q(integration_key__team__memberships__user=user)
            | Q(team__isnull=True, integration_key__isnull=True)
        )
        return rules.filter(pk__in=visible.values("pk"))

    def perform_create(self, serializer):
        data = serializer.validated_data
        require_team_admin(self.request.user, rule_team(data.get("team"), data.get("integration_key")))
        serializer.save(created_by=self.request.user)

    def perform_update(self, serializer):
        rule = serializer.instance
        require_team_admin(self.request.user, rule_team(rule.team, rule.integration_key))
        data = serializer.validated_data
        # Moving a rule needs admin rights where it lands too.
        require_team_admin(
            self.request.user,
            rule_team(data.get("team", rule.team), data.get("integration_key", rule.integration_key)),
        )
        serializer.save()

    def perform_destroy(self, instance):
        require_team_admin(self.request.user, rule_team(instance.team, instance.integration_key))
        instance.delete()
