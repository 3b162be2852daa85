"""Who may change a team's configuration: its admins (and superusers), not only superusers.

Reads are scoped by each viewset's queryset (another team's rows are a 404, never a 403);
these helpers decide writes. A viewset whose objects are not a Team nor have a `team`
attribute sets `team_attribute` (a dotted path, e.g. "policy.team")."""

from __future__ import annotations

from django.db.models import Q, QuerySet
from rest_framework.exceptions import PermissionDenied
from rest_framework.permissions import SAFE_METHODS, BasePermission

from oncall.models import Team, TeamMembership


def is_team_admin(user, team: Team | None) -> bool:
    """Superusers administer every team; a team-less object belongs to superusers only."""
    if user is None or not user.is_authenticated:
        return False
    if user.is_superuser:
        return True
    if team is None:
        return False
    return TeamMembership.objects.filter(team=team, user=user, role=TeamMembership.Role.ADMIN).exists()


def require_team_admin(user, team: Team | None) -> None:
    """For creates, where the team comes from the request body, not from an object."""
    if not is_team_admin(user, team):
        if team is None:
            raise PermissionDenied("Only superusers manage configuration that belongs to no team.")
        raise PermissionDenied(f"Only admins of the team {team.slug!r} can do this.")


def teams_of(user) -> QuerySet[Team]:
    return Team.objects.for_user(user)


def teams_administered_by(user) -> QuerySet[Team]:
    return Team.objects.administered_by(user)


def visible_to_members(queryset: QuerySet, user, team_field: str = "team") -> QuerySet:
    """Rows of the user's teams (superusers: all). Team-less rows are superusers' only."""
    if user.is_superuser:
        return queryset
    return queryset.filter(**{f"{team_field}__memberships__user": user})


def shared_or_visible(queryset: QuerySet, user, team_field: str = "team") -> QuerySet:
    """Rows of the user's teams plus team-less (shared) rows, e.g. global policies to pick from."""
    if user.is_superuser:
        return queryset
    return queryset.filter(
        Q(**{f"{team_field}__memberships__user": user}) | Q(**{f"{team_field}__isnull": True})
    ).distinct()


def team_of(obj, attribute: str = "team") -> Team | None:
    if isinstance(obj, Team):
        return obj
    for part in attribute.split("."):
        obj = getattr(obj, part, None)
        if obj is None:
            return None
    return obj


class IsTeamAdminOrReadOnly(BasePermission):
    """Members read (the queryset already hides other teams); team admins write.

    Object-level only: for `create`, call `require_team_admin(user, team)` once the team in
    the body is known (e.g. in `perform_create`)."""

    message = "Only admins of this team can change it."

    def has_permission(self, request, view) -> bool:
        return bool(request.user and request.user.is_authenticated)

    def has_object_permission(self, request, view, obj) -> bool:
        if request.method in SAFE_METHODS:
            return True
        return is_team_admin(request.user, team_of(obj, getattr(view, "team_attribute", "team")))

