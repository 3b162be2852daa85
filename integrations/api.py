"""`/api/v1/integration-keys/`: list, create, revoke, rotate.

The raw key is in exactly one response: the one that creates it (create, or rotate for the
new key), as the field `key`. Every other answer carries only the display prefix. Team
members see their teams' keys (another team's key is a 404); team admins write."""

from __future__ import annotations

from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.response import Response

from escalation.models import EscalationPolicy
from integrations.models import IntegrationKey
from oncall.fields import TeamField
from oncall.permissions import IsTeamAdminOrReadOnly, require_team_admin, shared_or_visible


class IntegrationKeySerializer(serializers.ModelSerializer):
    team = TeamField(required=False, allow_null=True, help_text="Team slug or id.")
    escalation_policy = serializers.PrimaryKeyRelatedField(queryset=EscalationPolicy.objects.all())
    created_by = serializers.StringRelatedField()
    is_active = serializers.BooleanField(read_only=True)

    class Meta:
        model = IntegrationKey
        fields = [
            "id", "name", "key_prefix", "escalation_policy", "team", "grouping_type",
            "grouping_window_seconds", "grouping_labels", "group_by_alertmanager_group_key",
            "flapping_threshold", "flapping_window_seconds", "heartbeat_interval_seconds",
            "heartbeat_grace_seconds", "created_by", "created_at", "last_used_at", "revoked_at",
            "is_active", "rotated_from",
        ]
        read_only_fields = ["key_prefix", "created_by", "created_at", "last_used_at", "revoked_at", "rotated_from"]

    def get_fields(self):
        fields = super().get_fields()
        request = self.context.get("request")
        if request is not None and request.user.is_authenticated:
            # A user picks among their teams' policies and the shared ones only.
            fields["escalation_policy"].queryset = shared_or_visible(EscalationPolicy.objects.all(), request.user)
        if isinstance(self.instance, IntegrationKey):
            fields["team"].read_only = True  # moving a key to another team is not a PATCH
        return fields

    def validate_grouping_labels(self, value):
        if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
            raise serializers.ValidationError("A list of label names.")
        return value

    def validate(self, attrs):
        user = self.context["request"].user
        team = attrs.get("team", getattr(self.instance, "team", None))
        policy = attrs.get("escalation_policy", getattr(self.instance, "escalation_policy", None))
        if self.instance is None and team is None and not user.is_superuser:
            raise serializers.ValidationError({"team": "Give the team this key belongs to."})
        if policy is not None and policy.team_id is not None and policy.team_id != getattr(team, "pk", None):
            raise serializers.ValidationError({"escalation_policy": "This policy belongs to another team."})
        return attrs


class NewIntegrationKeySerializer(IntegrationKeySerializer):
    """The answer that creates a key: the only one that carries the raw key."""

    key = serializers.CharField(read_only=True, help_text="The raw key. Shown in this response only.")

    class Meta(IntegrationKeySerializer.Meta):
        fields = IntegrationKeySerializer.Meta.fields + ["key"]


def new_key_answer(key: IntegrationKey, raw: str, context: dict) -> Response:
    data = dict(IntegrationKeySerializer(key, context=context).data, key=raw)
    return Response(data, status=status.HTTP_201_CREATED)


@extend_schema(parameters=[OpenApiParameter("state", str, enum=["active", "revoked"])])
class IntegrationKeyViewSet(
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.CreateModelMixin,
    mixins.UpdateModelMixin,
    viewsets.GenericViewSet,
):
    serializer_class = IntegrationKeySerializer
    permission_classes = [IsTeamAdminOrReadOnly]
    http_method_names = ["get", "post", "patch", "head", "options"]

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):  # drf-spectacular, anonymous: no rows
            return IntegrationKey.objects.none()
        qs = (
            IntegrationKey.objects.for_user(self.request.user)
            .select_related("team", "escalation_policy", "created_by")
            .order_by("name", "id")
        )
        state = self.request.query_params.get("state")
        if state == "active":
            qs = qs.filter(revoked_at__isnull=True)
        elif state == "revoked":
            qs = qs.filter(revoked_at__isnull=False)
        return qs

    @extend_schema(request=IntegrationKeySerializer, responses={201: NewIntegrationKeySerializer})
    def create(self, request, *args, **kwargs):
        serializer = self.get_serializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        require_team_admin(request.user, serializer.validated_data.get("team"))
        key, raw = IntegrationKey.create_with_raw_key(created_by=request.user, **serializer.validated_data)
        return new_key_answer(key, raw, self.get_serializer_context())

    @extend_schema(request=None, responses=IntegrationKeySerializer)
    @action(detail=True, methods=["post"])
    def revoke(self, request, pk=None):
        """Revoke the key: the next request that presents it is rejected."""
        key = self.get_object()
        key.revoke()
        return Response(self.get_serializer(key).data)

    @extend_schema(request=None, responses={201: NewIntegrationKeySerializer})
    @action(detail=True, methods=["post"])
    def rotate(self, request, pk=None):
        """Issue a new key with the same settings; the old one works until it is revoked."""
        key = self.get_object()
        if not key.is_active:
            raise serializers.ValidationError({"detail": "A revoked key cannot be rotated."})
        new_key, raw = key.rotate(by=request.user)
        return new_key_answer(new_key, raw, self.get_serializer_context())
