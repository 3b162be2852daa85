"""`/api/v1/oncall/` (who is on call, my shifts, my calendar link) and `/api/v1/schedules/`
(schedules with their rotations and overrides).

Members read their teams' schedules (another team's is a 404); team admins write; a
team-less schedule is the superusers'. People named in a schedule must be members of its
team, so a schedule can neither page nor reveal a stranger."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from django.contrib.auth import get_user_model
from django.db import transaction
from django.utils import timezone
from django.utils.dateparse import parse_datetime
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import ValidationError
from rest_framework.response import Response

from oncall.calendar import feed_url
from oncall.fields import TeamField
from oncall.models import (
    CalendarFeedToken,
    Rotation,
    RotationParticipant,
    Schedule,
    ScheduleOverride,
    Team,
    new_calendar_secret,
    validate_timezone,
)
from oncall.permissions import IsTeamAdminOrReadOnly, require_team_admin, visible_to_members
from oncall.schedule import (
    load_schedule,
    on_call_user_ids,
    rotation_spec,
    shift_index,
    shift_start,
    upcoming_shifts,
)


def person(user) -> dict:
    return {"id": user.pk, "username": user.get_username(), "name": user.get_full_name()}


def schedule_ref(schedule: Schedule) -> dict:
    return {"id": schedule.pk, "name": schedule.name, "team": schedule.team.slug if schedule.team else None,
            "time_zone": schedule.time_zone}


AT_EARLIEST = datetime(1900, 1, 1, tzinfo=UTC)
AT_LATEST = datetime(9000, 1, 1, tzinfo=UTC)


def parse_at(raw: str | None) -> datetime:
    """`?at=` as ISO-8601; a time without an offset is UTC."""
    if not raw:
        return timezone.now()
    try:
        value = parse_datetime(raw.strip().replace(" ", "+"))
    except ValueError:
        value = None
    if value is None:
        raise ValidationError({"at": ["Give an ISO-8601 date and time, e.g. 2026-03-29T09:00:00Z."]})
    value = value if value.tzinfo else value.replace(tzinfo=UTC)
    # Schedule math converts to UTC and to the schedule's zone and steps whole shifts either
    # way: at the ends of the calendar (0001-01-01T00:00+14:00) that overflows.
    try:
        in_range = AT_EARLIEST <= value.astimezone(UTC) <= AT_LATEST
    except OverflowError:
        in_range = False
    if not in_range:
        raise ValidationError({"at": [f"Give a time between {AT_EARLIEST.year} and {AT_LATEST.year}."]})
    return value


# --- schedules -------------------------------------------------------------------------


class RotationSerializer(serializers.ModelSerializer):
    id = serializers.IntegerField(required=False, help_text="Give it to edit a rotation in place.")
    participants = serializers.ListField(
        child=serializers.IntegerField(), required=False, write_only=True,
        help_text="User ids, in rotation order.",
    )

    class Meta:
        model = Rotation
        fields = [
            "id", "name", "order", "shift_kind", "shift_hours", "handoff_time", "start",
            "restrict_weekdays", "restrict_start_time", "restrict_end_time", "participants",
        ]

    def to_representation(self, instance):
        data = super().to_representation(instance)
        data["participants"] = [p.user_id for p in instance.participants.all()]
        return data

    def validate_restrict_weekdays(self, value):
        if not isinstance(value, list) or not all(isinstance(d, int) and 0 <= d <= 6 for d in value):
            raise serializers.ValidationError("A list of weekdays, 0 (Monday) to 6 (Sunday).")
        return sorted(set(value))

    def validate(self, attrs):
        if attrs.get("shift_kind") == Rotation.ShiftKind.CUSTOM and attrs.get("shift_hours", 24) < 1:
            raise serializers.ValidationError({"shift_hours": "At least one hour."})
        if (attrs.get("restrict_start_time") is None) != (attrs.get("restrict_end_time") is None):
            raise serializers.ValidationError(
                {"restrict_start_time": "Give both restriction times, or neither."}
            )
        return attrs


class OverrideSerializer(serializers.ModelSerializer):
    id = serializers.IntegerField(required=False)
    user = serializers.IntegerField(source="user_id")

    class Meta:
        model = ScheduleOverride
        fields = ["id", "user", "start", "end"]

    def validate(self, attrs):
        if attrs["end"] <= attrs["start"]:
            raise serializers.ValidationError({"end": "The override must end after it starts."})
        return attrs


class ScheduleSerializer(serializers.ModelSerializer):
    team = TeamField(required=False, allow_null=True, help_text="Team slug or id.")
    rotations = RotationSerializer(many=True, required=False)
    overrides = OverrideSerializer(many=True, required=False, help_text="Current and future ones.")

    class Meta:
        model = Schedule
        fields = ["id", "name", "team", "time_zone", "description", "rotations", "overrides", "created_at"]
        read_only_fields = ["created_at"]

    def to_representation(self, instance):
        data = super().to_representation(instance)
        now = timezone.now()
        data["overrides"] = OverrideSerializer(
            [o for o in instance.overrides.all() if o.end > now], many=True
        ).data
        return data

    def validate_time_zone(self, value):
        try:
            validate_timezone(value)
        except Exception:
            raise serializers.ValidationError(f"{value!r} is not a known IANA time zone.") from None
        return value

    def validate(self, attrs):
        user = self.context["request"].user
        team = attrs.get("team", getattr(self.instance, "team", None))
        if self.instance is None and team is None and not user.is_superuser:
            raise serializers.ValidationError({"team": "Give the team this schedule belongs to."})
        people = {pk for r in attrs.get("rotations", []) for pk in r.get("participants", [])}
        people |= {o["user_id"] for o in attrs.get("overrides", [])}
        allowed = eligible_user_ids(team, people)
        strangers = sorted(people - allowed)
        if strangers:
            raise serializers.ValidationError(
                {"participants": [f"User {pk} is not a member of the schedule's team." for pk in strangers]}
            )
        return attrs

    @transaction.atomic
    def create(self, validated_data):
        rotations = validated_data.pop("rotations", [])
        overrides = validated_data.pop("overrides", [])
        schedule = Schedule.objects.create(**validated_data)
        for data in rotations:
            data.pop("id", None)
            _save_rotation(schedule, None, data)
        for data in overrides:
            data.pop("id", None)
            ScheduleOverride.objects.create(schedule=schedule, **data)
        return schedule

    @transaction.atomic
    def update(self, instance, validated_data):
        rotations = validated_data.pop("rotations", None)
        overrides = validated_data.pop("overrides", None)
        for field, value in validated_data.items():
            setattr(instance, field, value)
        instance.save()
        if rotations is not None:
            existing = {r.pk: r for r in instance.rotations.prefetch_related("participants")}
            keep = set()
            for data in rotations:
                rotation = existing.get(data.pop("id", None))
                keep.add(_save_rotation(instance, rotation, data).pk)
            instance.rotations.exclude(pk__in=keep).delete()
        if overrides is not None:
            upcoming = {o.pk: o for o in instance.overrides.filter(end__gt=timezone.now())}
            keep = set()
            for data in overrides:
                override = upcoming.get(data.pop("id", None)) or ScheduleOverride(schedule=instance)
                for field, value in data.items():
                    setattr(override, field, value)
                override.save()
                keep.add(override.pk)
            # Past overrides are history; only current and future ones are replaced.
            instance.overrides.filter(pk__in=set(upcoming) - keep).delete()
        return instance


def eligible_user_ids(team: Team | None, user_ids: set[int]) -> set[int]:
    users = get_user_model().objects.filter(pk__in=user_ids, is_active=True)
    if team is not None:
        users = users.filter(team_memberships__team=team)
    return set(users.values_list("pk", flat=True))


def _save_rotation(schedule: Schedule, rotation: Rotation | None, data: dict) -> Rotation:
    """Create or edit one rotation. An edit that changes who rotates or how (without a new
    start) keeps the person on call now on call until their shift ends: the rotation is
    re-anchored at that shift's start, with that person first."""
    participants = data.pop("participants", None)
    if rotation is None:
        rotation = Rotation(schedule=schedule)
        for field, value in data.items():
            setattr(rotation, field, value)
        rotation.save()
    else:
        before = rotation_spec(rotation)
        for field, value in data.items():
            setattr(rotation, field, value)
        reshaped = (participants is not None and tuple(participants) != before.user_ids) or any(
            getattr(rotation, f) != getattr(before, f) for f in ("shift_kind", "shift_hours")
        ) or rotation.handoff_time != before.handoff_time
        people = list(participants) if participants is not None else list(before.user_ids)
        if reshaped and rotation.start == before.start and people:
            participants, rotation.start = _reanchor(before, people, ZoneInfo(schedule.time_zone))
        rotation.save()
    if participants is not None:
        rotation.participants.all().delete()
        RotationParticipant.objects.bulk_create(
            RotationParticipant(rotation=rotation, user_id=pk, position=i) for i, pk in enumerate(participants)
        )
    return rotation


def _reanchor(before, participants: list[int], tz: ZoneInfo) -> tuple[list[int], datetime]:
    now = timezone.now()
    index = shift_index(before, now, tz)
    if index is None or not before.user_ids:
        return participants, before.start  # not started yet: nothing to keep
    current = before.user_ids[index % len(before.user_ids)]
    if current in participants:
        at = participants.index(current)
        return participants[at:] + participants[:at], shift_start(before, now, tz)
    return participants, now


class ScheduleViewSet(viewsets.ModelViewSet):
    serializer_class = ScheduleSerializer
    permission_classes = [IsTeamAdminOrReadOnly]

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return Schedule.objects.none()
        return (
            visible_to_members(Schedule.objects.all(), self.request.user)
            .select_related("team")
            .prefetch_related("rotations__participants", "overrides")
            .order_by("name", "id")
            .distinct()
        )

    def perform_create(self, serializer):
        require_team_admin(self.request.user, serializer.validated_data.get("team"))
        serializer.save()

    def perform_update(self, serializer):
        if "team" in serializer.validated_data:
            require_team_admin(self.request.user, serializer.validated_data["team"])
        serializer.save()

    @extend_schema(request=OverrideSerializer, responses={201: OverrideSerializer})
    @action(detail=True, methods=["post"])
    def overrides(self, request, pk=None):
        """Add one override: this user covers the schedule from start to end."""
        schedule = self.get_object()
        serializer = OverrideSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        user_id = serializer.validated_data["user_id"]
        if user_id not in eligible_user_ids(schedule.team, {user_id}):
            raise ValidationError({"user": ["Not a member of the schedule's team."]})
        override = ScheduleOverride.objects.create(schedule=schedule, **serializer.validated_data)
        return Response(OverrideSerializer(override).data, status=status.HTTP_201_CREATED)

    @extend_schema(request=None, responses={204: None})
    @action(detail=True, methods=["delete"], url_path=r"overrides/(?P<override_id>\d+)")
    def delete_override(self, request, pk=None, override_id=None):
        schedule = self.get_object()
        deleted, _ = ScheduleOverride.objects.filter(schedule=schedule, pk=override_id).delete()
        if not deleted:
            return Response({"detail": "No such override."}, status=status.HTTP_404_NOT_FOUND)
        return Response(status=status.HTTP_204_NO_CONTENT)


# --- who is on call ----------------------------------------------------------------------


class PersonSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    username = serializers.CharField()
    name = serializers.CharField()


class ScheduleRefSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField()
    team = serializers.CharField(allow_null=True)
    time_zone = serializers.CharField()


class OnCallRowSerializer(serializers.Serializer):
    schedule = ScheduleRefSerializer()
    on_call = PersonSerializer(many=True)


class OnCallAnswerSerializer(serializers.Serializer):
    at = serializers.DateTimeField()
    results = OnCallRowSerializer(many=True)


class ShiftSerializer(serializers.Serializer):
    schedule = ScheduleRefSerializer()
    start = serializers.DateTimeField()
    end = serializers.DateTimeField()


class ShiftsAnswerSerializer(serializers.Serializer):
    results = ShiftSerializer(many=True)


class CalendarUrlSerializer(serializers.Serializer):
    url = serializers.URLField(allow_null=True)


class OnCallViewSet(viewsets.ViewSet):
    """Who is on call (now or `?at=`), my upcoming shifts, and my calendar link."""

    @extend_schema(responses=OnCallAnswerSerializer, parameters=[
        OpenApiParameter("at", str, description="ISO-8601 instant; default now."),
        OpenApiParameter("schedule", int, description="Only this schedule."),
    ])
    def list(self, request):
        at = parse_at(request.query_params.get("at"))
        schedules = visible_to_members(Schedule.objects.all(), request.user).select_related("team")
        schedule_id = request.query_params.get("schedule")
        if schedule_id:
            if not schedule_id.isdecimal():
                raise ValidationError({"schedule": ["A schedule id."]})
            schedules = schedules.filter(pk=int(schedule_id))
        rows = []
        for schedule in schedules.order_by("name", "id").distinct():
            user_ids = on_call_user_ids(load_schedule(schedule, (at, at + timedelta(microseconds=1))), at)
            rows.append((schedule, user_ids))
        people = get_user_model().objects.in_bulk({pk for _, ids in rows for pk in ids})
        return Response({
            "at": at.isoformat(),
            "results": [
                {
                    "schedule": schedule_ref(s),
                    "on_call": [person(people[pk]) for pk in ids if pk in people],
                }
                for s, ids in rows
            ],
        })

    @extend_schema(responses=ShiftsAnswerSerializer,
                   parameters=[OpenApiParameter("weeks", int, description="How far ahead (1-26).")])
    @action(detail=False, methods=["get"])
    def shifts(self, request):
        """My shifts from now on, across every schedule I am in."""
        raw = request.query_params.get("weeks", "4")
        if not raw.isdecimal() or not 1 <= int(raw) <= 26:
            raise ValidationError({"weeks": ["A whole number of weeks, 1 to 26."]})
        now = timezone.now()
        shifts = upcoming_shifts(request.user, now, now + timedelta(weeks=int(raw)))
        return Response({"results": [
            {"schedule": schedule_ref(s), "start": shift.start.isoformat(),
             "end": shift.end.isoformat()}
            for s, shift in shifts
        ]})

    @extend_schema(request=None, responses=CalendarUrlSerializer)
    @action(detail=False, methods=["get", "post"])
    def calendar(self, request):
        """GET: my iCalendar subscription URL (null until made). POST: make it, or replace
        it (the old URL stops working at once)."""
        token = CalendarFeedToken.objects.filter(user=request.user).first()
        if request.method == "POST":
            if token is None:
                token = CalendarFeedToken.objects.create(user=request.user)
            else:
                token.secret = new_calendar_secret()
                token.save(update_fields=["secret"])
        return Response({"url": feed_url(token)})
