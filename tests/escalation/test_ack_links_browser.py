"""The signed Acknowledge and Resolve links, pressed in a real browser (Debian's Chromium
through Playwright) the way a responder does it at 3 a.m.: open the link from the page they
got, press the button, and the incident changes. Signed out, signed in as the same person,
signed in as someone else, on a 375 px phone, and from a Slack-format webhook's text.

The confirm page sends `Referrer-Policy: no-referrer` (the token is in its URL), so Chromium
posts its form with `Origin: null`: a form that leaned on Django's Origin/Referer checks
answered 403 here while every test-client test was green."""

from __future__ import annotations

import json
import re
import threading
from datetime import timedelta

import pytest
from django.conf import settings as django_settings
from django.db import connection
from django.utils import timezone

from escalation.models import ContactMethod
from incidents.models import Incident
from oncall.models import TeamMembership
from tests.browser import BrowserPage
from tests.factories import make_incident

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def link_urls(text: str) -> dict[str, str]:
    found = re.findall(rf"(Acknowledge|Resolve):\s+({re.escape(django_settings.SITE_URL)}/ack/\S+?/)(?=[\s>|]|$)",
                       text, re.M)
    return {verb.lower(): url for verb, url in found}


@pytest.fixture
def site_is_the_live_server(settings, live_server):
    """Links in pages point at the server the browser can reach."""
    settings.SITE_URL = live_server.url


@pytest.fixture
def emailed(site_is_the_live_server, smtp, committed, t21_key):
    """alice's page for a new incident, as it reached her mailbox."""
    incident = committed(make_incident, t21_key, summary="Checkout API 5xx > 5%")
    [mail] = smtp.mails
    return incident, link_urls(mail.text)


def paged_off_the_browser_thread(key, summary: str) -> Incident:
    """Trigger and page from another thread: the webhook sender runs its own event loop,
    which cannot start inside the thread where Playwright's loop runs. The transactional
    test database commits for real, so the page goes out as in production."""
    made = []

    def run():
        try:
            made.append(make_incident(key, summary=summary))
        finally:
            connection.close()

    thread = threading.Thread(target=run)
    thread.start()
    thread.join(timeout=30)
    return made[0]


def press(page: BrowserPage, url: str):
    """Open the link and press the page's one button, as a person does."""
    page.page.goto(url)
    page.page.click("#confirm-link-action")
    page.page.wait_for_selector("#link-result")
    return page.page.inner_text("#link-result")


def test_signed_out_the_emailed_acknowledge_button_acknowledges_and_escalation_stops(
    browser_page, emailed, people, tick, smtp
):
    incident, urls = emailed
    said = press(browser_page, urls["acknowledge"])
    incident.refresh_from_db()
    assert incident.status == Incident.Status.ACKNOWLEDGED
    assert incident.acknowledged_by == people["alice"] and incident.acknowledged_via == "email link"
    assert f"#{incident.pk} acknowledged" in said
    # Escalation stops: no step is due, and a tick long after step 2's delay pages nobody.
    assert incident.next_escalation_at is None
    smtp.take()
    tick(timezone.now() + timedelta(hours=2))
    assert smtp.take() == []


def test_signed_in_as_the_same_person_the_button_acknowledges(browser_page, emailed, people):
    incident, urls = emailed
    browser_page.sign_in("alice")
    press(browser_page, urls["acknowledge"])
    incident.refresh_from_db()
    assert (incident.status, incident.acknowledged_by) == (Incident.Status.ACKNOWLEDGED, people["alice"])


def test_signed_in_as_someone_else_the_link_still_acts_for_its_own_person(browser_page, emailed, people):
    incident, urls = emailed
    browser_page.sign_in("bob")
    said = press(browser_page, urls["resolve"])
    incident.refresh_from_db()
    assert (incident.status, incident.resolved_by) == (Incident.Status.RESOLVED, people["alice"])
    assert "as alice" in said


def test_on_a_375_px_phone_the_button_acknowledges(phone_page, emailed, people):
    incident, urls = emailed
    press(phone_page, urls["acknowledge"])
    incident.refresh_from_db()
    assert incident.status == Incident.Status.ACKNOWLEDGED
    width = phone_page.page.evaluate("document.documentElement.scrollWidth")
    assert width <= 375
    phone_page.screenshot("phone-ack-link-done", full_page=False)


def test_a_used_link_says_who_acknowledged_it_and_when(browser_page, emailed, people):
    incident, urls = emailed
    press(browser_page, urls["acknowledge"])
    browser_page.page.goto(urls["acknowledge"])
    text = browser_page.page.inner_text("#link-result")
    incident.refresh_from_db()
    assert f"already acknowledged by alice (email link) at {incident.acknowledged_at:%Y-%m-%d %H:%M} UTC" in text
    assert browser_page.page.locator("#confirm-link-action").count() == 0


def test_a_person_removed_from_the_team_is_refused_with_the_reason(browser_page, emailed, people):
    incident, urls = emailed
    browser_page.page.goto(urls["acknowledge"])
    TeamMembership.objects.filter(user=people["alice"]).delete()
    response = browser_page.page.expect_response(lambda r: "/ack/" in r.url and r.request.method == "POST")
    with response as answer:
        browser_page.page.click("#confirm-link-action")
    assert answer.value.status == 403
    assert "no longer a member" in browser_page.page.inner_text("main")
    incident.refresh_from_db()
    assert incident.status == Incident.Status.TRIGGERED


def test_the_link_in_a_slack_format_webhook_resolves(browser_page, site_is_the_live_server, httpserver, settings,
                                                     tasks_inline, t21_key, people):
    settings.ESCALATION_WEBHOOK_ALLOW_PRIVATE = True
    httpserver.expect_request("/slack", method="POST").respond_with_data("ok")
    ContactMethod.objects.filter(user=people["alice"]).delete()
    ContactMethod.objects.create(user=people["alice"], kind="webhook", address=httpserver.url_for("/slack"),
                                 slack_format=True)
    incident = paged_off_the_browser_thread(t21_key, "Queue depth > 10k")
    [(request, _response)] = httpserver.log
    text = json.loads(request.data)["text"]
    resolve = re.search(rf"<({re.escape(settings.SITE_URL)}/ack/[^|>]+)\|Resolve>", text).group(1)
    press(browser_page, resolve)
    incident.refresh_from_db()
    assert (incident.status, incident.resolved_by) == (Incident.Status.RESOLVED, people["alice"])


def test_the_link_in_a_json_webhook_acknowledges(browser_page, site_is_the_live_server, httpserver, settings,
                                                 tasks_inline, t21_key, people):
    settings.ESCALATION_WEBHOOK_ALLOW_PRIVATE = True
    httpserver.expect_request("/hook", method="POST").respond_with_json({"ok": True})
    ContactMethod.objects.filter(user=people["alice"]).delete()
    ContactMethod.objects.create(user=people["alice"], kind="webhook", address=httpserver.url_for("/hook"))
    incident = paged_off_the_browser_thread(t21_key, "Disk full")
    [(request, _response)] = httpserver.log
    press(browser_page, json.loads(request.data)["links"]["acknowledge"])
    incident.refresh_from_db()
    assert incident.status == Incident.Status.ACKNOWLEDGED


def test_a_forged_cross_site_post_without_the_page_field_changes_nothing(browser_page, emailed, people):
    """Knowing a token's URL is not enough to act through a bare POST: the form carries a
    field derived from the token and the server's secret."""
    incident, urls = emailed
    answer = browser_page.page.request.post(urls["acknowledge"], form={"confirm": "0" * 64},
                                            headers={"Origin": "https://evil.example"})
    assert answer.status == 403
    incident.refresh_from_db()
    assert incident.status == Incident.Status.TRIGGERED
