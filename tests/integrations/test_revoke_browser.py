"""Issue 12 item 9 in a real browser (Playwright + Debian's Chromium): revoking a key in
the portal asks first, and names the senders that used it in the last 24 hours (seeded
by real HTTP POSTs from two User-Agents to two doors); Revoke revokes, and the key is then
refused at the doors as API.md says (400 `Invalid routing key` on Events API v2, 401 on
the others)."""

import httpx
import pytest
from playwright.sync_api import expect

from integrations.models import IntegrationKey
from oncall.models import TeamMembership
from tests.factories import make_key, make_policy, make_team, make_user

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

EXPORTER = "prometheus-am-executor/0.4 (+ops host 7)"
PROBE = "Temperstack-Agent/2.1"


def trigger_v2(base: str, raw: str, agent: str) -> httpx.Response:
    body = {"routing_key": raw, "event_action": "trigger", "dedup_key": "disk",
            "payload": {"summary": "Disk full", "severity": "critical", "source": "db1"}}
    return httpx.post(f"{base}/v2/enqueue", json=body, headers={"User-Agent": agent})


def trigger_temperstack(base: str, raw: str, agent: str) -> httpx.Response:
    return httpx.post(f"{base}/api/integration/webhook/{raw}", json={"alert_name": "High CPU", "status": "Alarm"},
                      headers={"User-Agent": agent})


def test_an_admin_sees_who_uses_a_key_then_revokes_it_and_the_doors_refuse_it(browser_page, live_server, settings):
    settings.INBOUND_RATE_LIMIT_EXEMPT = ["127.0.0.0/8"]
    team = make_team("SRE")
    make_user("ada", team=team, role=TeamMembership.Role.ADMIN)
    key, raw = make_key(team=team, policy=make_policy("Primary", team=team), name="Prometheus prod")
    base = live_server.url
    assert trigger_v2(base, raw, EXPORTER).status_code == 202
    for _ in range(2):
        assert trigger_temperstack(base, raw, PROBE).status_code == 200

    page = browser_page.page
    browser_page.sign_in("ada")
    browser_page.go(f"/integrations/{key.pk}/")
    page.click("a.revoke-link")
    expect(page.locator("h1")).to_contain_text(f"Revoke Prometheus prod {key.key_prefix}…")
    rows = page.locator("#recent-senders tbody tr")
    expect(rows).to_have_count(2)
    by_agent = {row.locator("td").nth(1).inner_text(): [cell.inner_text() for cell in row.locator("td").all()]
                for row in rows.all()}
    assert by_agent[EXPORTER][:4] == ["127.0.0.1", EXPORTER, "events_v2", "1"]
    assert by_agent[PROBE][:4] == ["127.0.0.1", PROBE, "temperstack", "2"]
    assert all(cells[4] for cells in by_agent.values())  # last seen
    key.refresh_from_db()
    assert key.is_active  # looking is not revoking

    page.click("#confirm-revoke")
    page.wait_for_url(f"{base}/integrations/{key.pk}/")
    expect(page.locator(".messages")).to_contain_text("revoked")
    key.refresh_from_db()
    assert not key.is_active and key.revoked_at is not None

    refused = trigger_v2(base, raw, EXPORTER)
    assert refused.status_code == 400 and "Invalid routing key" in refused.text
    assert trigger_temperstack(base, raw, PROBE).status_code == 401
    assert IntegrationKey.objects.get(pk=key.pk).events.count() == 3  # the refused ones wrote nothing
    assert not browser_page.errors and not browser_page.csp_violations
