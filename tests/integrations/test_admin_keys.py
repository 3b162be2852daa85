"""The Django admin for integration keys and incidents, driven like a person would."""

import re

import pytest
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.contrib.auth.models import Permission
from django.contrib.sessions.models import Session

from incidents import actions
from incidents.models import ChangeEvent, Event, Incident
from integrations import keys
from integrations.models import IntegrationKey
from tests.factories import make_incident, make_key, make_policy, make_team, make_user

pytestmark = pytest.mark.django_db

ADD_URL = "/admin/integrations/integrationkey/add/"
LIST_URL = "/admin/integrations/integrationkey/"
NEW_KEY_URL = "/admin/integrations/integrationkey/new-key/"
RAW_KEY = re.compile(r"ik_[A-Za-z0-9]{29}")


@pytest.fixture(autouse=True)
def loopback_exempt_from_rate_limit(settings):
    settings.INBOUND_RATE_LIMIT_EXEMPT = ["127.0.0.0/8"]


@pytest.fixture
def root(client):
    user = make_user("root", is_superuser=True, is_staff=True)
    client.force_login(user)
    return user


def add_form(policy, team, **overrides):
    data = {
        "name": "Prometheus prod",
        "escalation_policy": policy.pk,
        "team": team.pk,
        "grouping_type": "none",
        "grouping_window_seconds": 300,
        "grouping_labels": "[]",
        "heartbeat_interval_seconds": "",
        "_save": "Save",
    }
    data.update(overrides)
    return data


def trigger(raw_key, dedup_key="admin-test"):
    return {"routing_key": raw_key, "event_action": "trigger", "dedup_key": dedup_key,
            "payload": {"summary": "x", "severity": "info", "source": "t"}}


def raw_keys_in(html: str) -> set[str]:
    return set(RAW_KEY.findall(html))


def test_add_form_asks_only_for_name_policy_team_grouping_and_heartbeat(client, root):
    html = client.get(ADD_URL).content.decode()
    form_fields = re.findall(r'<(?:input|select|textarea)\b[^>]*\bname="([a-z_]+)"', html)
    asked = set(form_fields) - {"csrfmiddlewaretoken", "_save", "_addanother", "_continue"}
    assert asked == {
        "name", "escalation_policy", "team", "grouping_type", "grouping_window_seconds", "grouping_labels",
        "heartbeat_interval_seconds",
    }
    assert "key_digest" not in html and "key_prefix" not in html


def test_saving_a_new_key_shows_the_raw_key_once(client, root, team, api):
    policy = make_policy(team=team)
    response = client.post(ADD_URL, add_form(policy, team))
    assert response.status_code == 302 and response["Location"] == NEW_KEY_URL

    page = client.get(NEW_KEY_URL)
    html = page.content.decode()
    assert "no-store" in page["Cache-Control"]
    (raw,) = raw_keys_in(html)
    key = IntegrationKey.objects.get(name="Prometheus prod")
    assert keys.digest(raw) == key.key_digest and key.key_prefix == raw[:8]
    assert key.created_by == root and key.team == team and key.escalation_policy == policy
    # A copy button per secret, wired by the static script (no inline JavaScript: CSP).
    assert f'data-copy-target="vigil-key-{key.pk}"' in html
    assert f'id="vigil-key-{key.pk}"' in html
    assert re.search(r'<script src="[^"]*vigil/copy\.js"', html)
    assert "<script>" not in html
    # The ready-to-paste curl line uses the key and the Events API door.
    assert re.search(rf"curl -sS -X POST http://[^ ]+/v2/enqueue .*{raw}", html)
    # And the key works.
    assert api.post("/v2/enqueue", trigger(raw), format="json").status_code == 202

    second_visit = client.get(NEW_KEY_URL).content.decode()
    assert raw not in second_visit and not raw_keys_in(second_visit)
    assert "shown only once" in second_visit


def test_the_session_forgets_the_key_once_shown(client, root, team):
    client.post(ADD_URL, add_form(make_policy(team=team), team))
    (raw,) = raw_keys_in(client.get(NEW_KEY_URL).content.decode())
    for session in Session.objects.all():
        assert raw not in str(session.get_decoded())


def test_change_form_and_list_never_show_the_key_or_digest(client, root, team):
    client.post(ADD_URL, add_form(make_policy(team=team), team))
    (raw,) = raw_keys_in(client.get(NEW_KEY_URL).content.decode())
    key = IntegrationKey.objects.get()
    for url in [LIST_URL, f"{LIST_URL}{key.pk}/change/", f"{LIST_URL}?q={key.key_prefix}"]:
        html = client.get(url).content.decode()
        assert raw not in html
        assert key.key_digest not in html
        assert key.key_prefix in html


def test_list_shows_prefix_policy_team_and_dates(client, root, team, key):
    html = client.get(LIST_URL).content.decode()
    for column in ["column-name", "column-key_prefix", "column-escalation_policy", "column-team",
                   "column-created_at", "column-last_used_at", "column-revoked_at"]:
        assert column in html
    assert key.escalation_policy.name in html and team.name in html


def test_list_filters_active_and_revoked_keys(client, root, team):
    active, _ = make_key(team=team, name="still-active")
    revoked, _ = make_key(team=team, name="long-gone")
    revoked.revoke()
    html = client.get(f"{LIST_URL}?state=revoked").content.decode()
    assert "long-gone" in html and "still-active" not in html
    html = client.get(f"{LIST_URL}?state=active").content.decode()
    assert "still-active" in html and "long-gone" not in html


def test_search_by_name_and_prefix(client, root, team):
    wanted, _ = make_key(team=team, name="grafana-eu")
    make_key(team=team, name="zabbix-us")
    html = client.get(f"{LIST_URL}?q={wanted.key_prefix}").content.decode()
    assert "grafana-eu" in html and "zabbix-us" not in html


def test_revoke_action_stops_the_key(client, root, key, raw_key, api):
    response = client.post(LIST_URL, {"action": "revoke_keys", ACTION_CHECKBOX_NAME: [key.pk]})
    assert response.status_code == 302
    key.refresh_from_db()
    assert key.revoked_at is not None
    assert api.post("/v2/enqueue", trigger(raw_key), format="json").status_code == 400


def test_rotate_action_shows_the_new_key_once_and_keeps_the_old_working(client, root, key, raw_key, api):
    response = client.post(LIST_URL, {"action": "rotate_keys", ACTION_CHECKBOX_NAME: [key.pk]})
    assert response.status_code == 302 and response["Location"] == NEW_KEY_URL
    (new_raw,) = raw_keys_in(client.get(NEW_KEY_URL).content.decode())
    new_key = IntegrationKey.objects.get(rotated_from=key)
    assert keys.digest(new_raw) == new_key.key_digest
    assert (new_key.escalation_policy, new_key.team, new_key.name) == (key.escalation_policy, key.team, key.name)
    assert new_key.created_by == root
    assert api.post("/v2/enqueue", trigger(raw_key, "old"), format="json").status_code == 202
    assert api.post("/v2/enqueue", trigger(new_raw, "new"), format="json").status_code == 202
    assert not raw_keys_in(client.get(NEW_KEY_URL).content.decode())


def test_rotating_a_revoked_key_issues_nothing(client, root, key):
    key.revoke()
    client.post(LIST_URL, {"action": "rotate_keys", ACTION_CHECKBOX_NAME: [key.pk]})
    assert not IntegrationKey.objects.filter(rotated_from=key).exists()


def test_policy_of_another_team_is_refused(client, root, team):
    other_policy = make_policy(team=make_team("Payments"))
    response = client.post(ADD_URL, add_form(other_policy, team))
    assert response.status_code == 200
    assert "This policy belongs to another team." in response.content.decode()
    assert not IntegrationKey.objects.exists()


def test_grouping_labels_must_be_a_list_of_names(client, root, team):
    response = client.post(ADD_URL, add_form(make_policy(team=team), team, grouping_labels='{"a": 1}'))
    assert response.status_code == 200 and not IntegrationKey.objects.exists()


def test_time_window_grouping_is_saved(client, root, team):
    client.post(ADD_URL, add_form(make_policy(team=team), team, grouping_type="time_window",
                                  grouping_window_seconds=600, grouping_labels='["service"]'))
    key = IntegrationKey.objects.get()
    assert (key.grouping_type, key.grouping_window_seconds, key.grouping_labels) == ("time_window", 600, ["service"])


XSS = "<script>alert('pwned')</script>"


def test_script_summary_renders_escaped_in_incident_admin(client, root, key):
    incident = make_incident(key, summary=XSS, labels={"service": XSS}, details={"note": XSS})
    for url in ["/admin/incidents/incident/", f"/admin/incidents/incident/{incident.pk}/change/",
                "/admin/incidents/alert/", "/admin/incidents/event/"]:
        html = client.get(url).content.decode()
        assert XSS not in html, url
        assert "&lt;script&gt;alert(" in html, url


def test_event_admin_shows_the_raw_body_escaped(client, root, raw_key, api):
    body = trigger(raw_key)
    body["payload"]["summary"] = XSS
    api.post("/v2/enqueue", body, format="json")
    event = Event.objects.get()
    html = client.get(f"/admin/incidents/event/{event.pk}/change/").content.decode()
    assert XSS not in html
    assert "&lt;script&gt;alert(&#x27;pwned&#x27;)&lt;/script&gt;" in html
    assert raw_key not in html


def test_event_admin_filters_by_format_and_outcome(client, root, key):
    make_incident(key, summary="first")
    html = client.get("/admin/incidents/event/?outcome=created&format=events_v2").content.decode()
    assert "first" in html
    html = client.get("/admin/incidents/event/?outcome=resolved").content.decode()
    assert "first" not in html


def test_incident_admin_search_by_dedup_key_and_acknowledge_action(client, root, key):
    wanted = make_incident(key, dedup_key="needle-123", summary="wanted one")
    make_incident(key, dedup_key="hay-456", summary="other one")
    html = client.get("/admin/incidents/incident/?q=needle-123").content.decode()
    assert "wanted one" in html and "other one" not in html
    client.post("/admin/incidents/incident/", {"action": "acknowledge_selected", ACTION_CHECKBOX_NAME: [wanted.pk]})
    wanted.refresh_from_db()
    assert wanted.status == Incident.Status.ACKNOWLEDGED and wanted.acknowledged_by == root


def test_incident_admin_is_read_mostly(client, root, key):
    incident = make_incident(key)
    assert client.get("/admin/incidents/incident/add/").status_code == 403
    client.post(f"/admin/incidents/incident/{incident.pk}/change/", {"summary": "edited", "status": "resolved"})
    incident.refresh_from_db()
    assert incident.summary != "edited" and incident.status == Incident.Status.TRIGGERED


def test_timeline_and_change_event_admin_pages_render_escaped(client, root, key):
    incident = make_incident(key)
    actions.do_add_note(incident.pk, by=root, text=XSS)
    ChangeEvent.objects.create(integration_key=key, team=key.team, summary=XSS, source="deploy-bot",
                               custom_details={"commit": XSS})
    for url in ["/admin/incidents/timelineentry/", "/admin/incidents/changeevent/",
                f"/admin/incidents/changeevent/{ChangeEvent.objects.get().pk}/change/"]:
        html = client.get(url).content.decode()
        assert XSS not in html, url
        assert "&lt;script&gt;alert(" in html, url


def test_new_key_page_includes_the_door_snippets(client, root, team):
    client.post(ADD_URL, add_form(make_policy(team=team), team))
    response = client.get(NEW_KEY_URL)
    assert "integrations/_snippets.html" in [t.name for t in response.templates]
    (raw,) = raw_keys_in(response.content.decode())
    assert response.content.decode().count(raw) > 3  # the snippets carry the key too


def test_staff_who_are_not_superusers_see_only_their_teams(client, team, key):
    theirs, _ = make_key(team=make_team("Payments"), name="payments-key")
    staff = make_user("staffer", team=team, is_staff=True)
    staff.user_permissions.add(*Permission.objects.filter(codename__in=["view_integrationkey", "view_incident"]))
    mine = make_incident(key, summary="ours to see")
    make_incident(theirs, summary="not for staffer")
    client.force_login(staff)
    html = client.get(LIST_URL).content.decode()
    assert key.name in html and "payments-key" not in html
    assert client.get(f"{LIST_URL}{theirs.pk}/change/").status_code == 302  # admin: "doesn't exist"
    html = client.get("/admin/incidents/incident/").content.decode()
    assert "ours to see" in html and "not for staffer" not in html
    assert client.get(f"/admin/incidents/incident/{mine.pk}/change/").status_code == 200


def test_staff_responders_cannot_revoke_or_rotate_their_teams_keys(client, team, key):
    staff = make_user("staffer", team=team, is_staff=True)
    staff.user_permissions.add(*Permission.objects.filter(codename__in=["view_integrationkey",
                                                                        "change_integrationkey"]))
    client.force_login(staff)
    client.post(LIST_URL, {"action": "revoke_keys", ACTION_CHECKBOX_NAME: [key.pk]})
    client.post(LIST_URL, {"action": "rotate_keys", ACTION_CHECKBOX_NAME: [key.pk]})
    key.refresh_from_db()
    assert key.is_active and not key.rotations.exists()


def test_read_only_incident_admins_show_staff_only_their_teams_rows(client, team, key):
    """Alerts, events, timeline entries and change events each reach their team by a
    different path; a staff member of one team sees none of another team's rows."""
    other_key, _ = make_key(team=make_team("Payments"), name="payments-key")
    ours, theirs = make_incident(key, summary="ours-incident"), make_incident(other_key, summary="theirs-incident")
    actions.do_add_note(ours.pk, by=None, text="ours-note")
    actions.do_add_note(theirs.pk, by=None, text="theirs-note")
    ChangeEvent.objects.create(integration_key=key, team=key.team, summary="ours-change")
    ChangeEvent.objects.create(integration_key=other_key, team=other_key.team, summary="theirs-change")
    staff = make_user("staff-reader", team=team, is_staff=True)
    staff.user_permissions.add(*Permission.objects.filter(
        codename__in=["view_alert", "view_event", "view_timelineentry", "view_changeevent"]))
    client.force_login(staff)
    for url, mine, other in [
        ("/admin/incidents/alert/", "ours-incident", "theirs-incident"),
        ("/admin/incidents/event/", "ours-incident", "theirs-incident"),
        ("/admin/incidents/timelineentry/", "ours-note", "theirs-note"),
        ("/admin/incidents/changeevent/", "ours-change", "theirs-change"),
    ]:
        html = client.get(url).content.decode()
        assert mine in html, url
        assert other not in html, url
