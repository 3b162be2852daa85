"""`/api/v1/teams/`: teams and their members with roles.

Everyone sees the teams they belong to (superusers: all; another team is a 404). Superusers
create and delete teams; team admins rename their team, invite people by email, re-role
and remove members. A team admin never adds a person directly, and no answer to them says
whether a user id, name or email exists (RELIABILITY T45): `POST .../members/` with an
email always answers the same 202 (the invitee joins by accepting the mailed link), and a
`user` that is not already a member always gets the same 400. Superusers may still add a
user by id or name."""

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

from oncall import invitations, membership
from oncall.models import Team, TeamInvitation, TeamMembership
from oncall.permissions import IsTeamAdminOrReadOnly, require_team_admin


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
    email = serializers.EmailField(required=False, help_text="Invite this address (the invitee accepts by mail).")
    user = serializers.CharField(
        required=False,
        help_text="User name or numeric id of a current member (role change); superusers: of anyone (add).",
    )
    role = serializers.ChoiceField(choices=TeamMembership.Role.choices, default=TeamMembership.Role.RESPONDER)

    def validate(self, attrs):
        if ("email" in attrs) == ("user" in attrs):
            raise serializers.ValidationError(
                {"email": "Give either `email` (an invitation) or `user` (a current member's role)."}
            )
        return attrs


# The one answer to every invitation, whoever the address belongs to (or nobody).
INVITED_DETAIL = "Invitation sent. The person joins the team when they accept it from the email."
NOT_A_MEMBER = "Not a member of this team. Invite people by email: {\"email\": ..., \"role\": ...}."


def find_user(value: str, among=None):
    User = get_user_model()
    lookup = {"pk": int(value)} if value.isdecimal() else {User.USERNAME_FIELD: value}
    people = User.objects.filter(is_active=True) if among is None else among
    return people.filter(**lookup).first()


class InvitationSerializer(serializers.ModelSerializer):
    invited_by = serializers.CharField(source="invited_by.get_username", read_only=True, default=None)

    class Meta:
        model = TeamInvitation
        fields = ["id", "email", "role", "invited_by", "created_at", "expires_at", "send_error"]


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

    @extend_schema(request=MemberWriteSerializer,
                   responses={200: MemberSerializer(many=True), 201: MemberSerializer, 202: None})
    @action(detail=True, methods=["get", "post"])
    def members(self, request, pk=None):
        """GET: the members and their roles. POST {email, role}: invite (202, the same answer
        for every address). POST {user, role}: change a current member's role; superusers
        may also add anyone this way."""
        team = self.get_object()
        if request.method == "GET":
            return Response(MemberSerializer(team.memberships.all(), many=True).data)
        write = MemberWriteSerializer(data=request.data)
        write.is_valid(raise_exception=True)
        role = write.validated_data["role"]
        if "email" in write.validated_data:
            return self.invite(team, write.validated_data["email"], role)
        value = write.validated_data["user"]
        if request.user.is_superuser:
            user = find_user(value)
            if user is None:
                raise serializers.ValidationError({"user": "No active user with this name or id."})
        else:
            # Only people already in the team: no answer tells a stranger's id from a free one.
            user = find_user(value, among=get_user_model().objects.filter(team_memberships__team=team))
            if user is None:
                raise serializers.ValidationError({"user": NOT_A_MEMBER})
        with transaction.atomic():
            if not TeamMembership.objects.select_for_update().filter(team=team, user=user).exists():
                created = TeamMembership.objects.create(team=team, user=user, role=role)
                return Response(MemberSerializer(created).data, status=status.HTTP_201_CREATED)
            try:
                changed = membership.do_set_role(team, user.pk, role, request.user)
            except membership.MembershipRefused as refused:
                raise serializers.ValidationError({"role": str(refused)}) from None
        return Response(MemberSerializer(changed).data)

    def invite(self, team: Team, email: str, role: str) -> Response:
        try:
            invitations.check_can_invite(team)
        except invitations.InvitationRefused as refused:
            raise serializers.ValidationError({"email": refused.reason}) from None
        with transaction.atomic():
            invitation, raw = invitations.do_invite(team, email, role, self.request.user)
        invitations.send_invitation(invitation, raw)
        body = {"detail": INVITED_DETAIL, "email": invitation.email, "role": role}
        return Response(body, status=status.HTTP_202_ACCEPTED)

    @extend_schema(request=None, responses={200: InvitationSerializer(many=True)})
    @action(detail=True, methods=["get"])
    def invitations(self, request, pk=None):
        """Pending invitations (team admins)."""
        team = self.get_object()
        require_team_admin(request.user, team)
        pending = TeamInvitation.objects.filter(team=team).pending().select_related("invited_by")
        return Response(InvitationSerializer(pending, many=True).data)

    @extend_schema(request=None, responses={204: None})
    @action(detail=True, methods=["delete"], url_path=r"invitations/(?P<invitation_id>\d+)")
    def revoke_invitation(self, request, pk=None, invitation_id=None):
        team = self.get_object()
        require_team_admin(request.user, team)
        if not invitations.do_revoke(team, int(invitation_id)):
            return Response({"detail": "No such pending invitation."}, status=status.HTTP_404_NOT_FOUND)
        return Response(status=status.HTTP_204_NO_CONTENT)

    @extend_schema(request=None, responses={204: None})
    @action(detail=True, methods=["delete"], url_path=r"members/(?P<user_id>\d+)")
    def remove_member(self, request, pk=None, user_id=None):
        team = self.get_object()
        try:
            removed = membership.do_remove(team, int(user_id), request.user)
        except membership.MembershipRefused as refused:
            raise serializers.ValidationError({"role": str(refused)}) from None
        if not removed:
            return Response({"detail": "Not a member of this team."}, status=status.HTTP_404_NOT_FOUND)
        return Response(status=status.HTTP_204_NO_CONTENT)
