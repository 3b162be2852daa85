import json

import pytest

from incidents import actions
from incidents.models import Event, TimelineEntry
from tests.factories import make_incident

pytestmark = pytest.mark.django_db


def test_detail_shows_every_field_the_source_sent(web, key):
    incident = make_incident(
        key,
        dedup_key="disk-full-srv01",
        summary="Disk usage > 90% on srv01",
        severity="error",
        original_severity="major",
        component="postgres",
        group="db",
        event_class="disk",
        entity="srv01",
        labels={"env": "prod", "region": "eu-west-1"},
        details={"ping time": "1500ms", "load avg": 0.75, "nested": {"mount": "/var"}},
        links=[{"href": "https://grafana.example.com/d/1", "text": "Dashboard"}],
        images=[{"src": "https://img.example.com/graph.png", "alt": "Disk graph"}],
        runbook="https://wiki.example.com/runbooks/disk",
    )
    body = web.get(f"/incidents/{incident.pk}/").content.decode()
    assert "Disk usage &gt; 90% on srv01" in body
    assert "Error" in body and "(sent as “major”)" in body
    for text in ("postgres", "srv01", "eu-west-1", "disk-full-srv01"):
        assert text in body
    # Details as indented JSON, every key kept.
    assert json.dumps({"load avg": 0.75, "nested": {"mount": "/var"}, "ping time": "1500ms"}, indent=2,
                      sort_keys=True).replace('"', "&quot;") in body
    assert '<a href="https://grafana.example.com/d/1" rel="noopener noreferrer" target="_blank">Dashboard</a>' in body
    assert '<a href="https://wiki.example.com/runbooks/disk" rel="noopener noreferrer"' in body
    assert '<a href="https://img.example.com/graph.png" rel="noopener noreferrer" target="_blank">Disk graph</a>' in body


def test_non_http_links_and_runbooks_are_shown_as_text(web, key):
    incident = make_incident(
        key,
        links=[{"href": "javascript:alert(1)", "text": "click"}, {"href": "ftp://files/x", "text": "ftp"}],
        runbook="data:text/html,<script>alert(1)</script>",
        images=[{"src": "javascript:alert(2)", "alt": "img"}],
    )
    body = web.get(f"/incidents/{incident.pk}/").content.decode()
    assert 'href="javascript' not in body and 'href="ftp' not in body and 'href="data:' not in body
    assert "javascript:alert(1)" in body  # shown, as text
    assert "data:text/html,&lt;script&gt;alert(1)&lt;/script&gt;" in body


def test_timeline_shows_events_with_outcome_and_reason_actions_and_notifications(web, key, responder):
    incident = make_incident(key, dedup_key="t")
    make_incident(key, dedup_key="t")  # a repeat trigger: outcome "updated"
    actions.do_acknowledge_incident(incident.pk, by=responder, via="web")
    actions.do_add_note(incident.pk, by=responder, text="Looking at the disk now")
    # As the notification sender records a failed delivery.
    TimelineEntry.objects.create(
        incident=incident, kind=TimelineEntry.Kind.NOTIFICATION_FAILED,
        message="Emailing rita (rita@example.com) failed: SMTP 550 mailbox unavailable",
    )
    Event.objects.create(
        integration_key=key, incident=incident, format="events_v2", action="resolve",
        outcome="ignored", reason="no open alert", dedup_key="t",
    )
    body = web.get(f"/incidents/{incident.pk}/").content.decode()
    assert "events_v2 trigger → created" in body
    assert "events_v2 trigger → updated" in body
    assert "Reason: no open alert" in body
    assert "Acknowledged by Rita Responder (web)" in body
    assert "Looking at the disk now" in body and "by Rita Responder" in body
    assert "Notification failed" in body and "SMTP 550 mailbox unavailable" in body


def test_another_teams_incident_is_a_404(web, other_incident):
    assert web.get(f"/incidents/{other_incident.pk}/").status_code == 404
    assert web.get("/incidents/987654/").status_code == 404


def test_superuser_sees_every_team(client_of, other_incident):
    from tests.factories import make_user

    boss = make_user("boss", is_superuser=True, is_staff=True)
    response = client_of(boss).get(f"/incidents/{other_incident.pk}/")
    assert response.status_code == 200
    assert 'href="/admin/"' in response.content.decode()


def test_still_firing_source_is_pointed_out(web, key):
    incident = make_incident(key, dedup_key="hot")
    body = web.get(f"/incidents/{incident.pk}/").content.decode()
    assert 'id="still-firing"' in body and "<code>hot</code>" in body


def test_detail_page_queries_are_bounded_with_a_long_timeline(
    web, key, responder, django_assert_max_num_queries
):
    incident = make_incident(key, dedup_key="busy")
    for _ in range(60):
        make_incident(key, dedup_key="busy")
    for n in range(80):
        actions.do_add_note(incident.pk, by=responder, text=f"note {n}")
    for n in range(10):
        TimelineEntry.objects.create(incident=incident, kind=TimelineEntry.Kind.NOTIFICATION,
                                     message=f"Emailed rita (r@example.com): page, step {n}")
    for n in range(55):
        make_incident(key, dedup_key=f"other-{n}")
    # session, user, incident, alerts, first payload, suppressed count, reassign people and
    # schedules, events, timeline entries (+2 counts when the timeline is longer than its cap)
    with django_assert_max_num_queries(10):
        response = web.get(f"/incidents/{incident.pk}/")
    assert response.status_code == 200
    body = response.content.decode()
    assert body.count('class="tl tl-note"') == 80
    assert body.count('class="tl tl-event"') == 61
    assert body.count('class="tl tl-notification"') == 10


def test_a_timeline_longer_than_the_cap_shows_the_newest_and_says_what_is_hidden(
    web, key, responder, monkeypatch, django_assert_max_num_queries
):
    from incidents import timeline

    monkeypatch.setattr(timeline, "DEFAULT_LIMIT", 3)
    incident = make_incident(key, dedup_key="long")
    for n in range(5):
        actions.do_add_note(incident.pk, by=responder, text=f"note {n}")
    with django_assert_max_num_queries(12):
        body = web.get(f"/incidents/{incident.pk}/").content.decode()
    assert "note 1<" not in body and "note 2<" in body and "note 4<" in body
    assert "Older items are not shown: 0 events and 2 entries." in body
