"""T45 in Chromium: a team admin invites from the Teams page; the invitee opens the mailed
link on a phone (375 px), signs in, presses Accept, and only then is a member."""

from __future__ import annotations

import re

import pytest
from django.core import mail
from playwright.sync_api import expect

from oncall.models import TeamInvitation, TeamMembership
from tests.factories import make_team, make_user

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_t45_the_invitee_accepts_in_the_browser_and_joins(browser_page, phone_page):
    sre, payments = make_team("SRE"), make_team("Payments")
    make_user("ada", team=sre, role=TeamMembership.Role.ADMIN, first_name="Ada")
    make_user("rita", team=sre, first_name="Rita")
    olga = make_user("olga", team=payments, role=TeamMembership.Role.ADMIN, email="olga@payments.example")

    # 1. The admin invites from the team's page (htmx swaps the page in place).
    admin = browser_page
    admin.sign_in("ada")
    admin.page.click("nav.mainnav >> text=Teams")
    admin.page.click("#team-list >> text=SRE")
    admin.page.fill("#id_email", "Olga@Payments.example")
    admin.page.select_option("#id_role", "responder")
    admin.page.click("#invite-button")
    expect(admin.page.locator(".messages")).to_contain_text("Invitation sent to olga@payments.example")
    expect(admin.page.locator("#invitations")).to_contain_text("olga@payments.example")
    admin.screenshot("team-members")
    assert not TeamMembership.objects.filter(team=sre, user=olga).exists()

    # 2. The mail's link, opened on a phone, signed out.
    (message,) = mail.outbox
    assert message.to == ["olga@payments.example"]
    path = re.search(r"http://[^/\s]+(/invitations/[A-Za-z0-9_-]+/)", message.body).group(1)
    phone = phone_page
    phone.go(path)
    expect(phone.page.locator("h1")).to_contain_text("Invitation to the team SRE")
    phone.page.click("#invitation-sign-in")
    phone.page.fill("#id_username", "olga")
    phone.page.fill("#id_password", "correct horse battery")
    phone.page.click("button[type=submit]")
    phone.page.wait_for_url(phone.base_url + path)
    expect(phone.page.locator("h1")).to_contain_text("Join the team SRE?")
    assert not TeamMembership.objects.filter(team=sre, user=olga).exists()  # signed in, not joined

    # 3. Accept: now a member, with the invited role.
    phone.page.click("#accept-invitation")
    expect(phone.page.locator("#invitation-result")).to_contain_text("You are now a responder of the team")
    assert TeamMembership.objects.get(team=sre, user=olga).role == TeamMembership.Role.RESPONDER
    assert TeamInvitation.objects.get().accepted_by == olga

    # 4. The team page fits a 375 px phone, and the new member reads it without edit forms.
    phone.go("/teams/sre/")
    expect(phone.page.locator("#members")).to_contain_text("olga")
    assert phone.page.locator("#invite-form").count() == 0
    assert phone.page.evaluate("document.documentElement.scrollWidth") <= 375
    phone.screenshot("phone-team")

    # 5. The link is used up.
    phone.go(path)
    expect(phone.page.locator("#invitation-result")).to_contain_text("already accepted")
    assert admin.dialogs == [] and admin.errors == [] and admin.csp_violations == []


def test_t45_the_wrong_account_is_refused_in_the_browser(browser_page):
    sre = make_team("SRE")
    make_user("ada", team=sre, role=TeamMembership.Role.ADMIN)
    make_user("mallory", email="mallory@example.com")
    browser_page.sign_in("ada")
    browser_page.go("/teams/sre/")
    browser_page.page.fill("#id_email", "victim@example.com")
    browser_page.page.click("#invite-button")
    expect(browser_page.page.locator("#invitations")).to_contain_text("victim@example.com")
    path = re.search(r"(/invitations/[A-Za-z0-9_-]+/)", mail.outbox[0].body).group(1)
    browser_page.page.click("button.linkish >> text=Sign out")
    browser_page.sign_in("mallory")
    response = browser_page.go(path)
    assert response.status == 403
    expect(browser_page.page.locator("#invitation-result")).to_contain_text("not the one this invitation was sent to")
    assert not TeamMembership.objects.filter(team=sre, user__username="mallory").exists()
