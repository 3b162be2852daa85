"""`/api/v1/teams/`: teams and their members with roles.

Everyone sees the teams they belong to (superusers: all; another team is a 404). Superusers
create and delete teams; team admins rename their team and add, re-role or remove members."""

from __future__ import annotations

from django.contrib.auth import get_user_model
from django.db import transaction
from django.db.models import Prefetch, ProtectedError
from django.shortcuts import get_object_or_404
from django.utils.text import slugify
from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import APIException, PermissionDenied
from rest_framework.response import Response

from oncall.models import Team, TeamMembership
from oncall.permissions import IsTeamAdminOrReadOnly


class MemberSerializer(serializers.ModelSerializer):
    user_id = serializers.IntegerField(source="user.pk", read_only=True)
    username = serializers.CharField(source="user.get_username", read_only=True)

    class Meta:
        model = TeamMembership
        fields = ["user_id", "username", "role"]


class TeamSerializer(serializers.ModelSerializer):
    slug = serializers.SlugField(max_length=100, required=False)
    members = MemberSerializer(source="memberships", many=True, read_only=True)

    class Meta:
        model = Team
        fields = ["id", "name", "slug", "created_at", "members"]
        read_only_fields = ["created_at"]

    def validate(self, attrs):
        if self.instance is None and not attrs.get("slug"):
            attrs["slug"] = slugify(attrs.get("name", ""))
            if not attrs["slug"]:
                raise serializers.ValidationError({"slug": "Give a slug: the name has no usable characters."})
        slug = attrs.get("slug")
        if slug and Team.objects.exclude(pk=getattr(self.instance, "pk", None)).filter(slug=slug).exists():
            raise serializers.ValidationError({"slug": "A team with this slug already exists."})
        return attrs


class MemberWriteSerializer(serializers.Serializer):
    user = serializers.CharField(help_text="User name or numeric user id.")
    role = serializers.ChoiceField(choices=TeamMembership.Role.choices, default=TeamMembership.Role.RESPONDER)

    def validate_user(self, value):
        User = get_user_model()
        lookup = {"pk": int(value)} if value.isdecimal() else {User.USERNAME_FIELD: value}
        user = User.objects.filter(is_active=True, **lookup).first()
        if user is None:
            raise serializers.ValidationError("No active user with this name or id.")
        return user


def keeps_an_admin(team: Team, without_user_id: int) -> bool:
    return team.memberships.filter(role=TeamMembership.Role.ADMIN).exclude(user_id=without_user_id).exists()


class TeamInUse(APIException):
    """409, as for an escalation policy still in use (escalation/api.py)."""

    status_code = status.HTTP_409_CONFLICT
    default_detail = "Escalation policies still belong to this team; move or delete them first."


class TeamViewSet(viewsets.ModelViewSet):
    serializer_class = TeamSerializer
    permission_classes = [IsTeamAdminOrReadOnly]
    # `/teams/sre/` and `/teams/3/` both work.
    lookup_value_regex = "[^/]+"
    http_method_names = ["get", "post", "patch", "delete", "head", "options"]

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):  # drf-spectacular, anonymous: no rows
            return Team.objects.none()
        members = TeamMembership.objects.select_related("user").order_by("role", "user__username")
        return (
            Team.objects.for_user(self.request.user)
            .prefetch_related(Prefetch("memberships", queryset=members))
            .order_by("name")
        )

    def get_object(self):
        value = self.kwargs[self.lookup_field]
        lookup = {"pk": int(value)} if value.isdecimal() else {"slug": value}
        team = get_object_or_404(self.get_queryset(), **lookup)
        self.check_object_permissions(self.request, team)
        return team

    def perform_create(self, serializer):
        if not self.request.user.is_superuser:
            raise PermissionDenied("Only superusers create teams.")
        serializer.save()

    def perform_destroy(self, instance):
        if not self.request.user.is_superuser:
            raise PermissionDenied("Only superusers delete teams.")
        try:
            instance.delete()
        except ProtectedError:  # raised before anything is deleted
            raise TeamInUse() from None

    @extend_schema(request=MemberWriteSerializer, responses={200: MemberSerializer(many=True), 201: MemberSerializer})
    @action(detail=True, methods=["get", "post"])
    def members(self, request, pk=None):
        """GET: the members and their roles. POST {user, role}: add a member or change a role."""
        team = self.get_object()
        if request.method == "GET":
            return Response(MemberSerializer(team.memberships.all(), many=True).data)
        write = MemberWriteSerializer(data=request.data)
        write.is_valid(raise_exception=True)
        user, role = write.validated_data["user"], write.validated_data["role"]
        with transaction.atomic():
            membership = (
                TeamMembership.objects.select_for_update().filter(team=team, user=user).first()
            )
            if membership is None:
                membership = TeamMembership.objects.create(team=team, user=user, role=role)
                return Response(MemberSerializer(membership).data, status=status.HTTP_201_CREATED)
            if role != TeamMembership.Role.ADMIN:
                self.refuse_leaving_no_admin(team, user.pk)
            membership.role = role
            membership.save(update_fields=["role"])
        return Response(MemberSerializer(membership).data)

    @extend_schema(request=None, responses={204: None})
    @action(detail=True, methods=["delete"], url_path=r"members/(?P<user_id>\d+)")
    def remove_member(self, request, pk=None, user_id=None):
        team = self.get_object()
        with transaction.atomic():
            membership = get_object_or_404(
                TeamMembership.objects.select_for_update(), team=team, user_id=int(user_id)
            )
            if membership.role == TeamMembership.Role.ADMIN:
                self.refuse_leaving_no_admin(team, membership.user_id)
            membership.delete()
        return Response(status=status.HTTP_204_NO_CONTENT)

    def refuse_leaving_no_admin(self, team: Team, user_id: int) -> None:
        # A team without an admin could only be managed by superusers again.
        if not self.request.user.is_superuser and not keeps_an_admin(team, user_id):
            raise serializers.ValidationError({"role": "A team keeps at least one admin."})
