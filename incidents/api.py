"""REST API for people and scripts: incidents, scoped to the user's teams."""

from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_field
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import ValidationError
from rest_framework.generics import get_object_or_404  # a non-numeric id is a 404, not a 500
from rest_framework.response import Response

from incidents import actions
from incidents.models import Alert, Incident
from incidents.timeline import TimelineItem, build_timeline, entry_item


class AlertSerializer(serializers.ModelSerializer):
    class Meta:
        model = Alert
        fields = ["id", "dedup_key", "status", "summary", "severity", "labels", "count",
                  "first_seen_at", "last_seen_at", "resolved_at"]


class TimelineItemSerializer(serializers.Serializer):
    """An item of incidents.timeline (the portal's timeline, the same code) in the REST
    shape: an event's reason joins its message, and the actor is the person's login."""

    at = serializers.DateTimeField()
    kind = serializers.CharField()
    message = serializers.SerializerMethodField()
    actor = serializers.CharField(source="actor_username", allow_null=True)
    outcome = serializers.CharField(allow_null=True)

    def get_message(self, item: TimelineItem) -> str:
        return f"{item.message} ({item.reason})" if item.reason else item.message


class IncidentSerializer(serializers.ModelSerializer):
    team = serializers.SlugRelatedField(slug_field="slug", read_only=True)
    integration_key = serializers.SerializerMethodField()
    acknowledged_by = serializers.StringRelatedField()
    resolved_by = serializers.StringRelatedField()

    class Meta:
        model = Incident
        fields = [
            "id", "status", "severity", "original_severity", "summary", "dedup_key", "source",
            "component", "group", "event_class", "team", "integration_key", "alert_count",
            "first_seen_at", "last_seen_at", "acknowledged_at", "acknowledged_by",
            "resolved_at", "resolved_by", "is_flapping",
        ]

    def get_integration_key(self, incident) -> dict | None:
        key = incident.integration_key
        if key is None:
            return None
        return {"id": key.pk, "name": key.name, "prefix": key.key_prefix}


class IncidentDetailSerializer(IncidentSerializer):
    alerts = AlertSerializer(many=True, read_only=True)
    timeline = serializers.SerializerMethodField()

    class Meta(IncidentSerializer.Meta):
        fields = IncidentSerializer.Meta.fields + [
            "labels", "details", "links", "images", "runbook", "entity", "latest",
            "escalation_step", "next_escalation_at", "alerts", "timeline",
        ]

    @extend_schema_field(TimelineItemSerializer(many=True))
    def get_timeline(self, incident) -> list[dict]:
        """Events received and everything people and the engine did, in time order: the
        newest incidents.timeline.DEFAULT_LIMIT of each, as on the portal."""
        return TimelineItemSerializer(build_timeline(incident).items, many=True).data


class NoteSerializer(serializers.Serializer):
    text = serializers.CharField(max_length=10000)


class ActionAnswerSerializer(serializers.Serializer):
    status = serializers.CharField()
    message = serializers.CharField()
    incident = IncidentSerializer()


@extend_schema(
    parameters=[
        OpenApiParameter("status", str, enum=Incident.Status.values),
        OpenApiParameter("severity", str),
        OpenApiParameter("team", str, description="team slug"),
        OpenApiParameter("integration_key", str, description="key id or display prefix"),
        OpenApiParameter("dedup_key", str),
    ]
)
class IncidentViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    serializer_class = IncidentSerializer

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):  # drf-spectacular, anonymous: no rows
            return Incident.objects.none()
        qs = (
            Incident.objects.visible_to(self.request.user)
            .select_related("team", "integration_key", "acknowledged_by", "resolved_by")
            .order_by("-id")
        )
        params = self.request.query_params
        if any("\x00" in value for value in params.values()):  # PostgreSQL text cannot hold NUL
            raise ValidationError({"detail": "Query parameters cannot contain NUL characters."})
        if params.get("status"):
            qs = qs.filter(status=params["status"])
        if params.get("severity"):
            qs = qs.filter(severity=params["severity"])
        if params.get("team"):
            qs = qs.filter(team__slug=params["team"])
        if params.get("integration_key"):
            value = params["integration_key"]
            qs = qs.filter(integration_key_id=value) if value.isdecimal() else qs.filter(
                integration_key__key_prefix=value
            )
        if params.get("dedup_key"):
            qs = qs.filter(alerts__dedup_key=params["dedup_key"]).distinct()
        return qs

    def get_serializer_class(self):
        if self.action == "retrieve":
            return IncidentDetailSerializer
        return IncidentSerializer

    def get_object(self):
        # Another team's incident is a 404, not a 403: its existence is not confirmed.
        visible = Incident.objects.visible_to(self.request.user).select_related(
            "team", "integration_key", "acknowledged_by", "resolved_by"
        )
        return get_object_or_404(visible, pk=self.kwargs["pk"])

    def _answer(self, result):
        result.incident.refresh_from_db()
        return Response(
            {
                "status": "success" if result.changed else "unchanged",
                "message": result.message,
                "incident": IncidentSerializer(result.incident).data,
            }
        )

    @extend_schema(request=None, responses=ActionAnswerSerializer)
    @action(detail=True, methods=["post"])
    def acknowledge(self, request, pk=None):
        incident = self.get_object()
        return self._answer(actions.do_acknowledge_incident(incident.pk, by=request.user, via="api"))

    @extend_schema(request=None, responses=ActionAnswerSerializer)
    @action(detail=True, methods=["post"])
    def resolve(self, request, pk=None):
        incident = self.get_object()
        return self._answer(actions.do_resolve_incident(incident.pk, by=request.user, via="api"))

    @extend_schema(request=NoteSerializer, responses={201: TimelineItemSerializer})
    @action(detail=True, methods=["post"])
    def notes(self, request, pk=None):
        incident = self.get_object()
        serializer = NoteSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        entry = actions.do_add_note(incident.pk, by=request.user, text=serializer.validated_data["text"])
        return Response(TimelineItemSerializer(entry_item(entry)).data, status=status.HTTP_201_CREATED)
