"""Team membership by invitation only (RELIABILITY T45): a team admin can neither add a
stranger nor learn which user ids or emails exist, and a person joins only by accepting the
mailed link signed in with the invited address."""

import re
from datetime import timedelta

import pytest
from django.contrib.auth import get_user_model
from django.core import mail
from django.test import Client
from django.utils import timezone

from oncall.invitations import token_digest
from oncall.models import TeamInvitation, TeamMembership
from tests.factories import api_client_for, make_team, make_user

pytestmark = pytest.mark.django_db

ADMIN, RESPONDER = TeamMembership.Role.ADMIN, TeamMembership.Role.RESPONDER
LINK = re.compile(r"http://[^/\s]+(/invitations/[A-Za-z0-9_-]+/)")


@pytest.fixture
def ada(team):
    return make_user("ada", team=team, role=ADMIN)


@pytest.fixture
def other_admin(other_team):
    return make_user("olga", team=other_team, role=ADMIN, email="olga@payments.example")


@pytest.fixture
def root(db):
    return make_user("root", is_superuser=True, is_staff=True, email="root@example.com")


def members_url(team):
    return f"/api/v1/teams/{team.pk}/members/"


def link_in(message) -> str:
    return LINK.search(message.body).group(1)


def test_t45_a_team_admin_adding_another_teams_admin_a_superuser_or_any_id_gets_one_answer(
        ada, team, other_admin, root):
    """T45: ids 1..50 (existing or not), user names, another team's admin, a superuser: one
    status and one body, and nobody joins."""
    api = api_client_for(ada)
    answers = set()
    for n in range(3):
        make_user(f"filler{n}")  # ids up to 50 hold real accounts and free ones
    # Members (ada) are the admin's to see already; every other id must look alike.
    probes = [str(n) for n in range(1, 51) if n != ada.pk]
    for value in [*probes, "olga", "root", str(other_admin.pk), str(root.pk), "nobody-here"]:
        response = api.post(members_url(team), {"user": value}, format="json")
        answers.add((response.status_code, response.content))
    assert len(answers) == 1
    ((status, body),) = answers
    assert status == 400 and b"Invite people by email" in body
    assert set(team.memberships.values_list("user__username", flat=True)) == {"ada"}


def test_t45_inviting_any_email_answers_the_same_and_adds_nobody(ada, team, other_admin, root):
    api = api_client_for(ada)
    emails = ["olga@payments.example", "ROOT@example.com", "ghost@example.com",
              *(f"probe{n}@example.com" for n in range(10))]
    answers = set()
    for email in emails:
        response = api.post(members_url(team), {"email": email, "role": "admin"}, format="json")
        body = response.json()
        assert body.pop("email") == email.lower()
        answers.add((response.status_code, tuple(sorted(body.items()))))
    assert answers == {(202, (("detail", "Invitation sent. The person joins the team when they accept it "
                                         "from the email."), ("role", "admin")))}
    # Every address got the same mail (to a stranger it offers a sign-up), and nobody joined.
    assert sorted(m.to[0] for m in mail.outbox) == sorted(e.lower() for e in emails)
    assert set(team.memberships.values_list("user__username", flat=True)) == {"ada"}
    assert TeamInvitation.objects.filter(team=team).count() == len(emails)


def test_t45_every_rest_and_portal_answer_reads_the_same_for_an_account_and_for_nobody(
        client_of, ada, team, other_admin):
    """The admin-facing pages after inviting an existing account and an unknown address differ
    only by the address."""
    web = client_of(ada)

    def page_after_inviting(email):
        response = web.post(f"/teams/{team.slug}/invite/", {"email": email, "role": "responder"}, follow=True)
        assert response.status_code == 200
        html = response.content.decode().replace(email, "EMAIL")
        # The pending list names both addresses; the answer's words must not differ.
        return re.sub(r"<li><div><strong>[^<]*</strong>.*?</li>", "", html, flags=re.S)

    existing = page_after_inviting("olga@payments.example")
    TeamInvitation.objects.all().delete()
    missing = page_after_inviting("nobody@nowhere.example")
    assert re.sub(r'name="csrfmiddlewaretoken" value="[^"]+"', "", existing) == \
        re.sub(r'name="csrfmiddlewaretoken" value="[^"]+"', "", missing)


def test_t45_user_lists_show_only_the_callers_teams(ada, team, other_admin, root):
    body = api_client_for(ada).get("/api/v1/teams/").json()
    people = {m["username"] for row in body["results"] for m in row["members"]}
    assert people == {"ada"}
    assert api_client_for(ada).get(f"/api/v1/teams/{other_admin.team_memberships.get().team_id}/").status_code == 404


def test_the_invitee_signs_in_accepts_and_only_then_is_a_member(ada, team, other_admin):
    api_client_for(ada).post(members_url(team), {"email": "olga@payments.example"}, format="json")
    (message,) = mail.outbox
    assert message.subject == "[Vigil] You are invited to the team SRE"
    path = link_in(message)
    html = message.alternatives[0][0]
    assert path in html
    invitation = TeamInvitation.objects.get()
    # Only a digest is stored: the link's token is nowhere in the row.
    token = path.split("/")[2]
    assert invitation.token_digest == token_digest(token) and token not in str(vars(invitation))

    browser = Client(enforce_csrf_checks=False)
    signin = browser.get(path)
    assert signin.status_code == 200 and b"Sign in" in signin.content and b"signup-form" not in signin.content
    browser.force_login(other_admin)
    confirm = browser.get(path)
    assert confirm.status_code == 200 and b"accept-invitation" in confirm.content
    assert not team.memberships.filter(user=other_admin).exists()  # a GET changes nothing
    accepted = browser.post(path + "accept/")
    assert accepted.status_code == 200 and b"You joined SRE" in accepted.content
    assert team.memberships.get(user=other_admin).role == RESPONDER
    invitation.refresh_from_db()
    assert invitation.accepted_by == other_admin and invitation.accepted_at is not None
    # Used: the link is dead.
    again = browser.post(path + "accept/")
    assert again.status_code == 410 and b"already accepted" in again.content


def test_the_accept_button_needs_the_csrf_token(ada, team, other_admin):
    api_client_for(ada).post(members_url(team), {"email": "olga@payments.example"}, format="json")
    path = link_in(mail.outbox[0])
    browser = Client(enforce_csrf_checks=True)
    browser.force_login(other_admin)
    assert browser.post(path + "accept/").status_code == 403
    assert not team.memberships.filter(user=other_admin).exists()


def test_the_wrong_account_is_refused(ada, team, other_admin, root):
    api_client_for(ada).post(members_url(team), {"email": "olga@payments.example"}, format="json")
    path = link_in(mail.outbox[0])
    for wrong in (root, make_user("mallory")):
        browser = Client()
        browser.force_login(wrong)
        page = browser.get(path)
        assert page.status_code == 403 and b"Not your invitation" in page.content
        assert browser.post(path + "accept/").status_code == 403
    assert not team.memberships.exclude(user=ada).exists()
    assert TeamInvitation.objects.get().accepted_at is None


def test_a_stranger_signs_up_with_the_invited_address_then_accepts(ada, team):
    api_client_for(ada).post(members_url(team), {"email": "New.Person@Example.com", "role": "admin"}, format="json")
    path = link_in(mail.outbox[0])
    browser = Client()
    assert b"signup-form" in browser.get(path).content
    weak = browser.post(path + "signup/", {"username": "newbie", "password1": "123", "password2": "123"})
    assert weak.status_code == 400 and not get_user_model().objects.filter(username="newbie").exists()
    made = browser.post(path + "signup/", {"username": "newbie", "first_name": "New Person",
                                           "password1": "a long unusual phrase 42", "password2": "a long unusual phrase 42"})
    assert made.status_code == 302 and made["Location"] == path
    newbie = get_user_model().objects.get(username="newbie")
    assert newbie.email == "new.person@example.com" and newbie.first_name == "New Person"
    assert not team.memberships.filter(user=newbie).exists()  # signed up, not joined
    assert browser.post(path + "accept/").status_code == 200
    assert team.memberships.get(user=newbie).role == ADMIN


def test_sign_up_is_not_offered_when_the_address_has_an_account(ada, team, other_admin):
    api_client_for(ada).post(members_url(team), {"email": "olga@payments.example"}, format="json")
    path = link_in(mail.outbox[0])
    browser = Client()
    response = browser.post(path + "signup/", {"username": "olga2", "password1": "a long unusual phrase 42",
                                               "password2": "a long unusual phrase 42"})
    assert response.status_code == 302
    assert not get_user_model().objects.filter(username="olga2").exists()


@pytest.mark.parametrize("state, words", [
    ("expired", b"expired"), ("revoked", b"revoked"), ("accepted", b"already accepted"),
])
def test_an_expired_revoked_or_used_link_is_410_and_changes_nothing(ada, team, other_admin, state, words):
    api_client_for(ada).post(members_url(team), {"email": "olga@payments.example"}, format="json")
    path = link_in(mail.outbox[0])
    field = {"expired": "expires_at", "revoked": "revoked_at", "accepted": "accepted_at"}[state]
    when = timezone.now() - timedelta(seconds=1)
    TeamInvitation.objects.update(**{field: when})
    browser = Client()
    browser.force_login(other_admin)
    for response in (browser.get(path), browser.post(path + "accept/"), Client().get(path)):
        assert response.status_code == 410 and words in response.content
    assert not team.memberships.filter(user=other_admin).exists()


def test_an_unknown_link_is_404(db):
    response = Client().get("/invitations/not-a-real-token/")
    assert response.status_code == 404 and b"not valid" in response.content


def test_invitations_expire_after_the_setting(ada, team, settings):
    settings.TEAM_INVITATION_DAYS = 3
    api_client_for(ada).post(members_url(team), {"email": "x@example.com"}, format="json")
    lifetime = TeamInvitation.objects.get().expires_at - timezone.now()
    assert timedelta(days=2, hours=23) < lifetime <= timedelta(days=3)


def test_a_team_admin_lists_and_revokes_pending_invitations_over_rest(ada, team, other_team):
    api = api_client_for(ada)
    api.post(members_url(team), {"email": "x@example.com"}, format="json")
    (row,) = api.get(f"/api/v1/teams/{team.pk}/invitations/").json()
    assert row["email"] == "x@example.com" and row["invited_by"] == "ada" and "token" not in str(row)
    assert api.delete(f"/api/v1/teams/{team.pk}/invitations/{row['id']}/").status_code == 204
    assert api.get(f"/api/v1/teams/{team.pk}/invitations/").json() == []
    # Another team's invitations are not this admin's.
    theirs = TeamInvitation.objects.create(team=other_team, email="y@example.com", token_digest="0" * 64,
                                           expires_at=timezone.now() + timedelta(days=1))
    assert api.delete(f"/api/v1/teams/{other_team.pk}/invitations/{theirs.pk}/").status_code == 404
    assert api.delete(f"/api/v1/teams/{team.pk}/invitations/{theirs.pk}/").status_code == 404


def test_a_responder_can_neither_invite_nor_list_invitations(team, ada):
    rita = api_client_for(make_user("rita", team=team))
    assert rita.post(members_url(team), {"email": "x@example.com"}, format="json").status_code == 403
    assert rita.get(f"/api/v1/teams/{team.pk}/invitations/").status_code == 403
    assert not TeamInvitation.objects.exists() and mail.outbox == []


def test_a_superuser_still_adds_a_user_by_id(team, other_admin, root):
    response = api_client_for(root).post(members_url(team), {"user": str(other_admin.pk)}, format="json")
    assert response.status_code == 201
    assert team.memberships.filter(user=other_admin).exists()


def test_a_failed_mail_is_kept_for_the_admins_and_the_answer_is_the_same(ada, team, settings):
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT, settings.EMAIL_TIMEOUT = "127.0.0.1", 9, 1  # nothing listens
    response = api_client_for(ada).post(members_url(team), {"email": "x@example.com"}, format="json")
    assert response.status_code == 202
    assert TeamInvitation.objects.get().send_error.startswith("ConnectionRefusedError")


def test_many_pending_invitations_are_refused(ada, team):
    from oncall.invitations import MAX_PENDING_PER_TEAM

    expires = timezone.now() + timedelta(days=1)
    TeamInvitation.objects.bulk_create(
        TeamInvitation(team=team, email=f"p{n}@example.com", token_digest=f"{n:064x}", expires_at=expires)
        for n in range(MAX_PENDING_PER_TEAM)
    )
    response = api_client_for(ada).post(members_url(team), {"email": "one-more@example.com"}, format="json")
    assert response.status_code == 400 and "revoke some first" in response.json()["email"]
    assert mail.outbox == []


def test_another_team_is_unaffected_by_accepting(ada, team, other_team, other_admin):
    make_team("Unrelated")
    api_client_for(ada).post(members_url(team), {"email": "olga@payments.example", "role": "admin"}, format="json")
    browser = Client()
    browser.force_login(other_admin)
    browser.post(link_in(mail.outbox[0]) + "accept/")
    assert other_admin.team_memberships.get(team=other_team).role == ADMIN
    assert other_admin.team_memberships.get(team=team).role == ADMIN
