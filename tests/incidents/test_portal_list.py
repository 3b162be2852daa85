import re

import pytest

from incidents import actions
from incidents.models import Incident
from tests.factories import make_incident, make_key

pytestmark = pytest.mark.django_db


def listed_ids(response) -> list[int]:
    return [int(i) for i in re.findall(r'data-incident-id="(\d+)"', response.content.decode())]


def test_sign_in_is_required(client):
    response = client.get("/")
    assert response.status_code == 302
    assert response.url.startswith("/login/")


def test_a_signed_out_live_refresh_sends_the_whole_page_to_sign_in(client):
    response = client.get("/?status=open", HTTP_HX_REQUEST="true")
    assert response["HX-Redirect"] == "/login/?next=%2F"
    assert b"<form" not in response.content


def test_open_incidents_come_first_then_newest(web, key, responder):
    resolved = make_incident(key, dedup_key="a")
    acked = make_incident(key, dedup_key="b")
    triggered_old = make_incident(key, dedup_key="c")
    triggered_new = make_incident(key, dedup_key="d")
    actions.do_resolve_incident(resolved.pk, by=responder)
    actions.do_acknowledge_incident(acked.pk, by=responder)
    response = web.get("/")
    assert response.status_code == 200
    assert listed_ids(response) == [triggered_new.pk, triggered_old.pk, acked.pk, resolved.pk]


def test_counts_per_status_follow_the_other_filters(web, key, team, responder):
    for n in range(3):
        make_incident(key, dedup_key=f"t{n}", severity="critical")
    info = make_incident(key, dedup_key="i", severity="info")
    actions.do_acknowledge_incident(info.pk, by=responder)
    body = web.get("/?severity=critical").content.decode()
    assert 'data-status="all">3<' in body
    assert 'data-status="triggered">3<' in body
    assert 'data-status="acknowledged">0<' in body


def test_filters_by_status_severity_team_and_key(web, key, team, responder):
    second_key = make_key(team=team, name="grafana")[0]
    critical = make_incident(key, dedup_key="c", severity="critical")
    warning = make_incident(second_key, dedup_key="w", severity="warning")
    actions.do_acknowledge_incident(warning.pk, by=responder)
    assert listed_ids(web.get("/?status=triggered")) == [critical.pk]
    assert listed_ids(web.get("/?status=open")) == [critical.pk, warning.pk]
    assert listed_ids(web.get("/?severity=warning")) == [warning.pk]
    assert listed_ids(web.get(f"/?key={second_key.pk}")) == [warning.pk]
    assert listed_ids(web.get(f"/?team={team.slug}&status=resolved")) == []


def test_search_matches_summary_and_any_alerts_dedup_key(web, key):
    disk = make_incident(key, dedup_key="disk-full-srv01", summary="Disk usage high")
    make_incident(key, dedup_key="cpu", summary="CPU hot")
    assert listed_ids(web.get("/?q=disk+usage")) == [disk.pk]
    assert listed_ids(web.get("/?q=FULL-srv")) == [disk.pk]


def test_another_teams_incidents_are_never_listed_whatever_the_filters(web, other_incident, other_key, key):
    mine = make_incident(key, dedup_key="mine")
    assert listed_ids(web.get("/")) == [mine.pk]
    assert listed_ids(web.get("/?team=payments")) == []
    assert listed_ids(web.get(f"/?key={other_key.pk}")) == []
    assert listed_ids(web.get("/?q=payments")) == []
    body = web.get("/?team=payments").content.decode()
    assert 'data-status="all">0<' in body  # counts do not leak either
    assert "Payments" not in body  # nor the team's name in the filter options


def test_pagination_keeps_the_filters(web, key):
    for n in range(30):
        make_incident(key, dedup_key=f"k{n}", severity="critical")
    first = web.get("/?severity=critical")
    assert len(listed_ids(first)) == 25
    assert 'href="?severity=critical&amp;page=2"' in first.content.decode()
    second = web.get("/?severity=critical&page=2")
    assert len(listed_ids(second)) == 5
    assert set(listed_ids(first)).isdisjoint(listed_ids(second))


def test_live_refresh_answers_only_the_results_fragment(web, key):
    incident = make_incident(key, dedup_key="x")
    response = web.get("/?status=open", HTTP_HX_REQUEST="true")
    body = response.content.decode()
    assert body.lstrip().startswith("<section id=\"incident-results\"") or "<html" not in body
    assert "<html" not in body
    assert listed_ids(response) == [incident.pk]
    assert 'hx-trigger="every 5s"' in body
    assert 'hx-get="/?status=open"' in body
    assert "HX-Request" in response["Vary"]


def test_list_page_queries_are_bounded_with_many_incidents(web, key, django_assert_max_num_queries):
    for n in range(60):
        make_incident(key, dedup_key=f"many-{n}")
    # session, user, maintenance banner, per-status counts, page count, the page's rows,
    # team and key options
    with django_assert_max_num_queries(8):
        response = web.get("/?q=many&status=open&severity=critical")
    assert response.status_code == 200
    assert len(listed_ids(response)) == 25
    # The live refresh needs no filter options.
    with django_assert_max_num_queries(6):
        web.get("/?q=many&status=open", HTTP_HX_REQUEST="true")
    assert Incident.objects.count() == 60
