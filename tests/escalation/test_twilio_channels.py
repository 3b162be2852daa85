"""The sms and voice channels against a local Twilio (tests/fakes/twilio.py) called through
the official `twilio` package: what a page says and costs (one GSM-7 segment), its reply
codes, the call's TwiML URL, Twilio's 4xx as a permanent failure and 5xx/timeouts as a retry
on the incident's timeline, settings that hide the kinds, E.164 addresses, and the auth
token kept out of every log line and timeline."""

import base64
import logging

import pytest
from django.core.exceptions import ValidationError

from config import settings as project_settings
from escalation.channels import CHANNELS, check_contact_address, configured_kinds
from escalation.channels import phone as phone_helpers
from escalation.channels.sms import SmsChannel
from escalation.channels.voice import VoiceChannel
from escalation.models import ContactMethod, Notification
from incidents.actions import do_resolve_incident
from incidents.models import TimelineEntry
from tests.factories import api_client_for, make_incident
from tests.fakes.twilio import FROM_NUMBER

pytestmark = pytest.mark.django_db

ALICE = "+4915123456789"
BOB = "+14155550123"


def phone_for(user, number: str, kind: str = "sms") -> ContactMethod:
    ContactMethod.objects.filter(user=user, kind="email").delete()
    return ContactMethod.objects.create(user=user, kind=kind, address=number)


def timeline(incident, kind=None) -> list[str]:
    entries = TimelineEntry.objects.filter(incident=incident)
    if kind:
        entries = entries.filter(kind=kind)
    return [e.message for e in entries.order_by("created_at", "id")]


# --- settings and addresses ---------------------------------------------------------------


def test_without_twilio_settings_the_phone_kinds_are_hidden_and_nothing_crashes(settings):
    settings.TWILIO_ACCOUNT_SID = settings.TWILIO_AUTH_TOKEN = ""
    settings.TWILIO_FROM_NUMBER = settings.TWILIO_MESSAGING_SERVICE_SID = ""
    kinds = [cls.kind for cls in configured_kinds()]
    assert "sms" not in kinds and "voice" not in kinds and "email" in kinds
    assert SmsChannel().send_message(ContactMethod(kind="sms", address=ALICE), "code", "123456") \
        == phone_helpers.Failed("Twilio is not configured on this installation")


def test_a_messaging_service_is_enough_for_sms_but_a_call_needs_a_from_number(settings):
    settings.TWILIO_ACCOUNT_SID, settings.TWILIO_AUTH_TOKEN = "AC123", "token"
    settings.TWILIO_FROM_NUMBER, settings.TWILIO_MESSAGING_SERVICE_SID = "", "MG123"
    assert SmsChannel.configured() and not VoiceChannel.configured()
    settings.TWILIO_FROM_NUMBER = FROM_NUMBER
    assert {"sms", "voice"} <= {cls.kind for cls in configured_kinds()}
    assert CHANNELS["sms"].interactive and CHANNELS["voice"].interactive


@pytest.mark.parametrize("written, stored", [
    ("+49 151 23456789", ALICE), ("+49 (0)151-2345-6789", ALICE), ("+1 415 555 0123", BOB),
])
def test_phone_numbers_are_stored_in_e164(written, stored):
    assert check_contact_address("sms", written) == stored
    assert check_contact_address("voice", written) == stored


@pytest.mark.parametrize("written, why", [
    ("0151 23456789", "international format"), ("+49 12", "not a valid phone number"),
    ("call me", "international format"), ("+1 555 0000000", "not a valid phone number"),
])
def test_a_number_that_is_not_a_valid_international_one_is_refused(written, why):
    with pytest.raises(ValidationError) as caught:
        check_contact_address("sms", written)
    assert why in caught.value.message_dict["address"][0]


def test_the_rest_api_stores_a_new_phone_number_in_e164(people):
    client = api_client_for(people["alice"])
    response = client.post("/api/v1/contact-methods/", {"kind": "sms", "address": "+49 151 2345 6789"},
                           format="json")
    assert response.status_code == 201, response.content
    assert response.json()["address"] == ALICE
    assert ContactMethod.objects.get(pk=response.json()["id"]).address == ALICE
    refused = client.post("/api/v1/contact-methods/", {"kind": "voice", "address": "12345"}, format="json")
    assert refused.status_code == 400 and "international format" in refused.json()["address"][0]


# --- texted pages ---------------------------------------------------------------------------


def test_a_page_is_one_sms_segment_with_its_reply_codes(fake_twilio, committed, t21_key, people, settings):
    phone_for(people["alice"], ALICE)
    incident = committed(make_incident, t21_key, summary="Disk full on srv01")

    [sms] = fake_twilio.messages
    assert sms.to == ALICE and sms.params["From"] == FROM_NUMBER
    assert sms.body == f"Vigil #{incident.pk} CRIT: Disk full on srv01. Reply 1a ack, 1c resolve"
    assert Notification.objects.get(incident=incident).status == "sent"
    assert timeline(incident, "notification") == [f"Texted alice ({ALICE}): page, step 1"]
    assert fake_twilio.refused_auth == 0


def test_a_long_or_non_gsm_summary_is_cut_to_one_segment_and_the_codes_stay_whole(
    fake_twilio, committed, t21_key, people
):
    phone_for(people["alice"], ALICE)
    summary = "Überlastung ☃ on the payments cluster: " + "p99 latency above 2 s on every node, " * 10
    incident = committed(make_incident, t21_key, summary=summary, severity="warning")

    [sms] = fake_twilio.messages
    assert phone_helpers.gsm7_length(sms.body) is not None, "a non-GSM character would make it UCS-2"
    assert phone_helpers.gsm7_length(sms.body) <= 160
    assert sms.body.startswith(f"Vigil #{incident.pk} WARN: Überlastung ? on the payments cluster")
    # Cut where the room ends (its length depends on the incident number), a space trimmed.
    assert sms.body.endswith("... Reply 1a ack, 1c resolve") and phone_helpers.gsm7_length(sms.body) >= 159
    cut = phone_helpers.fit_sms("H: ", "{x}" * 100, ". T")  # braces are GSM-7 escapes: two each
    assert cut.endswith("{x}{... T") and phone_helpers.gsm7_length(cut) == 160


def test_each_open_page_gets_its_own_number_and_a_resolved_ones_number_is_reused(
    fake_twilio, committed, t21_key, people
):
    phone_for(people["alice"], ALICE)
    first = committed(make_incident, t21_key, summary="first")
    second = committed(make_incident, t21_key, summary="second")
    assert [m.body.rsplit("Reply ", 1)[1] for m in fake_twilio.messages] == ["1a ack, 1c resolve", "2a ack, 2c resolve"]

    committed(do_resolve_incident, first.pk, by=people["alice"], via="web")
    third = committed(make_incident, t21_key, summary="third")
    pages = [m.body for m in fake_twilio.messages if "Reply" in m.body]
    assert pages[-1] == f"Vigil #{third.pk} CRIT: third. Reply 1a ack, 1c resolve"
    assert second.pk != third.pk


def test_a_messaging_service_sends_instead_of_a_from_number(fake_twilio, committed, t21_key, people, settings):
    settings.TWILIO_MESSAGING_SERVICE_SID = "MG" + "0" * 32
    phone_for(people["alice"], ALICE)
    committed(make_incident, t21_key)
    [sms] = fake_twilio.messages
    assert sms.params["MessagingServiceSid"] == settings.TWILIO_MESSAGING_SERVICE_SID and "From" not in sms.params


def test_resolving_texts_a_recovery_note_but_calls_nobody(fake_twilio, committed, t21_key, people):
    phone_for(people["alice"], ALICE)
    phone_for(people["alice"], ALICE, kind="voice")
    incident = committed(make_incident, t21_key, summary="Disk full on srv01")
    assert len(fake_twilio.messages) == 1 and len(fake_twilio.calls) == 1

    committed(do_resolve_incident, incident.pk, by=people["bob"], via="web")
    assert fake_twilio.messages[-1].body == f"Vigil #{incident.pk} RESOLVED: Disk full on srv01"
    assert len(fake_twilio.calls) == 1
    assert not Notification.objects.filter(incident=incident, channel="voice", kind="recovery").exists()


# --- calls ---------------------------------------------------------------------------------------


def test_a_page_calls_with_the_twiml_url_of_this_notification(fake_twilio, committed, t21_key, people, settings):
    phone_for(people["alice"], BOB, kind="voice")
    incident = committed(make_incident, t21_key)

    [call] = fake_twilio.calls
    notification = Notification.objects.get(incident=incident)
    assert call.to == BOB and call.params["From"] == FROM_NUMBER
    assert call.params["Url"] == f"{settings.SITE_URL}/twilio/voice/{notification.pk}/"
    assert call.params["Method"] == "POST"
    assert timeline(incident, "notification") == [f"Called alice ({BOB}): page, step 1"]


def test_a_test_message_by_voice_is_read_out_from_inline_twiml(fake_twilio):
    outcome = VoiceChannel().send_message(ContactMethod(kind="voice", address=ALICE), "Vigil",
                                          "Your Vigil code is 4 8 1 5")
    assert outcome == phone_helpers.Delivered()
    [call] = fake_twilio.calls
    assert call.params["Twiml"].count("<Say>Your Vigil code is 4 8 1 5</Say>") == 2
    sms = SmsChannel().send_message(ContactMethod(kind="sms", address=ALICE), "Vigil", "Your Vigil code is 4815")
    assert sms == phone_helpers.Delivered() and fake_twilio.messages[0].body == "Your Vigil code is 4815"


# --- failures ----------------------------------------------------------------------------------------


def test_an_invalid_number_answer_is_a_permanent_failure_on_the_timeline(fake_twilio, committed, t21_key, people):
    phone_for(people["alice"], BOB)
    fake_twilio.invalid_numbers.add(BOB)
    incident = committed(make_incident, t21_key)

    notification = Notification.objects.get(incident=incident)
    assert notification.status == "failed" and notification.attempts == 1
    [line] = timeline(incident, "notification_failed")
    assert line.startswith(f"Texted alice ({BOB}): page, step 1 failed (attempt 1): Twilio message: HTTP 400, "
                           "error 21211")
    assert line.endswith("; not retried")
    assert fake_twilio.messages == []


@pytest.mark.parametrize("status, code", [(500, 20500), (503, 20503), (429, 20429)])
def test_a_server_error_or_rate_limit_is_retried(fake_twilio, committed, t21_key, people, status, code):
    phone_for(people["alice"], ALICE)
    fake_twilio.fail_next(status, code, "Internal Server Error")
    incident = committed(make_incident, t21_key)

    notification = Notification.objects.get(incident=incident)
    assert notification.status == "pending" and notification.attempts == 1
    [line] = timeline(incident, "notification_failed")
    assert f"HTTP {status}, error {code}" in line and "retrying in" in line


def test_a_twilio_that_does_not_answer_in_time_is_retried(fake_twilio, committed, t21_key, people, settings):
    settings.TWILIO_TIMEOUT_SECONDS = 1
    phone_for(people["alice"], ALICE)
    fake_twilio.delay_next(2.5)
    incident = committed(make_incident, t21_key)

    notification = Notification.objects.get(incident=incident)
    assert notification.status == "pending" and notification.attempts == 1
    assert "Twilio message: ReadTimeout" in notification.last_error


def test_the_auth_token_is_in_no_log_line_timeline_or_error(fake_twilio, committed, t21_key, people, settings,
                                                            caplog):
    caplog.set_level(logging.DEBUG)
    for name in ("twilio", "twilio.http_client", "urllib3", "requests", "httpx", "vigil", ""):
        logging.getLogger(name).setLevel(logging.DEBUG)
    phone_for(people["alice"], ALICE)
    phone_for(people["alice"], ALICE, kind="voice")
    committed(make_incident, t21_key)  # delivered
    fake_twilio.fail_next(500, 20500, "Internal Server Error")
    committed(make_incident, t21_key)  # retried
    settings.TWILIO_AUTH_TOKEN = "a-wrong-token-0000"
    committed(make_incident, t21_key)  # refused: 401

    token, basic = fake_twilio.auth_token, base64.b64encode(
        f"{fake_twilio.account_sid}:{fake_twilio.auth_token}".encode()).decode()
    assert "twilio.http_client" in caplog.text and "POST" in caplog.text  # the loggers did speak
    assert fake_twilio.refused_auth == 2
    stored = " ".join(TimelineEntry.objects.values_list("message", flat=True)) + " ".join(
        Notification.objects.values_list("last_error", flat=True))
    assert "HTTP 401, error 20003" in stored
    for secret in (token, basic, "a-wrong-token-0000"):
        assert secret not in caplog.text
        assert secret not in stored


def test_production_calls_go_to_api_twilio_com_unless_the_base_url_is_set(settings):
    assert project_settings.TWILIO_API_BASE_URL == "https://api.twilio.com"
    settings.TWILIO_ACCOUNT_SID, settings.TWILIO_AUTH_TOKEN = "AC123", "token"
    settings.TWILIO_API_BASE_URL = project_settings.TWILIO_API_BASE_URL
    assert phone_helpers.client().api.absolute_url("/2010-04-01/Accounts/AC123/Messages.json") == \
        "https://api.twilio.com/2010-04-01/Accounts/AC123/Messages.json"
