import re
from datetime import timedelta

import pytest
from django.utils import timezone

from incidents.models import Event
from integrations import keys
from integrations.models import IntegrationKey
from oncall.models import TeamMembership
from tests.factories import make_policy, make_user

pytestmark = pytest.mark.django_db


def raw_key_on(page: str) -> str:
    return re.search(r'<code id="raw-key">(ik_[A-Za-z0-9]+)</code>', page).group(1)


def test_a_team_admin_creates_a_key_and_sees_it_once_with_snippets(client_of, team_admin, team):
    policy = make_policy(name="SRE primary", team=team)
    web = client_of(team_admin)
    response = web.post("/integrations/new/", {"name": "Prometheus prod", "team": team.pk,
                                               "escalation_policy": policy.pk})
    assert response.status_code == 200
    assert "no-store" in response["Cache-Control"]
    page = response.content.decode()
    raw = raw_key_on(page)
    key = IntegrationKey.objects.get(name="Prometheus prod")
    assert key.key_digest == keys.digest(raw) and key.team == team and key.created_by == team_admin
    assert 'data-copy-target="raw-key"' in page
    assert "/v2/enqueue" in page and "alertmanager" in page  # the per-tool snippets
    assert "vigil/copy.js" in page
    # Never again: the list and the key's page show only the prefix.
    for url in ("/integrations/", f"/integrations/{key.pk}/"):
        later = web.get(url).content.decode()
        assert raw not in later and f"{raw[:8]}…" in later


def test_the_new_key_works_at_the_door(client_of, team_admin, team, api):
    policy = make_policy(team=team)
    page = client_of(team_admin).post(
        "/integrations/new/", {"name": "k", "team": team.pk, "escalation_policy": policy.pk}
    ).content.decode()
    body = {"routing_key": raw_key_on(page), "event_action": "trigger", "dedup_key": "x",
            "payload": {"summary": "s", "severity": "info", "source": "t"}}
    assert api.post("/v2/enqueue", body, format="json").status_code == 202


def test_a_responder_sees_keys_but_cannot_create_rotate_or_revoke(web, key, team):
    policy = make_policy(team=team)
    page = web.get("/integrations/").content.decode()
    assert key.name in page and "Create a key" not in page and "Rotate" not in page
    response = web.post("/integrations/new/", {"name": "x", "team": team.pk, "escalation_policy": policy.pk})
    assert response.status_code == 400
    assert IntegrationKey.objects.filter(name="x").count() == 0
    assert web.post(f"/integrations/{key.pk}/revoke/").status_code == 403
    assert web.post(f"/integrations/{key.pk}/rotate/").status_code == 403
    key.refresh_from_db()
    assert key.is_active and IntegrationKey.objects.count() == 1


def test_a_policy_of_another_team_is_refused(client_of, team_admin, team, other_team):
    theirs = make_policy(team=other_team)
    response = client_of(team_admin).post(
        "/integrations/new/", {"name": "x", "team": team.pk, "escalation_policy": theirs.pk}
    )
    assert response.status_code == 400
    assert not IntegrationKey.objects.filter(name="x").exists()


def test_a_key_for_a_team_i_do_not_administer_is_refused(client_of, team_admin, other_team):
    make_user("mixed", team=other_team)
    TeamMembership.objects.create(team=other_team, user=team_admin, role=TeamMembership.Role.RESPONDER)
    policy = make_policy(team=other_team)
    response = client_of(team_admin).post(
        "/integrations/new/", {"name": "x", "team": other_team.pk, "escalation_policy": policy.pk}
    )
    assert response.status_code == 400
    assert not IntegrationKey.objects.filter(name="x").exists()


def test_rotate_shows_a_new_key_once_and_the_old_one_keeps_working(client_of, team_admin, key):
    response = client_of(team_admin).post(f"/integrations/{key.pk}/rotate/")
    new_raw = raw_key_on(response.content.decode())
    new_key = IntegrationKey.objects.get(rotated_from=key)
    assert new_key.key_digest == keys.digest(new_raw)
    key.refresh_from_db()
    assert key.is_active


def test_revoke_stops_the_key_at_the_door(client_of, team_admin, key, raw_key, api):
    client_of(team_admin).post(f"/integrations/{key.pk}/revoke/")
    key.refresh_from_db()
    assert not key.is_active
    body = {"routing_key": raw_key, "event_action": "trigger", "dedup_key": "x",
            "payload": {"summary": "s", "severity": "info", "source": "t"}}
    assert api.post("/v2/enqueue", body, format="json").status_code == 400


def test_another_teams_key_is_a_404_for_every_page_and_action(client_of, team_admin, other_key):
    web = client_of(team_admin)
    assert web.get(f"/integrations/{other_key.pk}/").status_code == 404
    assert web.post(f"/integrations/{other_key.pk}/revoke/").status_code == 404
    assert web.post(f"/integrations/{other_key.pk}/rotate/").status_code == 404
    assert other_key.name not in web.get("/integrations/").content.decode()
    other_key.refresh_from_db()
    assert other_key.is_active


def test_key_page_lists_recent_events_with_outcomes_including_rejected_and_test(web, key, raw_key, api):
    api.post("/v2/enqueue", {"routing_key": raw_key, "event_action": "trigger", "dedup_key": "a",
                             "payload": {"summary": "Disk full", "severity": "critical", "source": "x"}},
             format="json")
    api.post("/v2/enqueue", {"routing_key": raw_key, "event_action": "trigger", "payload": {}}, format="json")
    Event.objects.create(integration_key=key, format="grafana", action="none", outcome="test",
                         reason="test notification; nobody paged")
    page = web.get(f"/integrations/{key.pk}/").content.decode()
    assert "Created" in page and "Disk full" in page
    assert "Rejected" in page and "payload.summary" in page
    assert "Test" in page and "nobody paged" in page
    assert raw_key not in page  # the body kept for a rejected event has the key replaced



# --- revoking asks first, naming who still sends (issue 12 item 9) -------------------------


def send_v2(api, raw: str, agent: str):
    body = {"routing_key": raw, "event_action": "trigger", "dedup_key": "x",
            "payload": {"summary": "s", "severity": "info", "source": "t"}}
    return api.post("/v2/enqueue", body, format="json", HTTP_USER_AGENT=agent)


def test_the_revoke_page_lists_the_last_days_senders_escaped_and_revokes_nothing(
        client_of, team_admin, key, raw_key, api, sender_ip):
    hostile = '<img src=x onerror=alert(1)>"curl/8'
    assert send_v2(api, raw_key, hostile).status_code == 202
    assert send_v2(api, raw_key, hostile).status_code == 202
    Event.objects.create(integration_key=key, format="grafana", action="trigger", outcome="created",
                         client_ip="192.0.2.9", user_agent="Grafana/9", received_at=timezone.now() - timedelta(hours=25))
    page = client_of(team_admin).get(f"/integrations/{key.pk}/revoke/")
    assert page.status_code == 200
    html = page.content.decode()
    assert "<img src=x" not in html and "&lt;img src=x onerror=alert(1)&gt;&quot;curl/8" in html
    assert sender_ip in html and "events_v2" in html and "<td>2</td>" in html
    assert "Grafana/9" not in html  # older than 24 hours
    key.refresh_from_db()
    assert key.is_active


def test_revoking_needs_the_csrf_token_and_a_responder_can_neither_see_nor_press_it(
        client_of, team_admin, web, key):
    assert web.get(f"/integrations/{key.pk}/revoke/").status_code == 403
    assert web.post(f"/integrations/{key.pk}/revoke/").status_code == 403
    assert client_of(team_admin, enforce_csrf_checks=True).post(f"/integrations/{key.pk}/revoke/").status_code == 403
    key.refresh_from_db()
    assert key.is_active
    assert client_of(team_admin).post(f"/integrations/{key.pk}/revoke/").status_code == 302
    key.refresh_from_db()
    assert not key.is_active
    # A revoked key's revoke page is its own page again.
    assert client_of(team_admin).get(f"/integrations/{key.pk}/revoke/").status_code == 302


def test_the_event_log_keeps_the_senders_user_agent(api, key, raw_key):
    assert send_v2(api, raw_key, "Zabbix/7.0 (" + "x" * 300 + ")").status_code == 202
    assert Event.objects.get(integration_key=key).user_agent == ("Zabbix/7.0 (" + "x" * 300)[:200]
