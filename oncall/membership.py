"""Changing who is in a team, shared by the REST API and the portal: a role change and a
removal, each under the membership row's lock. A team keeps at least one admin (else only
superusers could manage it again); superusers may leave a team without one.

Joining is `oncall.invitations` (or a superuser naming a user); nothing here adds a person."""

from __future__ import annotations

from django.db import transaction

from oncall.models import Team, TeamMembership


class MembershipRefused(ValueError):
    pass


def keeps_an_admin(team: Team, without_user_id: int) -> bool:
    return team.memberships.filter(role=TeamMembership.Role.ADMIN).exclude(user_id=without_user_id).exists()


def check_keeps_an_admin(team: Team, user_id: int, actor) -> None:
    if not actor.is_superuser and not keeps_an_admin(team, user_id):
        raise MembershipRefused("A team keeps at least one admin.")


@transaction.atomic
def do_set_role(team: Team, user_id: int, role: str, actor) -> TeamMembership | None:
    """The member's new role; None when they are not in the team."""
    membership = TeamMembership.objects.select_for_update().filter(team=team, user_id=user_id).first()
    if membership is None:
        return None
    if role != TeamMembership.Role.ADMIN and membership.role == TeamMembership.Role.ADMIN:
        check_keeps_an_admin(team, user_id, actor)
    membership.role = role
    membership.save(update_fields=["role"])
    return membership


@transaction.atomic
def do_remove(team: Team, user_id: int, actor) -> bool:
    membership = TeamMembership.objects.select_for_update().filter(team=team, user_id=user_id).first()
    if membership is None:
        return False
    if membership.role == TeamMembership.Role.ADMIN:
        check_keeps_an_admin(team, user_id, actor)
    membership.delete()
    return True


def non_members(team: Team | None, user_ids) -> list[int]:
    """The ids among `user_ids` that are not members of `team`, sorted: whom an escalation
    policy of that team must not page. A shared (team-less) policy is superusers' and may
    name anyone."""
    user_ids = set(user_ids)
    if team is None or not user_ids:
        return []
    members = set(team.memberships.filter(user_id__in=user_ids).values_list("user_id", flat=True))
    return sorted(user_ids - members)
