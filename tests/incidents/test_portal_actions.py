from datetime import timedelta

import pytest
from django.utils import timezone

from escalation.models import ContactMethod, Notification
from incidents.models import Alert, Incident, TimelineEntry
from oncall.models import Schedule, ScheduleOverride
from tests.factories import make_incident, make_user

pytestmark = pytest.mark.django_db


def entries(incident, kind):
    return list(TimelineEntry.objects.filter(incident=incident, kind=kind).select_related("actor"))


def test_acknowledge_records_who_did_it_and_stops_escalation(web, key, responder):
    incident = make_incident(key)
    response = web.post(f"/incidents/{incident.pk}/acknowledge/", follow=True)
    assert response.status_code == 200
    incident.refresh_from_db()
    assert incident.status == "acknowledged"
    assert incident.acknowledged_by == responder and incident.acknowledged_via == "web"
    assert incident.next_escalation_at is None
    [entry] = entries(incident, "acknowledged")
    assert entry.actor == responder
    assert "Acknowledged by Rita Responder (web)" in response.content.decode()


def test_acknowledging_twice_changes_nothing_the_second_time(web, key):
    incident = make_incident(key)
    web.post(f"/incidents/{incident.pk}/acknowledge/")
    response = web.post(f"/incidents/{incident.pk}/acknowledge/", follow=True)
    assert "Nothing changed: already acknowledged." in response.content.decode()
    assert len(entries(incident, "acknowledged")) == 1


def test_resolving_a_quiet_incident_needs_no_confirmation(web, key, responder):
    incident = make_incident(key, dedup_key="quiet")
    Alert.objects.filter(incident=incident).update(last_trigger_at=timezone.now() - timedelta(minutes=16))
    response = web.post(f"/incidents/{incident.pk}/resolve/")
    assert response.status_code == 302
    incident.refresh_from_db()
    assert incident.status == "resolved" and incident.resolved_by == responder
    assert entries(incident, "resolved")[0].actor == responder


def test_resolving_while_the_source_still_fires_asks_first_and_says_why(web, key):
    incident = make_incident(key, dedup_key="still-hot")
    response = web.post(f"/incidents/{incident.pk}/resolve/")
    assert response.status_code == 200
    body = response.content.decode()
    assert "has not sent a resolve" in body and "<code>still-hot</code>" in body
    assert 'name="confirm" value="yes"' in body
    assert Incident.objects.get(pk=incident.pk).status == "triggered"
    web.post(f"/incidents/{incident.pk}/resolve/", {"confirm": "yes"})
    assert Incident.objects.get(pk=incident.pk).status == "resolved"
    assert Alert.objects.get(incident=incident).status == "resolved"


def test_add_note_writes_the_timeline_with_the_author(web, key, responder):
    incident = make_incident(key)
    web.post(f"/incidents/{incident.pk}/notes/", {"text": "  Restarted the pod  "})
    [note] = entries(incident, "note")
    assert note.message == "Restarted the pod" and note.actor == responder


def test_an_empty_note_is_refused(web, key):
    incident = make_incident(key)
    response = web.post(f"/incidents/{incident.pk}/notes/", {"text": "   "}, follow=True)
    assert "A note needs some text." in response.content.decode()
    assert entries(incident, "note") == []


def test_escalate_now_brings_the_next_step_forward(web, key, responder, django_capture_on_commit_callbacks):
    incident = make_incident(key)
    Incident.objects.filter(pk=incident.pk).update(next_escalation_at=timezone.now() + timedelta(hours=1))
    with django_capture_on_commit_callbacks() as callbacks:
        web.post(f"/incidents/{incident.pk}/escalate/")
    incident.refresh_from_db()
    assert incident.next_escalation_at <= timezone.now()
    [entry] = entries(incident, "escalation")
    assert entry.actor == responder and "brought forward" in entry.message
    assert len(callbacks) == 1  # the escalation task is enqueued after the commit


def test_escalate_now_on_an_acknowledged_incident_triggers_it_again(web, key):
    incident = make_incident(key)
    web.post(f"/incidents/{incident.pk}/acknowledge/")
    page = web.get(f"/incidents/{incident.pk}/").content.decode()
    assert 'id="escalate-button"' in page  # still offered once acknowledged
    web.post(f"/incidents/{incident.pk}/escalate/", follow=True)
    incident.refresh_from_db()
    assert incident.status == "triggered" and incident.next_escalation_at <= timezone.now()
    [entry] = entries(incident, "escalation")
    assert entry.message.startswith("Re-opened and escalated by")


def test_escalate_now_leaves_a_resolved_incident_alone(web, key):
    incident = make_incident(key)
    web.post(f"/incidents/{incident.pk}/resolve/", {"confirm": "yes"})
    incident.refresh_from_db()
    assert incident.status == "resolved"
    response = web.post(f"/incidents/{incident.pk}/escalate/", follow=True)
    assert response.status_code == 200
    assert entries(incident, "escalation") == []


def test_reassign_to_a_team_member_pages_them_at_once_and_is_recorded(
    web, key, team, responder, django_capture_on_commit_callbacks
):
    colleague = make_user("colin", team=team)
    email = ContactMethod.objects.create(user=colleague, kind="email", address="colin@example.com")
    incident = make_incident(key)
    web.post(f"/incidents/{incident.pk}/acknowledge/")
    with django_capture_on_commit_callbacks() as callbacks:
        response = web.post(f"/incidents/{incident.pk}/reassign/", {"target": f"user:{colleague.pk}"}, follow=True)
    [entry] = entries(incident, "reassigned")
    assert entry.actor == responder
    assert entry.message == "Reassigned to colin by Rita Responder (web); paging colin"
    assert entry.data["user_id"] == colleague.pk
    [page] = Notification.objects.filter(incident=incident)
    assert (page.user, page.contact_method, page.status) == (colleague, email, "pending")
    assert page.enqueued_at is not None and len(callbacks) == 1  # sent right after the commit
    assert "Reassigned to colin; paging colin." in response.content.decode()
    # A second reassignment to the same person is a new page, not deduplicated away.
    web.post(f"/incidents/{incident.pk}/reassign/", {"target": f"user:{colleague.pk}"})
    assert Notification.objects.filter(incident=incident).count() == 2


def test_reassign_to_a_schedule_pages_whoever_is_on_call(web, key, team):
    colin = make_user("colin", team=team)
    ContactMethod.objects.create(user=colin, kind="email", address="colin@example.com")
    schedule = Schedule.objects.create(name="Primary", team=team)
    now = timezone.now()
    ScheduleOverride.objects.create(schedule=schedule, user=colin, start=now - timedelta(hours=1),
                                    end=now + timedelta(hours=1))
    incident = make_incident(key)
    web.post(f"/incidents/{incident.pk}/reassign/", {"target": f"schedule:{schedule.pk}"})
    [entry] = entries(incident, "reassigned")
    assert entry.message.startswith("Reassigned to schedule Primary by Rita Responder (web); paging colin")
    assert entry.data["schedule_id"] == schedule.pk
    assert Notification.objects.get(incident=incident).user == colin


def test_reassign_to_an_empty_schedule_says_nobody_was_paged(web, key, team):
    schedule = Schedule.objects.create(name="Empty", team=team)
    incident = make_incident(key)
    response = web.post(f"/incidents/{incident.pk}/reassign/", {"target": f"schedule:{schedule.pk}"}, follow=True)
    [entry] = entries(incident, "reassigned")
    assert "nobody paged; nobody is on call for Empty" in entry.message
    assert "nobody paged (nobody is on call for Empty)" in response.content.decode()
    assert Notification.objects.count() == 0


def test_reassign_to_someone_outside_the_team_is_refused(web, key, other_team):
    outsider = make_user("otto", team=other_team)
    elsewhere = Schedule.objects.create(name="Theirs", team=other_team)
    incident = make_incident(key)
    for target in (f"user:{outsider.pk}", f"schedule:{elsewhere.pk}", "user:abc", "nonsense"):
        response = web.post(f"/incidents/{incident.pk}/reassign/", {"target": target}, follow=True)
        assert "Choose a member or schedule of this incident&#x27;s team." in response.content.decode()
    assert entries(incident, "reassigned") == []
    assert Notification.objects.count() == 0


@pytest.mark.parametrize("action", ["acknowledge", "resolve", "notes", "escalate", "reassign"])
def test_actions_on_another_teams_incident_are_404_and_change_nothing(web, other_incident, action):
    response = web.post(f"/incidents/{other_incident.pk}/{action}/", {"text": "x", "confirm": "yes"})
    assert response.status_code == 404
    other_incident.refresh_from_db()
    assert other_incident.status == "triggered"
    assert TimelineEntry.objects.filter(incident=other_incident).count() == 0


@pytest.mark.parametrize("action", ["acknowledge", "resolve", "notes", "escalate", "reassign"])
def test_actions_refuse_get(web, key, action):
    incident = make_incident(key)
    assert web.get(f"/incidents/{incident.pk}/{action}/").status_code == 405


def test_actions_without_a_csrf_token_are_refused(client_of, responder, key):
    incident = make_incident(key)
    browser = client_of(responder, enforce_csrf_checks=True)
    assert browser.post(f"/incidents/{incident.pk}/acknowledge/").status_code == 403
    assert browser.post(f"/incidents/{incident.pk}/notes/", {"text": "x"}).status_code == 403
    incident.refresh_from_db()
    assert incident.status == "triggered"


def test_the_detail_form_token_is_accepted(client_of, responder, key):
    import re

    incident = make_incident(key)
    browser = client_of(responder, enforce_csrf_checks=True)
    page = browser.get(f"/incidents/{incident.pk}/").content.decode()
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page).group(1)
    response = browser.post(f"/incidents/{incident.pk}/acknowledge/", {"csrfmiddlewaretoken": token})
    assert response.status_code == 302
    incident.refresh_from_db()
    assert incident.status == "acknowledged"


def test_signed_out_actions_redirect_to_sign_in_and_change_nothing(client, key):
    incident = make_incident(key)
    response = client.post(f"/incidents/{incident.pk}/acknowledge/")
    assert response.status_code == 302 and response.url.startswith("/login/")
    incident.refresh_from_db()
    assert incident.status == "triggered"
