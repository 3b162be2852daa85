"""Noise rules in a real browser (issue 14 item 4): a team admin creates a rule on the Noise
page, tests it with a pasted payload, a real POST to a door is then suppressed, and the
page counts the hit. Playwright driving Debian's Chromium; also the page at 375 px."""

import json

import httpx
import pytest
from playwright.sync_api import expect

from incidents.models import Event, Incident, SuppressionRule
from oncall.models import TeamMembership
from tests.conftest import load_payload
from tests.factories import make_key, make_policy, make_user

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_admin_creates_tests_and_sees_a_rule_suppress_a_real_post(browser_page, phone_page, team):
    make_user("ada", team=team, role=TeamMembership.Role.ADMIN)
    key, raw_key = make_key(team=team, name="Prometheus staging", policy=make_policy(name="SRE primary", team=team))
    page = browser_page.page
    browser_page.sign_in("ada")

    # 1. Create the rule in the portal.
    page.click("nav >> text=Noise")
    expect(page.locator("h1")).to_have_text("Noise rules · SRE")
    page.click("#new-rule")
    page.fill("#id_name", "Demo host")
    page.select_option("#id_scope", f"key:{key.pk}")
    page.fill("#id_field", "summary")
    page.select_option("#id_operator", "contains")
    page.fill("#id_value", "host1.example.com")
    page.click("#save-rule")
    expect(page.locator(".message-success")).to_contain_text("saved")
    rule = SuppressionRule.objects.get()
    assert (rule.name, rule.integration_key_id, rule.value, rule.hit_count) == ("Demo host", key.pk,
                                                                                "host1.example.com", 0)

    # 2. Test it with a pasted vendor payload: htmx swaps the verdict in.
    payload = load_payload("pagerduty/pd_docs_trigger.json")
    page.check("input[name=source][value=paste]")
    page.select_option("#id_key", str(key.pk))
    page.select_option("#id_door", "events_v2")
    page.fill("#id_payload", json.dumps(payload, indent=2))
    page.click("#run-tester")
    headline = page.locator(".verdict-headline")
    expect(headline).to_contain_text(f"Suppressed: matches rule #{rule.pk} “Demo host” because summary contains "
                                     "'host1.example.com'")
    page.locator("#tester-results").scroll_into_view_if_needed()
    assert not Event.objects.exists()  # the tester wrote nothing
    browser_page.screenshot("noise-rules")

    # 3. A real POST to the door is suppressed.
    payload["routing_key"] = raw_key
    response = httpx.post(f"{browser_page.base_url}/v2/enqueue", json=payload, timeout=10)
    assert response.status_code == 202, response.text
    event = Event.objects.get()
    assert (event.outcome, event.suppressed_by_id, event.incident_id) == ("suppressed", rule.pk, None)
    assert not Incident.objects.exists()

    # 4. The page shows the hit.
    page.reload()
    expect(page.locator(f"#rule-{rule.pk} [data-hits]")).to_have_text("1")
    rule.refresh_from_db()
    assert rule.hit_count == 1 and rule.last_hit_at is not None
    assert not browser_page.errors and not browser_page.dialogs and not browser_page.csp_violations

    # 5. The same page on a 375 px phone: nothing wider than the screen.
    phone_page.sign_in("ada")
    phone_page.go(f"/noise/{team.slug}/")
    expect(phone_page.page.locator(f"#rule-{rule.pk}")).to_be_visible()
    width = phone_page.page.evaluate("document.documentElement.scrollWidth")
    assert width <= 375, width
