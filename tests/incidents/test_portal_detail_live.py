"""An open incident's page keeps itself current: htmx polls /incidents/<pk>/live/, a partial
with the status, who acknowledged or resolved, the still-firing notice, the alerts and the
timeline, and never the note or action forms. Once resolved, the partial stops the polling."""

import httpx
import pytest
from playwright.sync_api import expect

from incidents import actions
from incidents.models import TimelineEntry
from tests.factories import make_api_token, make_incident, make_user

LIVE_TRIGGER = 'hx-trigger="every 5s"'


def live_url(incident) -> str:
    return f"/incidents/{incident.pk}/live/"


@pytest.mark.django_db
class TestTheLivePartial:
    def test_an_open_incidents_page_polls_the_live_partial(self, web, key):
        incident = make_incident(key, dedup_key="poll-me")
        body = web.get(f"/incidents/{incident.pk}/").content.decode()
        assert f'hx-get="{live_url(incident)}"' in body and LIVE_TRIGGER in body
        # The note form sits outside every refreshed part, so typing is never swapped away.
        assert body.index('id="note-text"') > body.index('id="timeline"')

    def test_the_partial_answers_a_member_with_status_alerts_and_timeline_but_no_form(self, web, key):
        incident = make_incident(key, dedup_key="db-down", summary="Database down")
        response = web.get(live_url(incident), HTTP_HX_REQUEST="true")
        assert response.status_code == 200
        body = response.content.decode()
        assert "Triggered" in body and 'id="still-firing"' in body
        assert "<code>db-down</code>" in body and "events_v2 trigger → created" in body
        # The head replaces itself; the alerts and the timeline are out-of-band swaps.
        assert LIVE_TRIGGER in body
        assert '<div id="incident-alerts" hx-swap-oob="true">' in body
        assert '<div id="incident-timeline" hx-swap-oob="true">' in body
        assert "<form" not in body and "<textarea" not in body and "<button" not in body

    def test_the_partial_of_another_teams_incident_is_a_404(self, web, other_incident):
        assert web.get(live_url(other_incident), HTTP_HX_REQUEST="true").status_code == 404
        assert web.get("/incidents/987654/live/", HTTP_HX_REQUEST="true").status_code == 404

    def test_a_signed_out_poll_sends_the_whole_page_to_sign_in_and_back(self, client, key):
        incident = make_incident(key)
        response = client.get(
            live_url(incident), HTTP_HX_REQUEST="true",
            HTTP_HX_CURRENT_URL=f"http://testserver/incidents/{incident.pk}/",
        )
        assert response["HX-Redirect"] == f"/login/?next=%2Fincidents%2F{incident.pk}%2F"

    def test_a_timeline_entry_added_after_the_page_was_rendered_shows_in_the_next_poll(
        self, web, key, responder
    ):
        incident = make_incident(key)
        page = web.get(f"/incidents/{incident.pk}/").content.decode()
        actions.do_add_note(incident.pk, by=responder, text="Failover started on db02")
        actions.do_acknowledge_incident(incident.pk, by=responder, via="api")
        assert "Failover started on db02" not in page
        body = web.get(live_url(incident), HTTP_HX_REQUEST="true").content.decode()
        assert "Failover started on db02" in body
        assert "Acknowledged by Rita Responder (api)" in body
        assert 'status-acknowledged' in body and 'id="acknowledged-fact"' in body
        assert LIVE_TRIGGER in body  # still open: keep polling

    def test_polling_stops_once_the_incident_is_resolved(self, web, key, responder):
        incident = make_incident(key)
        actions.do_resolve_incident(incident.pk, by=responder, via="api")
        body = web.get(live_url(incident), HTTP_HX_REQUEST="true").content.decode()
        assert "status-resolved" in body and 'id="resolved-fact"' in body
        assert "hx-trigger" not in body and "hx-get" not in body and "Updates every" not in body
        assert "hx-trigger" not in web.get(f"/incidents/{incident.pk}/").content.decode()

    def test_the_partial_does_a_bounded_number_of_queries_with_a_long_timeline(
        self, web, key, responder, django_assert_max_num_queries
    ):
        incident = make_incident(key, dedup_key="busy")
        for _ in range(60):
            make_incident(key, dedup_key="busy")
        for n in range(80):
            actions.do_add_note(incident.pk, by=responder, text=f"note {n}")
        for n in range(10):
            TimelineEntry.objects.create(incident=incident, kind=TimelineEntry.Kind.NOTIFICATION,
                                         message=f"Emailed rita (r@example.com): page, step {n}")
        # session, user, incident, alerts, events, timeline entries
        with django_assert_max_num_queries(6):
            response = web.get(live_url(incident), HTTP_HX_REQUEST="true")
        body = response.content.decode()
        assert body.count('class="tl tl-note"') == 80
        assert body.count('class="tl tl-event"') == 61
        assert body.count('class="tl tl-notification"') == 10

    def test_a_timeline_longer_than_the_cap_costs_at_most_two_counts_more(
        self, web, key, responder, monkeypatch, django_assert_max_num_queries
    ):
        from incidents import timeline

        monkeypatch.setattr(timeline, "DEFAULT_LIMIT", 3)
        incident = make_incident(key)
        for n in range(5):
            actions.do_add_note(incident.pk, by=responder, text=f"note {n}")
        with django_assert_max_num_queries(8):
            body = web.get(live_url(incident), HTTP_HX_REQUEST="true").content.decode()
        assert "note 1<" not in body and "note 4<" in body
        assert "Older items are not shown: 0 events and 2 entries." in body


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_the_detail_page_shows_an_acknowledgement_made_elsewhere_without_a_reload(
    browser_page, team, key, responder
):
    incident = make_incident(key, dedup_key="live-disk", summary="Disk usage > 90% on srv02")
    colleague = make_user("colin", team=team, first_name="Colin", last_name="Next")
    token = make_api_token(colleague)
    browser_page.sign_in("rita")
    page = browser_page.page
    polls = []
    page.on("request", lambda request: polls.append(request.url) if request.url.endswith("/live/") else None)
    browser_page.go(f"/incidents/{incident.pk}/")
    expect(page.locator(".incident-head .status")).to_contain_text("Triggered")
    page.evaluate("window.__notReloaded = true")
    # Rita is typing a note while her colleague acknowledges from a script.
    page.fill("#note-text", "Checking the disk on srv02")

    api = httpx.Client(base_url=browser_page.base_url, headers={"Authorization": f"Token {token}"},
                       timeout=10)
    assert api.post(f"/api/v1/incidents/{incident.pk}/acknowledge/").status_code == 200
    expect(page.locator(".incident-head .status")).to_contain_text("Acknowledged", timeout=12_000)
    expect(page.locator("#timeline")).to_contain_text("Acknowledged by Colin Next (api)")
    expect(page.locator("#acknowledged-fact")).to_contain_text("colin")
    assert page.evaluate("window.__notReloaded") is True
    # Her half-typed note and her focus survived the refresh.
    expect(page.locator("#note-text")).to_have_value("Checking the disk on srv02")
    assert page.evaluate("document.activeElement.id") == "note-text"

    assert api.post(f"/api/v1/incidents/{incident.pk}/resolve/").status_code == 200
    expect(page.locator(".incident-head .status")).to_contain_text("Resolved", timeout=12_000)
    expect(page.locator("#timeline")).to_contain_text("Resolved by Colin Next (api)")
    # The resolved answer carried no trigger: no more polls, even after a full interval.
    polls_when_resolved = len(polls)
    page.wait_for_timeout(6_000)
    assert len(polls) == polls_when_resolved
    assert page.evaluate("window.__notReloaded") is True
    assert browser_page.dialogs == [] and browser_page.errors == [] and browser_page.csp_violations == []
