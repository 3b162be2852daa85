"""`/api/v1/escalation-policies/` (with nested steps), `/api/v1/contact-methods/` and
`/api/v1/notification-rules/` (the requesting user's own).

Policies: members read their teams' policies and the shared (team-less) ones; team admins
write; shared ones are the superusers'. A step may only name people, schedules and teams
the requesting user can see, so a policy can neither page nor probe a stranger; and the
people a team's policy pages must be members of that team (RELIABILITY T45): someone from
another team joins by invitation first. Editing a
policy never changes an incident already escalating: it follows its snapshot."""

from __future__ import annotations

from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import ProtectedError
from rest_framework import serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.response import Response

from escalation.channels import check_contact_address
from escalation.models import ContactMethod, EscalationPolicy, EscalationStep, NotificationRule
from escalation.redaction import shown_address
from oncall.fields import TeamField
from oncall.membership import non_members
from oncall.models import Schedule, Team
from oncall.permissions import IsTeamAdminOrReadOnly, require_team_admin, shared_or_visible


def visible_users(user):
    people = get_user_model().objects.filter(is_active=True)
    if user.is_superuser:
        return people
    return people.filter(team_memberships__team__memberships__user=user).distinct()


def visible_schedules(user):
    if user.is_superuser:
        return Schedule.objects.all()
    return Schedule.objects.filter(team__memberships__user=user).distinct()


class StepSerializer(serializers.ModelSerializer):
    users = serializers.PrimaryKeyRelatedField(many=True, required=False, queryset=get_user_model().objects.none())
    schedules = serializers.PrimaryKeyRelatedField(many=True, required=False, queryset=Schedule.objects.none())
    teams = serializers.PrimaryKeyRelatedField(many=True, required=False, queryset=Team.objects.none())

    class Meta:
        model = EscalationStep
        fields = ["id", "order", "delay_minutes", "users", "schedules", "teams"]
        read_only_fields = ["id", "order"]

    def get_fields(self):
        fields = super().get_fields()
        request = self.context.get("request")
        if request is not None and request.user.is_authenticated:
            # Unknown and invisible ids get the same answer: nothing leaks.
            fields["users"].child_relation.queryset = visible_users(request.user)
            fields["schedules"].child_relation.queryset = visible_schedules(request.user)
            fields["teams"].child_relation.queryset = Team.objects.for_user(request.user).distinct()
        return fields

    def validate(self, attrs):
        if not (attrs.get("users") or attrs.get("schedules") or attrs.get("teams")):
            raise serializers.ValidationError("A step needs at least one user, schedule or team.")
        return attrs


class PolicySerializer(serializers.ModelSerializer):
    team = TeamField(required=False, allow_null=True, help_text="Team slug or id.")
    steps = StepSerializer(many=True, required=False, help_text="In order; replaces all steps on update.")

    class Meta:
        model = EscalationPolicy
        fields = [
            "id", "name", "team", "repeat_count", "repeat_delay_minutes", "description", "steps",
            "created_at", "updated_at",
        ]
        read_only_fields = ["created_at", "updated_at"]

    def validate_repeat_count(self, value):
        if value > 20:
            raise serializers.ValidationError("At most 20 repeats.")
        return value

    def validate(self, attrs):
        user = self.context["request"].user
        team = attrs.get("team", getattr(self.instance, "team", None))
        if self.instance is None and team is None and not user.is_superuser:
            raise serializers.ValidationError({"team": "Give the team this policy belongs to."})
        if "steps" in attrs:
            people = {person.pk for step in attrs["steps"] for person in step.get("users", [])}
        elif self.instance is not None and "team" in attrs:
            # A policy moved to another team keeps its steps: their people must be members there too.
            people = set(EscalationStep.users.through.objects.filter(escalationstep__policy=self.instance)
                         .values_list("user_id", flat=True))
        else:
            people = set()
        strangers = non_members(team, people)
        if strangers:
            raise serializers.ValidationError({"steps": [
                f"User {pk} is not a member of the policy's team; invite them to the team first."
                for pk in strangers
            ]})
        return attrs

    @transaction.atomic
    def create(self, validated_data):
        steps = validated_data.pop("steps", [])
        policy = EscalationPolicy.objects.create(**validated_data)
        _write_steps(policy, steps)
        return policy

    @transaction.atomic
    def update(self, instance, validated_data):
        steps = validated_data.pop("steps", None)
        for field, value in validated_data.items():
            setattr(instance, field, value)
        instance.save()
        if steps is not None:
            instance.steps.all().delete()
            _write_steps(instance, steps)
        return instance


def _write_steps(policy: EscalationPolicy, steps: list[dict]) -> None:
    for order, data in enumerate(steps):
        step = EscalationStep.objects.create(policy=policy, order=order, delay_minutes=data.get("delay_minutes", 0))
        step.users.set(data.get("users", []))
        step.schedules.set(data.get("schedules", []))
        step.teams.set(data.get("teams", []))


class EscalationPolicyViewSet(viewsets.ModelViewSet):
    serializer_class = PolicySerializer
    permission_classes = [IsTeamAdminOrReadOnly]

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return EscalationPolicy.objects.none()
        return (
            shared_or_visible(EscalationPolicy.objects.all(), self.request.user)
            .select_related("team")
            .prefetch_related("steps__users", "steps__schedules", "steps__teams")
            .order_by("name", "id")
        )

    def perform_create(self, serializer):
        require_team_admin(self.request.user, serializer.validated_data.get("team"))
        serializer.save()

    def perform_update(self, serializer):
        if "team" in serializer.validated_data:
            require_team_admin(self.request.user, serializer.validated_data["team"])
        serializer.save()

    def destroy(self, request, *args, **kwargs):
        policy = self.get_object()
        try:
            policy.delete()
        except ProtectedError:
            names = sorted(policy.integration_keys.values_list("name", flat=True))
            return Response(
                {"detail": "Integration keys still use this policy: " + ", ".join(names)},
                status=status.HTTP_409_CONFLICT,
            )
        return Response(status=status.HTTP_204_NO_CONTENT)


# --- the requesting user's own contact methods and rules -----------------------------------


class ContactMethodSerializer(serializers.ModelSerializer):
    token = serializers.CharField(
        write_only=True, required=False, allow_blank=True, max_length=200,
        help_text="ntfy only: the access token for this topic (never returned).",
    )

    class Meta:
        model = ContactMethod
        # Made through the API, a method is verified (as in the admin): the API is how
        # operators script contact methods today. The Profile page verifies by code.
        fields = ["id", "kind", "address", "slack_format", "enabled", "verified", "disabled_reason", "created_at",
                  "token"]
        read_only_fields = ["created_at", "verified", "disabled_reason"]

    def to_representation(self, instance):
        # A push endpoint, an ntfy topic and an apprise URL are credentials: shown redacted.
        data = super().to_representation(instance)
        data["address"] = shown_address(instance.kind, instance.address)
        return data

    def _with_token(self, validated_data, instance=None):
        token = validated_data.pop("token", None)
        if token is not None:
            secrets = dict(getattr(instance, "secrets", None) or {})
            secrets["token"] = token
            validated_data["secrets"] = secrets
        return validated_data

    def create(self, validated_data):
        return super().create(self._with_token(validated_data))

    def update(self, instance, validated_data):
        if validated_data.get("enabled"):
            validated_data["disabled_reason"] = ""
        return super().update(instance, self._with_token(validated_data, instance))

    def validate(self, attrs):
        kind = attrs.get("kind", getattr(self.instance, "kind", None))
        address = attrs.get("address", getattr(self.instance, "address", ""))
        if kind == ContactMethod.Kind.PUSH and ("address" in attrs or "kind" in attrs):
            # A subscription is made by the browser, with its keys: POST /push/subscribe/.
            raise serializers.ValidationError(
                {"kind": "Push subscriptions are added from the browser that receives them (/push/)."})
        try:
            # A webhook's SSRF guard at save (again at send); phone numbers come back in E.164.
            normalised = check_contact_address(kind, address)
        except ValidationError as exc:
            raise serializers.ValidationError(exc.message_dict) from None
        if "address" in attrs:
            attrs["address"] = normalised
        return attrs


class ContactMethodViewSet(viewsets.ModelViewSet):
    serializer_class = ContactMethodSerializer

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return ContactMethod.objects.none()
        return ContactMethod.objects.filter(user=self.request.user).order_by("id")

    def perform_create(self, serializer):
        serializer.save(user=self.request.user)

    def create(self, request, *args, **kwargs):
        response = super().create(request, *args, **kwargs)
        # A webhook's signing secret is shown in this answer and never again.
        method = ContactMethod.objects.get(pk=response.data["id"])
        if method.signing_secret:
            response.data["signing_secret"] = method.signing_secret
        return response

    @action(detail=True, methods=["post"], url_path="rotate-signing-secret")
    def rotate_signing_secret(self, request, pk=None):
        """A new Standard Webhooks signing secret for this webhook, shown in this answer only;
        the old one stops working at once."""
        method = self.get_object()
        if method.kind != ContactMethod.Kind.WEBHOOK:
            return Response({"kind": ["Only outgoing webhooks are signed."]}, status=status.HTTP_400_BAD_REQUEST)
        return Response({"id": method.pk, "signing_secret": method.rotate_signing_secret()})


class NotificationRuleSerializer(serializers.ModelSerializer):
    contact_method = serializers.PrimaryKeyRelatedField(queryset=ContactMethod.objects.none())

    class Meta:
        model = NotificationRule
        fields = ["id", "contact_method", "delay_minutes", "urgency"]

    def get_fields(self):
        fields = super().get_fields()
        request = self.context.get("request")
        if request is not None and request.user.is_authenticated:
            fields["contact_method"].queryset = ContactMethod.objects.filter(user=request.user)
        return fields


class NotificationRuleViewSet(viewsets.ModelViewSet):
    serializer_class = NotificationRuleSerializer

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return NotificationRule.objects.none()
        return NotificationRule.objects.filter(user=self.request.user).order_by("delay_minutes", "id")

    def perform_create(self, serializer):
        serializer.save(user=self.request.user)
