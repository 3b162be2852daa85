"""The portal's Teams pages: my teams, one team's members and roles, and for its admins
the pending invitations (revoke, send again), the invite form (email + role), role changes
and removal (with a confirm page). Members read; only team admins (and superusers) change
anything, so a responder's POST is a 403 and another team is a 404. Superusers also get the
Users page (every account, its teams and roles).

Inviting answers the same whatever the address (an account or not): see
`oncall.invitations`."""

from __future__ import annotations

from django import forms
from django.contrib import messages
from django.contrib.auth import get_user_model
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.db.models import Count, Prefetch
from django.http import Http404
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from oncall import invitations, membership
from oncall.api_teams import TeamSerializer
from oncall.models import Team, TeamInvitation, TeamMembership
from oncall.permissions import is_team_admin, teams_of


class InviteForm(forms.Form):
    email = forms.EmailField(label="Email address", max_length=254)
    role = forms.ChoiceField(choices=TeamMembership.Role.choices, initial=TeamMembership.Role.RESPONDER)


class TeamCreateForm(forms.Form):
    name = forms.CharField(max_length=100)
    slug = forms.SlugField(max_length=100, required=False, help_text="Optional: made from the name.")
    first_admin = forms.EmailField(
        label="First admin's email", max_length=254,
        help_text="Invited as the team's admin; they join when they accept.",
    )


class RoleForm(forms.Form):
    role = forms.ChoiceField(choices=TeamMembership.Role.choices)


def team_for(request, slug: str, *, admin: bool = False) -> Team:
    """The team, if the user is in it (else 404); with admin=True, 403 unless they administer it."""
    team = teams_of(request.user).filter(slug=slug).distinct().first()
    if team is None:
        raise Http404("No such team of yours.")
    if admin and not is_team_admin(request.user, team):
        raise PermissionDenied("Only this team's admins can change it.")
    return team


def team_context(request, team: Team, invite_form: InviteForm | None = None) -> dict:
    can_edit = is_team_admin(request.user, team)
    members = list(team.memberships.select_related("user").order_by("role", "user__username"))
    return {
        "section": "teams", "team": team, "members": members, "can_edit": can_edit,
        "invitations": list(TeamInvitation.objects.filter(team=team).pending().select_related("invited_by"))
        if can_edit else [],
        "invite_form": invite_form or InviteForm(),
        "roles": TeamMembership.Role.choices,
    }


@login_required
@require_GET
def team_list(request):
    teams = (
        teams_of(request.user).distinct().annotate(member_count=Count("memberships", distinct=True))
        .order_by("name")
    )
    mine = dict(TeamMembership.objects.filter(user=request.user).values_list("team_id", "role"))
    rows = [{"team": team, "role": mine.get(team.pk)} for team in teams]
    return render(request, "oncall/teams.html", {"section": "teams", "rows": rows})


@login_required
@require_http_methods(["GET", "POST"])
def team_create(request):
    """Superusers make a team (as over REST) and invite its first admin by email; from then
    on that admin runs it. The name and slug go through the REST serializer, so both refuse
    the same teams."""
    if not request.user.is_superuser:
        raise PermissionDenied("Only superusers create teams.")
    form = TeamCreateForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        given = {k: form.cleaned_data[k] for k in ("name", "slug") if form.cleaned_data[k]}
        serializer = TeamSerializer(data=given)
        if serializer.is_valid():
            with transaction.atomic():
                team = serializer.save()
                invitation, raw = invitations.do_invite(
                    team, form.cleaned_data["first_admin"], TeamMembership.Role.ADMIN, request.user
                )
            if invitations.send_invitation(invitation, raw):
                messages.success(request, f"Team {team.name} created; {invitation.email} is invited as its admin.")
            else:
                messages.error(request, f"Team {team.name} created, but the invitation could not be mailed.")
            return redirect("team-detail", slug=team.slug)
        for field, errors in serializer.errors.items():
            for error in errors:
                form.add_error(field if field in form.fields else None, error)
    status = 400 if request.method == "POST" else 200
    return render(request, "oncall/team_create.html", {"section": "teams", "form": form}, status=status)


@login_required
@require_GET
def team_detail(request, slug: str):
    team = team_for(request, slug)
    return render(request, "oncall/team.html", team_context(request, team))


@login_required
@require_POST
def invite(request, slug: str):
    team = team_for(request, slug, admin=True)
    form = InviteForm(request.POST)
    if not form.is_valid():
        return render(request, "oncall/team.html", team_context(request, team, form), status=400)
    try:
        invitations.check_can_invite(team)
    except invitations.InvitationRefused as refused:
        messages.error(request, refused.reason)
        return redirect("team-detail", slug=team.slug)
    with transaction.atomic():
        invitation, raw = invitations.do_invite(team, form.cleaned_data["email"], form.cleaned_data["role"],
                                                request.user)
    sent = invitations.send_invitation(invitation, raw)
    # The same words for every address: whether it has an account is not the admin's to learn.
    if sent:
        messages.success(request, f"Invitation sent to {invitation.email}. They join when they accept it.")
    else:
        messages.error(request, f"The invitation to {invitation.email} could not be mailed; see the list below.")
    return redirect("team-detail", slug=team.slug)


@login_required
@require_POST
def revoke_invitation(request, slug: str, pk: int):
    team = team_for(request, slug, admin=True)
    if invitations.do_revoke(team, pk):
        messages.success(request, "The invitation was revoked; its link no longer works.")
    else:
        messages.info(request, "No such pending invitation.")
    return redirect("team-detail", slug=team.slug)


@login_required
@require_POST
def resend_invitation(request, slug: str, pk: int):
    team = team_for(request, slug, admin=True)
    with transaction.atomic():
        invitation = (TeamInvitation.objects.select_for_update(of=("self",)).filter(team=team, pk=pk).pending()
                      .select_related("team", "invited_by").first())
        if invitation is None:
            messages.info(request, "No such pending invitation.")
            return redirect("team-detail", slug=team.slug)
        raw = invitations.do_renew_token(invitation)
    if invitations.send_invitation(invitation, raw):
        messages.success(request, f"A new link was sent to {invitation.email}; the old one no longer works.")
    else:
        messages.error(request, f"The invitation to {invitation.email} could not be mailed; see the list below.")
    return redirect("team-detail", slug=team.slug)


@login_required
@require_POST
def change_role(request, slug: str, user_id: int):
    team = team_for(request, slug, admin=True)
    form = RoleForm(request.POST)
    if not form.is_valid():
        messages.error(request, "Pick a role from the list.")
        return redirect("team-detail", slug=team.slug)
    try:
        changed = membership.do_set_role(team, user_id, form.cleaned_data["role"], request.user)
    except membership.MembershipRefused as refused:
        messages.error(request, str(refused))
        return redirect("team-detail", slug=team.slug)
    if changed is None:
        raise Http404("Not a member of this team.")
    messages.success(request, f"{changed.user.get_username()} is now {changed.get_role_display().lower()}.")
    return redirect("team-detail", slug=team.slug)


@login_required
@require_http_methods(["GET", "POST"])
def remove_member(request, slug: str, user_id: int):
    """GET: the confirm page. POST: remove."""
    team = team_for(request, slug, admin=True)
    member = team.memberships.select_related("user").filter(user_id=user_id).first()
    if member is None:
        raise Http404("Not a member of this team.")
    if request.method == "GET":
        return render(request, "oncall/team_remove_confirm.html",
                      {"section": "teams", "team": team, "member": member})
    try:
        membership.do_remove(team, user_id, request.user)
    except membership.MembershipRefused as refused:
        messages.error(request, str(refused))
        return redirect("team-detail", slug=team.slug)
    messages.success(request, f"{member.user.get_username()} left {team.name}.")
    return redirect("team-detail", slug=team.slug)


@login_required
@require_GET
def user_list(request):
    """Superusers only: every account, its email and its teams."""
    if not request.user.is_superuser:
        raise PermissionDenied("Only superusers see every account.")
    people = (
        get_user_model().objects.order_by("username")
        .prefetch_related(Prefetch("team_memberships", queryset=TeamMembership.objects.select_related("team")))
    )
    return render(request, "oncall/users.html", {"section": "teams", "people": people})
