"""The admin pages for escalation: policies with inline steps, contact methods with their
rules, and the read-only notification record."""

import pytest

from escalation.models import ContactMethod, EscalationPolicy, Notification
from tests.factories import make_incident, make_user

pytestmark = pytest.mark.django_db


@pytest.fixture
def admin_client(client):
    client.force_login(make_user("root", is_superuser=True, is_staff=True))
    return client


def test_every_escalation_admin_page_opens(admin_client, t21_policy, people, committed, smtp, t21_key):
    committed(make_incident, t21_key)
    method = ContactMethod.objects.first()
    pages = [
        "/admin/escalation/escalationpolicy/", "/admin/escalation/escalationpolicy/add/",
        f"/admin/escalation/escalationpolicy/{t21_policy.pk}/change/",
        "/admin/escalation/contactmethod/", f"/admin/escalation/contactmethod/{method.pk}/change/",
        "/admin/escalation/notificationrule/", "/admin/escalation/notification/",
        f"/admin/escalation/notification/{Notification.objects.first().pk}/change/",
        "/admin/escalation/escalationtickstate/",
    ]
    for page in pages:
        assert admin_client.get(page).status_code == 200, page
    assert b"escalation step" in admin_client.get(pages[2]).content.lower()  # the steps inline


def test_notifications_are_read_only_in_the_admin(admin_client, committed, smtp, t21_key):
    committed(make_incident, t21_key)
    notification = Notification.objects.first()
    assert admin_client.get("/admin/escalation/notification/add/").status_code == 403
    response = admin_client.post(f"/admin/escalation/notification/{notification.pk}/change/", {"status": "failed"})
    assert response.status_code == 403
    notification.refresh_from_db()
    assert notification.status == "sent"


def test_an_unsafe_webhook_is_refused_by_the_admin_form(admin_client, people):
    response = admin_client.post("/admin/escalation/contactmethod/add/", {
        "user": people["alice"].pk, "kind": "webhook", "address": "http://169.254.169.254/", "enabled": "on",
        "rules-TOTAL_FORMS": "0", "rules-INITIAL_FORMS": "0",
    })
    assert response.status_code == 200  # the form again, with the error
    assert b"non-public address" in response.content
    assert not ContactMethod.objects.at_address("webhook", "http://169.254.169.254/").exists()


def test_t45_the_admin_refuses_a_step_paging_a_non_member(admin_client, sre, people):
    stranger = make_user("stranger")
    form = {
        "name": "Admin-made", "team": sre.pk, "repeat_count": 0, "repeat_delay_minutes": 15, "description": "",
        "steps-TOTAL_FORMS": "1", "steps-INITIAL_FORMS": "0", "steps-MIN_NUM_FORMS": "0", "steps-MAX_NUM_FORMS": "1000",
        "steps-0-order": "0", "steps-0-delay_minutes": "0", "steps-0-users": [str(stranger.pk)],
    }
    response = admin_client.post("/admin/escalation/escalationpolicy/add/", form)
    assert response.status_code == 200 and b"Not members of the team SRE on call: stranger" in response.content
    assert not EscalationPolicy.objects.filter(name="Admin-made").exists()
    form["steps-0-users"] = [str(people["alice"].pk)]
    assert admin_client.post("/admin/escalation/escalationpolicy/add/", form).status_code == 302
    assert EscalationPolicy.objects.get(name="Admin-made").steps.get().users.get() == people["alice"]
