"""A responder sets up their own paging in a real browser (Debian's Chromium through
Playwright), at desktop width and on a 375 px phone: add an email method, read the code
from the local SMTP server's inbox, type it in, send a test page, add a rule, pick a time
zone. Every step presses the page's buttons and checks the database row it changed."""

from __future__ import annotations

import re

import pytest
from knox.crypto import hash_token
from playwright.sync_api import expect

from escalation.models import ContactMethod, NotificationRule
from oncall.models import ApiToken, UserProfile
from tests.escalation.conftest import always_on_call
from tests.factories import make_user

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def code_from(mail) -> str:
    [code] = re.findall(r"\b(\d{6})\b", mail.text)
    return code


def set_up_paging(browser, smtp, username: str, address: str, zone: str) -> ContactMethod:
    page = browser.page
    browser.sign_in(username)
    page.click("nav.mainnav >> text=Profile")
    expect(page.locator("h1")).to_have_text("Profile")

    # 1. Add an email method: it starts unverified, and a code is mailed to it.
    page.select_option("#id_kind", "email")
    page.fill("#id_address", address)
    page.click("#add-method-button")
    expect(page.locator(".messages")).to_contain_text(f"We sent a 6-digit code to {address}")
    method = ContactMethod.objects.at_address("email", address).get(user__username=username)
    assert method.verified is False
    [mail] = smtp.wait_for(1, timeout=10)
    assert mail.to == address

    # 2. Type the code in.
    row = page.locator(f'[data-method-id="{method.pk}"]')
    expect(row).to_contain_text("Not verified")
    row.locator(".code-input").fill(code_from(mail))
    row.locator(".verify-button").click()
    expect(page.locator(".messages")).to_contain_text(f"{address} is verified")
    expect(row).to_contain_text("Verified")
    method.refresh_from_db()
    assert method.verified is True

    # 3. A test page, and what happened to it.
    row.locator(".test-button").click()
    expect(page.locator(".messages")).to_contain_text(f"Test page delivered to {address}")
    mails = smtp.wait_for(2, timeout=10)
    assert mails[1].subject == "Vigil test page" and mails[1].to == address

    # 4. A high-urgency rule two minutes in, and its preview.
    page.select_option("#id_urgency", "high")
    page.select_option("#id_contact_method", str(method.pk))
    page.fill("#id_delay_minutes", "2")
    page.click("#add-rule-button")
    expect(page.locator("#preview-high")).to_contain_text(f"A critical or error page: Email ({address}) at +2 min")
    expect(page.locator("#preview-low")).to_contain_text(f"A warning or info page: Email ({address}) now")
    rule = NotificationRule.objects.get(user__username=username)
    assert (rule.contact_method_id, rule.urgency, rule.delay_minutes) == (method.pk, "high", 2)

    # 5. The time zone, from the zoneinfo list.
    page.select_option("#id_time_zone", zone)
    page.click("#time-zone-button")
    expect(page.locator("#current-zone")).to_have_text(zone)
    assert UserProfile.objects.get(user__username=username).time_zone == zone
    return method


def test_a_responder_sets_up_paging_on_the_profile_page(browser_page, smtp, sre):
    rita = make_user("rita", team=sre, first_name="Rita", last_name="Responder")
    always_on_call(rita, team=sre, name="SRE primary")
    set_up_paging(browser_page, smtp, "rita", "rita.pager@example.com", "Europe/Berlin")
    page = browser_page.page
    # The shift is listed in her zone now.
    expect(page.locator("#my-shifts")).to_contain_text("SRE primary")

    # A REST token for one device: shown once, then only its name and prefix; stored as a digest.
    page.fill("#id_name", "laptop")
    page.click("#create-token-button")
    raw = page.locator("#raw-token").inner_text().strip()
    assert ApiToken.objects.get(user=rita).digest == hash_token(raw)
    page.click("text=Back to your profile")
    expect(page.locator("#tokens")).to_contain_text("laptop")
    expect(page.locator("#tokens")).to_contain_text(raw[:8] + "…")
    expect(page.locator("#tokens")).not_to_contain_text(raw)
    browser_page.screenshot("profile")
    assert browser_page.dialogs == [] and browser_page.errors == []
    assert browser_page.csp_violations == []


def test_a_responder_sets_up_paging_on_a_375_px_phone(phone_page, smtp, sre):
    make_user("pat", team=sre)
    set_up_paging(phone_page, smtp, "pat", "pat@example.com", "America/New_York")
    page = phone_page.page
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= 375, f"the profile is {width}px wide"
    phone_page.screenshot("phone-profile", full_page=False)
