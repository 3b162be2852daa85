"""The portal's Noise page (issue 14 item 4): who sees which rules, who may change them,
rules saved through the same validation as the REST API, expire and delete, the tester over
htmx and without JavaScript, and a page cost that does not grow with the rules."""

import json
from datetime import timedelta

import pytest
from django.utils import timezone

from incidents.models import SuppressionRule
from tests.conftest import load_payload
from tests.factories import make_key, make_user
from tests.incidents.noise_helpers import ingest, trigger

pytestmark = pytest.mark.django_db


@pytest.fixture
def admin_web(client_of, team_admin):
    return client_of(team_admin)


def rule(**fields) -> SuppressionRule:
    fields.setdefault("field", "summary")
    fields.setdefault("operator", "contains")
    return SuppressionRule.objects.create(**fields)


def form_data(**overrides) -> dict:
    data = {"name": "staging noise", "scope": "team", "field": "summary", "operator": "contains",
            "value": "staging", "order": "0", "expires_at": "", "enabled": "on"}
    data.update(overrides)
    return data


# --- who sees what -------------------------------------------------------------------------


def test_sign_in_is_required(client, team):
    response = client.get(f"/noise/{team.slug}/")
    assert response.status_code == 302 and response.url.startswith("/login/")


def test_a_member_sees_the_teams_key_and_global_rules_with_hits_and_expiry_but_not_other_teams(
    web, team, key, other_team, other_key
):
    now = timezone.now()
    team_rule = rule(team=team, value="staging", hit_count=7, last_hit_at=now - timedelta(hours=1))
    key_rule = rule(integration_key=key, value="canary", expires_at=now + timedelta(days=2))
    global_rule = rule(value="test alert please ignore")
    rule(team=other_team, value="payments-secret-rule")
    rule(integration_key=other_key, value="payments-key-rule")

    response = web.get(f"/noise/{team.slug}/")
    assert response.status_code == 200
    body = response.content.decode()
    for shown in (team_rule, key_rule, global_rule):
        assert f'data-rule-id="{shown.pk}"' in body
    assert "payments" not in body
    assert "Scope: Team SRE" in body and f"Scope: Key {key.name} ({key.key_prefix}…)" in body
    assert "Scope: Everywhere" in body
    assert "Hits: <strong data-hits>7</strong>" in body
    assert 'aria-current="page">Noise</a>' in body
    # A responder sees no edit controls.
    assert "/rules/new/" not in body and "Expire now" not in body


def test_another_teams_page_and_rules_are_404(web, other_team):
    other_rule = rule(team=other_team, value="x")
    assert web.get(f"/noise/{other_team.slug}/").status_code == 404
    assert web.get(f"/noise/{other_team.slug}/rules/{other_rule.pk}/").status_code == 404
    assert web.post(f"/noise/{other_team.slug}/test/", {"source": "paste"}).status_code == 404


def test_a_rule_of_another_team_is_404_under_my_team(admin_web, team, other_team):
    other_rule = rule(team=other_team, value="x")
    assert admin_web.get(f"/noise/{team.slug}/rules/{other_rule.pk}/").status_code == 404
    assert admin_web.post(f"/noise/{team.slug}/rules/{other_rule.pk}/delete/").status_code == 404
    assert SuppressionRule.objects.filter(pk=other_rule.pk).exists()


def test_a_responder_gets_403_on_every_edit_page_and_action(web, team):
    team_rule = rule(team=team, value="x")
    assert web.get(f"/noise/{team.slug}/rules/new/").status_code == 403
    assert web.post(f"/noise/{team.slug}/rules/new/", form_data()).status_code == 403
    assert web.get(f"/noise/{team.slug}/rules/{team_rule.pk}/").status_code == 403
    assert web.post(f"/noise/{team.slug}/rules/{team_rule.pk}/", form_data()).status_code == 403
    assert web.post(f"/noise/{team.slug}/rules/{team_rule.pk}/expire/").status_code == 403
    assert web.post(f"/noise/{team.slug}/rules/{team_rule.pk}/delete/").status_code == 403
    team_rule.refresh_from_db()
    assert team_rule.expires_at is None and SuppressionRule.objects.count() == 1


def test_a_team_admin_cannot_change_a_global_rule(admin_web, team):
    global_rule = rule(value="everyone's")
    assert admin_web.get(f"/noise/{team.slug}/rules/{global_rule.pk}/").status_code == 403
    assert admin_web.post(f"/noise/{team.slug}/rules/{global_rule.pk}/delete/").status_code == 403


def test_the_index_sends_a_one_team_member_to_their_teams_page(web, team):
    response = web.get("/noise/")
    assert response.status_code == 302 and response.url == f"/noise/{team.slug}/"


# --- create / edit / expire / delete --------------------------------------------------------------


def test_an_admin_creates_a_key_scoped_rule_with_an_expiry(admin_web, team, team_admin, key):
    expires = (timezone.localtime() + timedelta(days=1)).strftime("%Y-%m-%dT%H:%M")
    response = admin_web.post(f"/noise/{team.slug}/rules/new/",
                              form_data(scope=f"key:{key.pk}", operator="regex", value="^staging-",
                                        expires_at=expires, order="3"))
    assert response.status_code == 302 and response.url == f"/noise/{team.slug}/"
    saved = SuppressionRule.objects.get()
    assert (saved.integration_key_id, saved.team_id, saved.operator, saved.value, saved.order) == (
        key.pk, None, "regex", "^staging-", 3)
    assert saved.expires_at is not None and saved.created_by == team_admin and saved.enabled


def test_the_portal_refuses_what_the_rest_api_refuses_with_the_same_words(admin_web, client_of, team, team_admin):
    response = admin_web.post(f"/noise/{team.slug}/rules/new/", form_data(operator="regex", value="(a)\\1"))
    assert response.status_code == 400
    api = client_of(team_admin).post("/api/v1/suppression-rules/", {
        "field": "summary", "operator": "regex", "value": "(a)\\1", "team": team.slug,
    }, content_type="application/json")
    assert api.status_code == 400
    api_words = api.json()["value"][0]
    assert "backreferences are not supported" in api_words
    assert api_words in response.content.decode().replace("&#x27;", "'")
    bad_field = admin_web.post(f"/noise/{team.slug}/rules/new/", form_data(field="hostname"))
    assert bad_field.status_code == 400 and "unknown field" in bad_field.content.decode()
    assert not SuppressionRule.objects.exists()


def test_a_team_admin_cannot_create_a_rule_everywhere_or_on_another_teams_key(admin_web, team, other_key):
    response = admin_web.post(f"/noise/{team.slug}/rules/new/", form_data(scope="everywhere"))
    assert response.status_code == 400
    response = admin_web.post(f"/noise/{team.slug}/rules/new/", form_data(scope=f"key:{other_key.pk}"))
    assert response.status_code == 400
    assert not SuppressionRule.objects.exists()


def test_edit_expire_and_delete(admin_web, team):
    team_rule = rule(team=team, value="old", hit_count=2)
    page = admin_web.get(f"/noise/{team.slug}/rules/{team_rule.pk}/")
    assert page.status_code == 200 and 'value="old"' in page.content.decode()
    response = admin_web.post(f"/noise/{team.slug}/rules/{team_rule.pk}/", form_data(value="new", enabled=""))
    assert response.status_code == 302
    team_rule.refresh_from_db()
    assert (team_rule.value, team_rule.enabled, team_rule.hit_count) == ("new", False, 2)

    before = timezone.now()
    assert admin_web.post(f"/noise/{team.slug}/rules/{team_rule.pk}/expire/").status_code == 302
    team_rule.refresh_from_db()
    assert before <= team_rule.expires_at <= timezone.now()
    body = admin_web.get(f"/noise/{team.slug}/").content.decode()
    assert "expired</span>" in body

    assert admin_web.post(f"/noise/{team.slug}/rules/{team_rule.pk}/delete/").status_code == 302
    assert not SuppressionRule.objects.exists()


def test_an_expired_rule_stops_suppressing(admin_web, team, key):
    team_rule = rule(team=team, value="disk")
    assert ingest(key, trigger("a")).outcome == "suppressed"
    admin_web.post(f"/noise/{team.slug}/rules/{team_rule.pk}/expire/")
    assert ingest(key, trigger("b")).outcome == "created"


# --- the tester --------------------------------------------------------------------------------


def test_a_responder_tests_a_pasted_payload_over_htmx(web, team, key):
    team_rule = rule(team=team, name="demo", value="host1.example.com")
    response = web.post(f"/noise/{team.slug}/test/", {
        "source": "paste", "key": key.pk, "door": "events_v2",
        "payload": json.dumps(load_payload("pagerduty/pd_docs_trigger.json")),
    }, HTTP_HX_REQUEST="true")
    assert response.status_code == 200
    body = response.content.decode()
    assert body.startswith('<div id="tester-results"')  # the partial only
    assert f"Suppressed: matches rule #{team_rule.pk} “demo” because summary contains" in body
    team_rule.refresh_from_db()
    assert team_rule.hit_count == 0


def test_the_tester_picks_a_recent_event_of_the_team(web, team, key, other_key):
    ingest(key, trigger("db-1", summary="Replication lag on db-1"))
    ingest(other_key, trigger("pay-1", summary="Payments secret alert"))
    team_rule = rule(team=team, value="replication")
    page = web.get(f"/noise/{team.slug}/").content.decode()
    assert "Replication lag on db-1" in page and "Payments secret alert" not in page
    from incidents.models import Event

    mine = Event.objects.get(integration_key=key)
    theirs = Event.objects.get(integration_key=other_key)
    response = web.post(f"/noise/{team.slug}/test/", {"source": "event", "event": mine.pk})
    assert response.status_code == 200  # without htmx: the whole page
    assert f"Suppressed: matches rule #{team_rule.pk} because summary contains" in response.content.decode()
    # Another team's event is not among the choices.
    refused = web.post(f"/noise/{team.slug}/test/", {"source": "event", "event": theirs.pk})
    assert refused.status_code == 400 and "Select a valid choice" in refused.content.decode()


def test_a_payload_the_format_refuses_is_a_400_naming_the_problem(web, team, key):
    response = web.post(f"/noise/{team.slug}/test/", {
        "source": "paste", "key": key.pk, "door": "events_v2", "payload": '{"event_action": "trigger"}',
    })
    assert response.status_code == 400
    assert "The events_v2 format refuses this payload" in response.content.decode()
    not_json = web.post(f"/noise/{team.slug}/test/", {
        "source": "paste", "key": key.pk, "door": "events_v2", "payload": "{not json",
    })
    assert not_json.status_code == 400 and "The payload is not a JSON object" in not_json.content.decode()


def test_payload_text_is_escaped_in_the_verdict(web, team, key):
    rule(team=team, value="x")
    body = {"routing_key": "k", "event_action": "trigger",
            "payload": {"summary": "<img src=x onerror=alert(1)>", "source": "s", "severity": "info"}}
    response = web.post(f"/noise/{team.slug}/test/", {
        "source": "paste", "key": key.pk, "door": "events_v2", "payload": json.dumps(body),
    }, HTTP_HX_REQUEST="true")
    assert "<img src=x" not in response.content.decode()
    assert "&lt;img src=x onerror=alert(1)&gt;" in response.content.decode()


# --- cost ----------------------------------------------------------------------------------------


def test_the_page_costs_the_same_with_3_or_30_rules_and_keys(admin_web, team, django_assert_max_num_queries):
    def count_queries() -> int:
        from django.db import connection
        from django.test.utils import CaptureQueriesContext

        with CaptureQueriesContext(connection) as captured:
            assert admin_web.get(f"/noise/{team.slug}/").status_code == 200
        return len(captured)

    for n in range(3):
        rule(team=team, value=f"v{n}")
        make_key(team=team, name=f"k{n}")
    few = count_queries()
    for n in range(27):
        key = make_key(team=team, name=f"more{n}")[0]
        rule(integration_key=key, value=f"w{n}")
    assert count_queries() == few
    with django_assert_max_num_queries(12):
        admin_web.get(f"/noise/{team.slug}/")


def test_a_second_admin_of_another_team_sees_only_theirs(client_of, other_team, team):
    payments_admin = make_user("pat", team=other_team, role="admin")
    rule(team=team, value="sre-only")
    body = client_of(payments_admin).get(f"/noise/{other_team.slug}/").content.decode()
    assert "sre-only" not in body
