"""Contact methods a person adds on their Profile page: the code comes over the method itself
(a real local SMTP server, a real local HTTP server), is typed back, and only then does the
method page. Wrong codes are counted, old codes expire, and an unverified method is never
paged, recovered or summarised. Rules apply per urgency."""

from __future__ import annotations

import json
import re
from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone

from escalation import notify, verification
from escalation.channels import CHANNELS, Delivered, Failed, Retry, channel_for
from escalation.channels.base import Channel
from escalation.engine import advance_escalation, delivery_plan
from escalation.models import ContactMethod, EscalationPolicy, Notification, NotificationRule
from incidents import actions
from incidents.models import TimelineEntry
from tests.escalation.conftest import add_step
from tests.factories import make_incident, make_key, make_user

pytestmark = pytest.mark.django_db


def code_in(text: str) -> str:
    [code] = re.findall(r"\b(\d{6})\b", text)
    return code


@pytest.fixture
def rita(sre):
    return make_user("rita", team=sre)


@pytest.fixture
def web(rita):
    client = Client()
    client.force_login(rita)
    return client


def add_email(web, address="rita.pager@example.com"):
    response = web.post("/profile/methods/new/", {"kind": "email", "address": address})
    assert response.status_code == 302, response.content.decode()
    return ContactMethod.objects.at_address("email", address).get()


# --- send_message ---------------------------------------------------------------------------


def test_every_registered_channel_implements_send_message():
    for kind, cls in CHANNELS.items():
        assert cls.send_message is not Channel.send_message, f"{kind} has no send_message"


def test_email_send_message_reaches_the_smtp_server(smtp, rita):
    method = ContactMethod.objects.create(user=rita, kind="email", address="r@example.com")
    outcome = channel_for("email").send_message(method, "Hello\nthere", "Plain text body")
    assert outcome == Delivered()
    [mail] = smtp.mails
    assert mail.to == "r@example.com"
    assert mail.subject == "Hello there"  # one line: a newline in a header is an injection
    assert "Plain text body" in mail.text


def test_email_send_message_to_a_dead_server_is_a_retry(settings, rita):
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT = "127.0.0.1", 1  # nothing listens there
    method = ContactMethod.objects.create(user=rita, kind="email", address="r@example.com")
    assert isinstance(channel_for("email").send_message(method, "s", "t"), Retry)


def test_webhook_send_message_posts_json_and_reports_failures(settings, httpserver, rita):
    settings.ESCALATION_WEBHOOK_ALLOW_PRIVATE = True
    httpserver.expect_request("/hook", method="POST").respond_with_data("ok")
    httpserver.expect_request("/broken", method="POST").respond_with_data("no", status=500)
    method = ContactMethod.objects.create(user=rita, kind="webhook", address=httpserver.url_for("/hook"))
    assert channel_for("webhook").send_message(method, "Vigil test page", "It works") == Delivered()
    request, _ = httpserver.log[0]
    assert json.loads(request.data) == {"event": "message", "subject": "Vigil test page", "text": "It works"}

    method.address = httpserver.url_for("/broken")
    assert isinstance(channel_for("webhook").send_message(method, "s", "t"), Retry)


def test_webhook_send_message_refuses_a_private_address(settings, rita):
    settings.ESCALATION_WEBHOOK_ALLOW_PRIVATE = False
    method = ContactMethod.objects.create(user=rita, kind="webhook", address="http://127.0.0.1:9/x")
    assert isinstance(channel_for("webhook").send_message(method, "s", "t"), Failed)


# --- verification -----------------------------------------------------------------------------


def test_a_method_added_on_the_profile_is_unverified_until_the_emailed_code_is_entered(smtp, web, rita):
    method = add_email(web)
    assert method.verified is False and method.user == rita
    [mail] = smtp.mails
    assert mail.to == "rita.pager@example.com"
    code = code_in(mail.text)
    # Only the digest is stored.
    assert code not in method.verification_digest and len(method.verification_digest) == 64

    web.post(f"/profile/methods/{method.pk}/verify/", {"code": code})
    method.refresh_from_db()
    assert method.verified is True
    assert method.verification_digest == "" and method.verification_expires_at is None
    assert "is verified" in web.get("/profile/").content.decode()


def test_wrong_codes_are_counted_and_the_fifth_kills_the_code(smtp, web):
    method = add_email(web)
    code = code_in(smtp.mails[0].text)
    wrong = f"{(int(code) + 1) % 1_000_000:06d}"
    web.post(f"/profile/methods/{method.pk}/verify/", {"code": wrong})
    method.refresh_from_db()
    assert method.verification_attempts == 1 and method.verified is False
    for _ in range(verification.MAX_ATTEMPTS - 1):
        web.post(f"/profile/methods/{method.pk}/verify/", {"code": wrong})
    # The right code no longer works: a new one must be sent.
    response = web.post(f"/profile/methods/{method.pk}/verify/", {"code": code}, follow=True)
    method.refresh_from_db()
    assert method.verified is False and method.verification_attempts == verification.MAX_ATTEMPTS
    assert "Too many wrong codes" in response.content.decode()


def test_an_expired_code_is_refused(smtp, web, time_machine):
    time_machine.move_to(timezone.now(), tick=False)
    method = add_email(web)
    code = code_in(smtp.mails[0].text)
    time_machine.shift(verification.CODE_LIFETIME + timedelta(seconds=1))
    response = web.post(f"/profile/methods/{method.pk}/verify/", {"code": code}, follow=True)
    method.refresh_from_db()
    assert method.verified is False
    assert "expired" in response.content.decode()


def test_a_new_code_waits_a_minute_and_replaces_the_old_one(smtp, web, time_machine):
    time_machine.move_to(timezone.now(), tick=False)
    method = add_email(web)
    first = code_in(smtp.mails[0].text)
    response = web.post(f"/profile/methods/{method.pk}/send-code/", follow=True)
    assert "less than a minute ago" in response.content.decode()
    assert len(smtp.mails) == 1  # no second mail: adding someone's address cannot flood it
    time_machine.shift(timedelta(seconds=61))
    web.post(f"/profile/methods/{method.pk}/send-code/")
    second = code_in(smtp.mails[1].text)
    if second != first:
        web.post(f"/profile/methods/{method.pk}/verify/", {"code": first})
        method.refresh_from_db()
        assert method.verified is False
    web.post(f"/profile/methods/{method.pk}/verify/", {"code": second})
    method.refresh_from_db()
    assert method.verified is True


def test_the_code_never_reaches_a_log(smtp, web, caplog, settings):
    settings.DEBUG = True  # every SQL statement is logged too: the digest is, the code is not
    caplog.set_level("DEBUG")
    caplog.set_level("DEBUG", logger="django.db.backends")
    caplog.set_level("DEBUG", logger="vigil")
    add_email(web)
    code = code_in(smtp.mails[0].text)
    # Every record but the local SMTP server's own (the peer that received the mail).
    ours = [r.getMessage() for r in caplog.records if not r.name.startswith("mail.log")]
    assert any("verification_digest" in line for line in ours)
    assert not any(code in line for line in ours)


def test_a_test_page_goes_out_over_a_verified_method_only(smtp, web, rita):
    method = add_email(web)
    response = web.post(f"/profile/methods/{method.pk}/test/", follow=True)
    assert "verify this contact method first" in response.content.decode()
    assert len(smtp.mails) == 1  # only the code

    web.post(f"/profile/methods/{method.pk}/verify/", {"code": code_in(smtp.mails[0].text)})
    response = web.post(f"/profile/methods/{method.pk}/test/", follow=True)
    assert "Test page delivered to rita.pager@example.com" in response.content.decode()
    assert smtp.mails[1].subject == "Vigil test page"


def test_a_test_page_that_fails_says_why(settings, web, rita):
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT = "127.0.0.1", 1
    method = ContactMethod.objects.create(user=rita, kind="email", address="r@example.com")
    response = web.post(f"/profile/methods/{method.pk}/test/", follow=True)
    assert "Could not send it: SMTP" in response.content.decode()


# --- an unverified method never pages -------------------------------------------------------------


@pytest.fixture
def paging_key(sre, rita):
    policy = EscalationPolicy.objects.create(name="Rita first", team=sre)
    add_step(policy, 0, users=[rita])
    return make_key(team=sre, policy=policy)[0]


def test_an_unverified_method_is_never_paged(smtp, committed, paging_key, rita):
    verified = ContactMethod.objects.create(user=rita, kind="email", address="verified@example.com")
    unverified = ContactMethod.objects.create(user=rita, kind="email", address="unverified@example.com",
                                              verified=False)
    NotificationRule.objects.create(user=rita, contact_method=unverified, delay_minutes=0)
    NotificationRule.objects.create(user=rita, contact_method=verified, delay_minutes=0)

    incident = committed(make_incident, paging_key)
    assert smtp.recipients() == ["verified@example.com"]
    assert not Notification.objects.filter(contact_method=unverified).exists()

    # Nor its recovery note, even if an old page row named it.
    Notification.objects.create(
        incident=incident, user=rita, contact_method=unverified, kind=Notification.Kind.PAGE,
        status=Notification.Status.SENT, channel="email", address=unverified.address,
        dedupe_key="old-page", due_at=timezone.now(),
    )
    committed(actions.do_resolve_incident, incident.pk, by=rita, via="web")
    assert sorted(smtp.recipients()) == ["verified@example.com", "verified@example.com"]
    assert not Notification.objects.filter(contact_method=unverified, kind=Notification.Kind.RECOVERY).exists()


def test_a_person_with_only_unverified_methods_is_noted_not_paged(smtp, committed, paging_key, rita):
    ContactMethod.objects.create(user=rita, kind="email", address="new@example.com", verified=False)
    incident = committed(make_incident, paging_key)
    assert smtp.mails == []
    assert TimelineEntry.objects.filter(incident=incident, message__contains="none is verified").exists()


def test_a_pending_page_to_a_method_unverified_since_fails_instead_of_sending(smtp, rita, paging_key, tasks_inline):
    method = ContactMethod.objects.create(user=rita, kind="email", address="r@example.com")
    incident = make_incident(paging_key)
    advance_escalation(incident.pk)  # no commit callbacks run: the page is written, not sent
    row = Notification.objects.get(incident=incident, contact_method=method)
    ContactMethod.objects.filter(pk=method.pk).update(verified=False)
    notify.send_notification(row.pk)
    row.refresh_from_db()
    assert row.status == Notification.Status.FAILED and "not verified" in row.last_error
    assert smtp.mails == []


def test_existing_and_api_made_methods_stay_verified(rita):
    assert ContactMethod.objects.create(user=rita, kind="email", address="a@example.com").verified is True
    assert ContactMethod._meta.get_field("verified").default is True


# --- urgency --------------------------------------------------------------------------------------


@pytest.fixture
def split_rules(rita):
    """Email for everything; a webhook only for high urgency, 2 minutes in; a second email
    only for low urgency."""
    email = ContactMethod.objects.create(user=rita, kind="email", address="rita@example.com")
    hook = ContactMethod.objects.create(user=rita, kind="webhook", address="https://hooks.example.com/rita")
    quiet = ContactMethod.objects.create(user=rita, kind="email", address="rita.quiet@example.com")
    NotificationRule.objects.create(user=rita, contact_method=email, delay_minutes=0)
    NotificationRule.objects.create(user=rita, contact_method=hook, delay_minutes=2, urgency="high")
    NotificationRule.objects.create(user=rita, contact_method=quiet, delay_minutes=5, urgency="low")
    return email, hook, quiet


@pytest.mark.parametrize("severity", ["critical", "error"])
def test_a_high_urgency_incident_uses_the_high_urgency_rules(split_rules, rita, severity):
    email, hook, _quiet = split_rules
    assert sorted((m.pk, d) for m, d in delivery_plan(rita, severity)) == [(email.pk, 0), (hook.pk, 2)]


@pytest.mark.parametrize("severity", ["warning", "info"])
def test_a_low_urgency_incident_uses_the_low_urgency_rules(split_rules, rita, severity):
    email, _hook, quiet = split_rules
    assert sorted((m.pk, d) for m, d in delivery_plan(rita, severity)) == [(email.pk, 0), (quiet.pk, 5)]


def test_the_engine_pages_by_the_incidents_severity(smtp, committed, paging_key, rita, split_rules):
    committed(make_incident, paging_key, severity="warning", dedup_key="warn")
    rows = Notification.objects.filter(incident__dedup_key="warn")
    assert sorted(rows.values_list("address", flat=True)) == ["rita.quiet@example.com", "rita@example.com"]
    committed(make_incident, paging_key, severity="critical", dedup_key="crit")
    rows = Notification.objects.filter(incident__dedup_key="crit")
    assert sorted(rows.values_list("channel", flat=True)) == ["email", "webhook"]


def test_no_rule_for_this_urgency_pages_every_method_at_once(rita):
    email = ContactMethod.objects.create(user=rita, kind="email", address="rita@example.com")
    hook = ContactMethod.objects.create(user=rita, kind="webhook", address="https://hooks.example.com/rita")
    NotificationRule.objects.create(user=rita, contact_method=hook, delay_minutes=3, urgency="high")
    assert [(m.pk, d) for m, d in delivery_plan(rita, "critical")] == [(hook.pk, 3)]
    assert sorted((m.pk, d) for m, d in delivery_plan(rita, "info")) == [(email.pk, 0), (hook.pk, 0)]
