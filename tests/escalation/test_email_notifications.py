"""Email pages, recovery notes and flapping summaries, through Django's SMTP backend to a
real SMTP server (aiosmtpd); SMTP failures and timeouts are recorded, retried, never silent."""

import re
import socket
import threading
import time
from datetime import UTC
from zoneinfo import ZoneInfo

import pytest
from django.conf import settings

from escalation.engine import advance_escalation
from escalation.models import ContactMethod, Notification, NotificationRule
from escalation.notify import send_flapping_summary, send_notification
from incidents.models import Incident, TimelineEntry
from oncall.models import UserProfile
from tests.factories import api_client_for, make_incident

pytestmark = pytest.mark.django_db

XSS = '<script>alert(1)</script> "><img src=x onerror=alert(1)>'


def test_a_page_email_carries_summary_severity_labels_and_the_three_links(smtp, committed, t21_key):
    incident = committed(make_incident, t21_key, summary="Disk usage > 90% on srv01",
                         labels={"env": "prod", "service": "db"})
    [mail] = smtp.mails
    assert mail.to == "alice@example.com"
    assert mail.subject == f"[Vigil] CRITICAL #{incident.pk}: Disk usage > 90% on srv01"
    for part in (mail.text, mail.html):
        assert f"{settings.SITE_URL}/incidents/{incident.pk}/" in part
        assert "env" in part and "prod" in part and "service" in part
        assert "critical" in part.lower()
    links = re.findall(rf"{re.escape(settings.SITE_URL)}/ack/([^/\s\"]+)/", mail.text)
    assert len(links) == 2 and links[0] != links[1]  # acknowledge, resolve
    assert "Acknowledge" in mail.html and "Resolve" in mail.html
    assert "Disk usage &gt; 90%" in mail.html  # escaped in HTML, plain in text
    assert "Disk usage > 90%" in mail.text


def test_a_page_email_shows_component_and_details_and_times_in_the_recipients_zone(smtp, committed, t21_key,
                                                                                 people):
    UserProfile.objects.create(user=people["alice"], time_zone="Asia/Tokyo")
    incident = committed(make_incident, t21_key, component="checkout-api",
                         details={"error_rate": "7%", "region": "<eu-1>"})
    [mail] = smtp.mails
    local = incident.first_seen_at.astimezone(ZoneInfo("Asia/Tokyo"))
    utc = incident.first_seen_at.astimezone(UTC)
    first_seen = f"{local:%Y-%m-%d %H:%M:%S} JST ({utc:%H:%M} UTC)"
    assert f"First seen: {first_seen}" in mail.text
    assert first_seen in mail.html
    assert "Component: checkout-api" in mail.text and "checkout-api" in mail.html
    assert '"error_rate": "7%"' in mail.text
    assert "&lt;eu-1&gt;" in mail.html and "<eu-1>" not in mail.html
    assert 'name="viewport"' in mail.html


def test_payload_html_is_escaped_in_the_html_part_and_the_subject_is_one_line(smtp, committed, t21_key):
    committed(make_incident, t21_key, summary=f"line one\nline two {XSS}", labels={"<b>k</b>": XSS})
    [mail] = smtp.mails
    assert "\n" not in mail.subject and "line one line two" in mail.subject
    assert "<script>" not in mail.html and "<img" not in mail.html
    assert "&lt;script&gt;" in mail.html and "&lt;b&gt;k&lt;/b&gt;" in mail.html


def test_a_sent_page_is_on_the_incident_timeline(smtp, committed, t21_key):
    from escalation import messages

    incident = committed(make_incident, t21_key)
    entry = TimelineEntry.objects.get(incident=incident, kind="notification")
    assert entry.message == "Emailed alice (alice@example.com): page, step 1"
    page = Notification.objects.get(incident=incident)
    assert page.status == "sent" and page.attempts == 1 and page.sent_at is not None
    # Stable across attempts, so a resend after a crash is the same message to mail clients.
    assert smtp.mails[0].message_id == messages.message_id(page) == messages.message_id(
        Notification.objects.get(pk=page.pk))


def test_notification_rules_fire_each_contact_method_at_its_delay(smtp, clock, tick, committed, t21_key, people):
    alice = people["alice"]
    email = ContactMethod.objects.get(user=alice)
    second = ContactMethod.objects.create(user=alice, kind="email", address="alice-phone@example.com")
    NotificationRule.objects.create(user=alice, contact_method=email, delay_minutes=0)
    NotificationRule.objects.create(user=alice, contact_method=second, delay_minutes=3)

    committed(make_incident, t21_key)
    assert smtp.take() == ["alice@example.com"]
    clock.to(2.9)
    tick()
    assert smtp.take() == []
    clock.to(3)
    tick()
    assert smtp.take() == ["alice-phone@example.com"]


def test_a_rule_still_waiting_when_the_incident_is_acknowledged_is_never_sent(
    smtp, clock, tick, committed, t21_key, people
):
    alice = people["alice"]
    email = ContactMethod.objects.get(user=alice)
    NotificationRule.objects.create(user=alice, contact_method=email, delay_minutes=4)
    incident = committed(make_incident, t21_key)
    assert smtp.take() == []
    api_client_for(alice).post(f"/api/v1/incidents/{incident.pk}/acknowledge/")
    clock.to(10)
    tick()
    assert smtp.take() == []
    assert Notification.objects.get(incident=incident).status == "cancelled"


def test_a_user_without_rules_gets_every_enabled_contact_method_at_once(smtp, committed, t21_key, people):
    ContactMethod.objects.create(user=people["alice"], kind="email", address="alice-2@example.com")
    ContactMethod.objects.create(user=people["alice"], kind="email", address="off@example.com", enabled=False)
    committed(make_incident, t21_key)
    assert sorted(smtp.take()) == ["alice-2@example.com", "alice@example.com"]


def test_resolve_sends_one_recovery_note_to_everyone_paged(smtp, clock, tick, committed, t21_key, people):
    incident = committed(make_incident, t21_key)
    clock.to(5)
    tick()
    assert smtp.take() == ["alice@example.com", "bob@example.com"]

    client = api_client_for(people["bob"])
    committed(client.post, f"/api/v1/incidents/{incident.pk}/resolve/")
    recovery = smtp.mails[-2:]
    assert sorted(m.to for m in recovery) == ["alice@example.com", "bob@example.com"]
    assert all(m.subject.startswith(f"[Vigil] RESOLVED #{incident.pk}:") for m in recovery)
    assert "bob" in recovery[0].text
    smtp.take()

    committed(client.post, f"/api/v1/incidents/{incident.pk}/resolve/")  # again: nothing new
    clock.to(30)
    tick()
    assert smtp.take() == []


def test_every_mail_about_an_incident_threads_with_its_first_page(smtp, clock, tick, committed, t21_key, people):
    incident = committed(make_incident, t21_key)
    other = committed(make_incident, t21_key, dedup_key="another")
    clock.to(5)
    tick()  # step 2 pages bob
    committed(api_client_for(people["bob"]).post, f"/api/v1/incidents/{incident.pk}/resolve/")
    about = [m for m in smtp.mails if f"#{incident.pk}" in m.subject]
    kinds = {m.subject.split()[1] for m in about}
    assert len(about) >= 4 and "RESOLVED" in kinds  # alice's page, bob's page, two recovery notes
    threads = {(m.in_reply_to, m.references) for m in about}
    [(in_reply_to, references)] = threads
    assert in_reply_to == references and in_reply_to.startswith(f"<incident-{incident.pk}.")
    assert in_reply_to not in {m.message_id for m in about}  # a name to refer to, never a mail itself
    assert len({m.message_id for m in about}) == len(about)
    [other_page] = [m for m in smtp.mails if f"#{other.pk}" in m.subject and m.to == "alice@example.com"][:1]
    assert other_page.references != references


def test_a_recovery_whose_task_was_lost_is_sent_by_a_later_tick(smtp, clock, tick, committed, t21_key, people):
    from incidents.actions import do_resolve_incident

    incident = committed(make_incident, t21_key)
    assert smtp.take() == ["alice@example.com"]
    do_resolve_incident(incident.pk, by=people["alice"], via="test")  # its after-commit send never runs
    assert Notification.objects.get(incident=incident, kind="recovery").status == "pending"
    tick()
    assert smtp.take() == []  # the task may still be on its way: wait the grace period
    clock.advance(seconds=settings.NOTIFICATION_RESEND_GRACE_SECONDS + 1)
    tick()
    assert smtp.take() == ["alice@example.com"]


def test_a_flapping_incident_holds_its_pages_and_sends_one_summary_each(smtp, clock, tick, committed, t21_key):
    incident = make_incident(t21_key)
    Incident.objects.filter(pk=incident.pk).update(is_flapping=True)
    clock.to(5)
    tick()
    assert smtp.take() == []
    assert set(Notification.objects.filter(incident=incident).values_list("status", flat=True)) == {"held"}

    committed(send_flapping_summary, incident.pk)
    mails = smtp.mails
    assert sorted(m.to for m in mails) == ["alice@example.com", "bob@example.com"]
    assert all(m.subject.startswith(f"[Vigil] FLAPPING #{incident.pk}:") for m in mails)
    assert "1 page(s) to you were held back" in mails[0].text
    assert not Notification.objects.filter(incident=incident, status="held").exists()

    committed(send_flapping_summary, incident.pk)  # nothing new since: nothing sent
    clock.to(60)
    tick()
    assert len(smtp.mails) == 2


def test_a_refused_smtp_connection_is_recorded_and_retried_with_backoff(settings, clock, tick, committed, t21_key):
    with socket.socket() as closed:
        closed.bind(("127.0.0.1", 0))
        settings.EMAIL_PORT = closed.getsockname()[1]  # nothing listens there
    settings.EMAIL_HOST = "127.0.0.1"
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    incident = committed(make_incident, t21_key)
    page = Notification.objects.get(incident=incident)
    assert (page.status, page.attempts) == ("pending", 1)
    assert "Connection refused" in page.last_error or "Errno" in page.last_error

    for _ in range(3):
        clock.advance(seconds=settings.NOTIFICATION_RESEND_GRACE_SECONDS + 61)
        tick()
    page.refresh_from_db()
    assert (page.status, page.attempts) == ("failed", 4)
    failures = TimelineEntry.objects.filter(
        incident=incident, kind="notification_failed", data__notification_id=page.pk
    ).order_by("id")
    assert [f.message.rsplit("; ", 1)[1] for f in failures] == [
        "retrying in 10 s", "retrying in 20 s", "retrying in 40 s", "giving up",
    ]


def test_t41_an_smtp_server_that_never_answers_fails_within_the_timeout(settings, committed, t21_key):
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(5)
    accepted = []
    threading.Thread(target=lambda: accepted.append(listener.accept()), daemon=True).start()
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT, settings.EMAIL_TIMEOUT = "127.0.0.1", listener.getsockname()[1], 1
    try:
        began = time.monotonic()
        incident = make_incident(t21_key)
        advance_escalation(incident.pk)
        page = Notification.objects.get(incident=incident)
        assert send_notification(page.pk) == "pending"
        assert time.monotonic() - began < 5
    finally:
        listener.close()
        for conn, _addr in accepted:
            conn.close()
    page.refresh_from_db()
    assert page.attempts == 1 and "timed out" in page.last_error
    assert TimelineEntry.objects.filter(incident=incident, kind="notification_failed").exists()
