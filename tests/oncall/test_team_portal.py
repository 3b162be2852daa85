"""The portal's Teams pages: members read, team admins change (invite, re-role, remove
with a confirm page, revoke an invitation), superusers also see every account."""

from datetime import timedelta

import pytest
from django.core import mail
from django.utils import timezone

from oncall.models import Team, TeamInvitation, TeamMembership
from tests.factories import make_user

pytestmark = pytest.mark.django_db
ADMIN, RESPONDER = TeamMembership.Role.ADMIN, TeamMembership.Role.RESPONDER


@pytest.fixture
def invitation(team, team_admin):
    return TeamInvitation.objects.create(team=team, email="x@example.com", token_digest="a" * 64,
                                         invited_by=team_admin, expires_at=timezone.now() + timedelta(days=7))


def test_members_see_the_team_and_its_roles_but_no_edit_forms(web, team, team_admin, responder, invitation):
    page = web.get(f"/teams/{team.slug}/")
    html = page.content.decode()
    assert page.status_code == 200 and "ada" in html and "Rita Responder" in html
    assert "invite-form" not in html and "x@example.com" not in html and "Change role" not in html
    assert "SRE" in web.get("/teams/").content.decode()


def test_a_responders_posts_are_403_and_change_nothing(web, team, team_admin, responder, invitation):
    for path, data in [
        (f"/teams/{team.slug}/invite/", {"email": "y@example.com", "role": "admin"}),
        (f"/teams/{team.slug}/members/{team_admin.pk}/role/", {"role": "responder"}),
        (f"/teams/{team.slug}/members/{team_admin.pk}/remove/", {}),
        (f"/teams/{team.slug}/invitations/{invitation.pk}/revoke/", {}),
        (f"/teams/{team.slug}/invitations/{invitation.pk}/resend/", {}),
    ]:
        assert web.post(path, data).status_code == 403, path
    assert TeamMembership.objects.get(user=team_admin).role == ADMIN
    assert TeamInvitation.objects.get().revoked_at is None and TeamInvitation.objects.count() == 1
    assert mail.outbox == []


def test_another_team_is_404(client_of, other_team, responder):
    stranger = client_of(responder)
    assert stranger.get(f"/teams/{other_team.slug}/").status_code == 404
    assert stranger.post(f"/teams/{other_team.slug}/invite/", {"email": "y@example.com"}).status_code == 404


def test_an_admin_invites_from_the_page_and_sees_it_pending(client_of, team, team_admin):
    web = client_of(team_admin)
    page = web.post(f"/teams/{team.slug}/invite/", {"email": "New@Example.com", "role": "admin"}, follow=True)
    assert "Invitation sent to new@example.com" in page.content.decode()
    assert "new@example.com" in page.content.decode().split('id="invitations"')[1]
    assert mail.outbox[0].to == ["new@example.com"]
    assert TeamInvitation.objects.get().role == ADMIN


def test_a_bad_email_is_400_with_the_form(client_of, team, team_admin):
    response = client_of(team_admin).post(f"/teams/{team.slug}/invite/", {"email": "not-an-email"})
    assert response.status_code == 400 and "Enter a valid email address" in response.content.decode()
    assert not TeamInvitation.objects.exists()


def test_an_admin_revokes_and_resends_an_invitation(client_of, team, team_admin, invitation):
    web = client_of(team_admin)
    web.post(f"/teams/{team.slug}/invitations/{invitation.pk}/resend/")
    invitation.refresh_from_db()
    assert invitation.token_digest != "a" * 64 and len(mail.outbox) == 1  # a new link, the old one is dead
    web.post(f"/teams/{team.slug}/invitations/{invitation.pk}/revoke/")
    invitation.refresh_from_db()
    assert invitation.revoked_at is not None
    html = web.get(f"/teams/{team.slug}/").content.decode()
    assert 'id="invitations"' not in html and "No pending invitations." in html


def test_an_admin_changes_a_role_and_the_last_admin_stays(client_of, team, team_admin, responder):
    web = client_of(team_admin)
    web.post(f"/teams/{team.slug}/members/{responder.pk}/role/", {"role": "admin"})
    assert TeamMembership.objects.get(user=responder).role == ADMIN
    web.post(f"/teams/{team.slug}/members/{responder.pk}/role/", {"role": "responder"})
    refused = web.post(f"/teams/{team.slug}/members/{team_admin.pk}/role/", {"role": "responder"}, follow=True)
    assert "keeps at least one admin" in refused.content.decode()
    assert TeamMembership.objects.get(user=team_admin).role == ADMIN
    assert web.post(f"/teams/{team.slug}/members/{make_user('bob').pk}/role/", {"role": "admin"}).status_code == 404


def test_removing_asks_first_then_removes(client_of, team, team_admin, responder):
    web = client_of(team_admin)
    confirm = web.get(f"/teams/{team.slug}/members/{responder.pk}/remove/")
    assert confirm.status_code == 200 and "Remove rita from SRE?" in confirm.content.decode()
    assert TeamMembership.objects.filter(user=responder).exists()
    web.post(f"/teams/{team.slug}/members/{responder.pk}/remove/")
    assert not TeamMembership.objects.filter(user=responder).exists()


def test_the_users_page_is_for_superusers_only(client_of, web, team, responder):
    assert web.get("/users/").status_code == 403
    root = client_of(make_user("root", is_superuser=True, email="root@example.com"))
    html = root.get("/users/").content.decode()
    assert "rita@example.com" in html and "SRE (responder)" in html


def test_a_superuser_creates_a_team_and_its_first_admin_is_invited(client_of, team, team_admin):
    """Issue 14 item 3: a team is made in the portal, not the admin; its first admin joins by
    the invitation like anyone else, and the name/slug rules are the REST serializer's."""
    root = client_of(make_user("root", is_superuser=True, email="root@example.com"))
    assert "team-create-form" in root.get("/teams/new/").content.decode()
    page = root.post("/teams/new/", {"name": "Payments On-call", "first_admin": "Pat@Example.com"}, follow=True)
    assert "Team Payments On-call created; pat@example.com is invited as its admin." in page.content.decode()
    new = Team.objects.get(slug="payments-on-call")
    invited = TeamInvitation.objects.get(team=new)
    assert (invited.email, invited.role) == ("pat@example.com", ADMIN)
    assert mail.outbox[0].to == ["pat@example.com"] and not new.memberships.exists()

    again = root.post("/teams/new/", {"name": "Payments 2", "slug": team.slug, "first_admin": "x@example.com"})
    assert again.status_code == 400 and "A team with this slug already exists." in again.content.decode()
    assert Team.objects.count() == 2 and TeamInvitation.objects.count() == 1


def test_only_superusers_create_teams(client_of, team_admin, responder):
    for person in (team_admin, responder):
        web = client_of(person)
        assert web.get("/teams/new/").status_code == 403
        assert web.post("/teams/new/", {"name": "Mine", "first_admin": "a@example.com"}).status_code == 403
        assert "team-create-link" not in web.get("/teams/").content.decode()
    assert not Team.objects.filter(name="Mine").exists()
