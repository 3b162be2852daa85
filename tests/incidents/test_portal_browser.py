"""The portal in a real browser: Playwright driving Debian's Chromium against live_server.

These are the responder's paths end to end: sign in, a webhook arrives, the incident shows
up without a reload, acknowledge, the timeline says who did it; a team admin creates a key
and it works; hostile payloads run no script; a 375 px phone can use it all."""

from datetime import timedelta

import httpx
import pytest
from django.utils import timezone
from playwright.sync_api import expect

from incidents.models import Incident, MaintenanceWindow, SuppressionRule
from oncall.models import Rotation, RotationParticipant, Schedule, TeamMembership
from tests.factories import make_incident, make_key, make_policy, make_user

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def send_trigger(base_url: str, raw_key: str, dedup_key: str, **payload) -> dict:
    body = {
        "routing_key": raw_key,
        "event_action": "trigger",
        "dedup_key": dedup_key,
        "payload": {"summary": "Disk usage > 90% on srv01", "severity": "critical", "source": "prometheus",
                    **payload},
    }
    response = httpx.post(f"{base_url}/v2/enqueue", json=body, timeout=10)
    assert response.status_code == 202, response.text
    return response.json()


def seed_history(key, responder) -> None:
    """A few older incidents, so the list looks like a real week."""
    from incidents import actions

    for dedup_key, summary, severity, then in [
        ("api-5xx", "API 5xx rate above 2% for 5 minutes", "error", "ack"),
        ("cert-expiry", "TLS certificate for shop.example.com expires in 6 days", "warning", None),
        ("backup-late", "Nightly backup has not finished", "warning", "resolve"),
        ("queue-depth", "Queue depth of orders above 10k", "info", "resolve"),
    ]:
        incident = make_incident(key, dedup_key=dedup_key, summary=summary, severity=severity)
        if then == "ack":
            actions.do_acknowledge_incident(incident.pk, by=responder, via="web")
        elif then == "resolve":
            actions.do_resolve_incident(incident.pk, by=responder, via="web")


def named_key(team, name="Prometheus prod"):
    """A key with readable names, for the screenshots."""
    return make_key(team=team, name=name, policy=make_policy(name="SRE primary", team=team))


def test_webhook_to_acknowledged_without_a_reload(browser_page, team, responder):
    key, raw_key = named_key(team)
    seed_history(key, responder)
    browser_page.sign_in("rita")
    page = browser_page.page
    expect(page.locator('[data-status="triggered"]')).to_have_text("1")
    # A marker that survives only if the page is never reloaded or navigated.
    page.evaluate("window.__notReloaded = true")

    answer = send_trigger(browser_page.base_url, raw_key, "disk-full-srv01",
                          custom_details={"mount": "/var", "used": "93%"})
    row = page.locator(f'[data-incident-id="{answer["incident_id"]}"]')
    expect(row).to_be_visible(timeout=12_000)  # the list polls every 5 s
    expect(row).to_contain_text("Disk usage > 90% on srv01")
    expect(row).to_contain_text("Critical")
    expect(row).to_contain_text("Triggered")
    expect(page.locator('[data-status="triggered"]')).to_have_text("2")
    # Open incidents first, the new trigger at the top.
    expect(page.locator(".incident-row").first).to_have_attribute("data-incident-id", str(answer["incident_id"]))
    assert page.evaluate("window.__notReloaded") is True
    browser_page.screenshot("incidents-list")

    row.locator("a.row-title").click()
    page.wait_for_url(f"**/incidents/{answer['incident_id']}/")
    expect(page.locator("#details-json")).to_contain_text('"used": "93%"')
    page.click("#ack-button")
    expect(page.locator(".messages")).to_contain_text("acknowledged")
    expect(page.locator("#timeline")).to_contain_text("Acknowledged by Rita Responder (web)")
    expect(page.locator(".incident-head .status")).to_contain_text("Acknowledged")
    browser_page.screenshot("incident-detail")
    assert Incident.objects.get(pk=answer["incident_id"]).acknowledged_by == responder
    assert browser_page.dialogs == [] and browser_page.errors == []
    # htmx ran under the CSP without needing an inline style or script.
    assert browser_page.csp_violations == []


def test_team_admin_creates_a_key_in_the_page_and_uses_it(browser_page, team, team_admin):
    named_key(team, "Grafana prod")
    browser_page.sign_in("ada")
    page = browser_page.page
    page.click("nav.mainnav >> text=Integrations")
    expect(page.locator("h1")).to_have_text("Integrations")
    browser_page.screenshot("integrations")

    page.fill("#id_name", "Alertmanager prod")
    page.select_option("#id_team", label="SRE")
    page.click("#create-key-button")
    expect(page.locator("h1")).to_contain_text("Alertmanager prod")
    raw_key = page.locator("#raw-key").inner_text().strip()
    assert raw_key.startswith("ik_") and len(raw_key) == 32
    expect(page.locator(".door-snippets")).to_contain_text("/v2/enqueue")
    browser_page.screenshot("key-created", full_page=False)

    answer = send_trigger(browser_page.base_url, raw_key, "from-the-new-key", summary="Sent with the new key")
    browser_page.go("/")
    expect(page.locator(f'[data-incident-id="{answer["incident_id"]}"]')).to_contain_text("Sent with the new key")
    browser_page.go("/integrations/")
    expect(page.locator("#key-list")).not_to_contain_text(raw_key)
    assert browser_page.dialogs == [] and browser_page.errors == []


def test_xss_payloads_execute_no_script_on_any_page(browser_page, team, key, raw_key, responder):
    hostile = {
        "summary": "<script>alert(1)</script>",
        "source": '"><img src=x onerror=alert(1)>',
        "custom_details": {"<img src=x onerror=alert(2)>": "<script>alert(3)</script>"},
    }
    answer = send_trigger(browser_page.base_url, raw_key, '"><svg onload=alert(4)>', **hostile)
    Incident.objects.filter(pk=answer["incident_id"]).update(
        links=[{"href": "javascript:alert(5)", "text": "click me"}],
        runbook="data:text/html,<script>alert(6)</script>",
        labels={"<b onmouseover=alert(7)>team</b>": "x"},
    )
    httpx.post(f"{browser_page.base_url}/v2/enqueue", timeout=10, json={
        "routing_key": raw_key, "event_action": "trigger", "payload": {"summary": "<script>alert(8)</script>"},
    })
    browser_page.sign_in("rita")
    page = browser_page.page
    for path in ("/", f"/incidents/{answer['incident_id']}/", f"/integrations/{key.pk}/", "/dashboard/"):
        browser_page.go(path)
        page.wait_for_load_state("networkidle")
    browser_page.go(f"/incidents/{answer['incident_id']}/")
    expect(page.locator("#incident-title")).to_contain_text("<script>alert(1)</script>")
    page.locator("text=click me").click()  # shown as text, so clicking does nothing
    assert page.locator('a[href^="javascript:"], a[href^="data:"]').count() == 0
    assert page.locator("img").count() == 0
    assert browser_page.dialogs == []
    assert browser_page.errors == []


def test_a_375_px_phone_gets_the_whole_portal_without_sideways_scrolling(phone_page, team, key, responder):
    incident = make_incident(key, dedup_key="phone", summary="Checkout latency above 2 s for 10 minutes",
                             details={"p99": "2.4s", "region": "eu-west-1"})
    phone_page.sign_in("rita")
    page = phone_page.page
    for path in ("/", f"/incidents/{incident.pk}/", "/oncall/", "/dashboard/", "/integrations/", "/maintenance/",
                 "/profile/"):
        phone_page.go(path)
        width = page.evaluate("document.documentElement.scrollWidth")
        assert width <= 375, f"{path} is {width}px wide"
        expect(page.locator("nav.mainnav")).to_be_visible()
    phone_page.go(f"/incidents/{incident.pk}/")
    expect(page.locator("#ack-button")).to_be_in_viewport()
    phone_page.screenshot("phone-incident-detail", full_page=False)

    # Keyboard: the first Tab reaches the skip link, and focus is visible.
    phone_page.go("/")
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.className") == "skip-link"
    outline = page.evaluate("getComputedStyle(document.activeElement).outlineStyle")
    assert outline != "none"
    page.keyboard.press("Enter")
    assert page.evaluate("document.activeElement.id") == "main"


def test_keyboard_alone_acknowledges_an_incident(browser_page, team, key, responder):
    incident = make_incident(key, dedup_key="kbd", summary="Keyboard only")
    browser_page.sign_in("rita")
    page = browser_page.page
    browser_page.go(f"/incidents/{incident.pk}/")
    for _ in range(40):
        page.keyboard.press("Tab")
        if page.evaluate("document.activeElement.id") == "ack-button":
            break
    assert page.evaluate("document.activeElement.id") == "ack-button"
    page.keyboard.press("Enter")
    expect(page.locator("#timeline")).to_contain_text("Acknowledged by Rita Responder (web)")


def test_oncall_and_dashboard_pages_render_for_screenshots(browser_page, team, responder):
    key, _ = named_key(team)
    colleague = make_user("colin", team=team, first_name="Colin", last_name="Next")
    make_user("ada", team=team, role=TeamMembership.Role.ADMIN, first_name="Ada", last_name="Admin")
    schedule = Schedule.objects.create(name="SRE primary", team=team, time_zone="Europe/Berlin")
    rotation = Rotation.objects.create(schedule=schedule, shift_kind=Rotation.ShiftKind.WEEKLY,
                                       handoff_time="09:00", start=timezone.now() - timedelta(days=3))
    for position, person in enumerate((responder, colleague)):
        RotationParticipant.objects.create(rotation=rotation, user=person, position=position)
    now = timezone.now()
    for n, (severity, age_hours, ack_min, res_min) in enumerate(
        [("critical", 2, 3, None), ("error", 30, 6, 40), ("warning", 80, 12, 90), ("critical", 200, 2, 25),
         ("info", 400, None, 15), ("warning", 5, None, None), ("critical", 600, 9, 70)]
    ):
        incident = make_incident(key, dedup_key=f"dash-{n}", severity=severity, summary=f"Example incident {n}")
        start = now - timedelta(hours=age_hours)
        fields = {"first_seen_at": start}
        if ack_min:
            fields.update(acknowledged_at=start + timedelta(minutes=ack_min), status="acknowledged")
        if res_min:
            fields.update(resolved_at=start + timedelta(minutes=res_min), status="resolved")
        Incident.objects.filter(pk=incident.pk).update(**fields)
    SuppressionRule.objects.create(team=team, name="Ignore staging", field="label:env", operator="equals",
                                   value="staging", hit_count=17, last_hit_at=now)
    browser_page.sign_in("rita")
    page = browser_page.page
    browser_page.go("/oncall/")
    expect(page.locator("#oncall-now")).to_contain_text("SRE primary")
    page.click("#calendar-create")
    expect(page.locator("#calendar-url")).to_contain_text("/oncall/calendar/")
    browser_page.screenshot("oncall")
    browser_page.go("/dashboard/")
    expect(page.locator("#per-day-chart rect.bar").first).to_be_visible()
    browser_page.screenshot("dashboard")
    assert browser_page.dialogs == [] and browser_page.errors == []


def test_team_admin_holds_pages_for_maintenance_and_ends_it_early(browser_page, team, team_admin):
    key, raw_key = named_key(team)
    now = timezone.now()
    MaintenanceWindow.objects.create(team=team, start=now + timedelta(days=1), end=now + timedelta(days=1, hours=3),
                                     reason="Switch firmware in rack B4", created_by=team_admin)
    MaintenanceWindow.objects.create(integration_key=key, start=now - timedelta(days=2, hours=2),
                                     end=now - timedelta(days=2), reason="Prometheus 3 migration",
                                     created_by=team_admin)
    browser_page.sign_in("ada")
    page = browser_page.page
    page.click("nav.mainnav >> text=Maintenance")
    expect(page.locator("h1")).to_have_text("Maintenance")
    page.select_option("#id_scope", label="SRE")
    page.select_option("#id_duration", label="2 hours")
    page.fill("#id_reason", "Database upgrade to PostgreSQL 17")
    page.click("#create-window-button")
    expect(page.locator(".messages")).to_contain_text("Maintenance scheduled for Team SRE: pages are held now")
    window = MaintenanceWindow.objects.get(reason="Database upgrade to PostgreSQL 17")

    answer = send_trigger(browser_page.base_url, raw_key, "db-replica-lag", summary="Replica lag above 30 s on db02")
    browser_page.go("/")
    banner = page.locator("#maintenance-banner")
    expect(banner).to_contain_text("Maintenance in progress: Database upgrade to PostgreSQL 17 until")
    expect(banner).to_contain_text("pages are held")
    browser_page.go(f"/incidents/{answer['incident_id']}/")
    expect(page.locator("#maintenance-hold")).to_contain_text("Paging held by maintenance: Database upgrade")

    browser_page.go("/maintenance/")
    expect(page.locator(f'[data-window-id="{window.pk}"] .held-count')).to_have_text("1 incident held")
    browser_page.screenshot("maintenance")
    page.click(f"#end-window-{window.pk}")
    expect(page.locator(".messages")).to_contain_text("Maintenance ended: 1 held incident released")
    incident = Incident.objects.get(pk=answer["incident_id"])
    assert incident.escalation_held_reason == "" and incident.next_escalation_at is not None
    browser_page.go("/")
    expect(page.locator("#maintenance-banner")).to_have_count(0)
    assert browser_page.dialogs == [] and browser_page.errors == [] and browser_page.csp_violations == []
