"""What Twilio posts back to Vigil, signed by the local fake with twilio's RequestValidator:
SMS replies ("1a" acknowledges page 1, "1c" resolves it) and a paging call's TwiML and
keypress (1 acknowledge, 2 resolve, 3 escalate). Unsigned, mis-signed or re-targeted
requests answer 403 and change nothing; an unknown code, a code of someone else's page and
an incident of a team the person left change nothing either, and say so (RELIABILITY T52)."""

import pytest
from django.test import Client

from escalation.models import ContactMethod, Notification
from incidents.models import Incident, TimelineEntry
from oncall.models import TeamMembership
from tests.escalation.conftest import add_step, responder
from tests.factories import make_incident, make_key, make_policy, make_team
from tests.fakes.twilio import django_poster, said, texted

pytestmark = pytest.mark.django_db

ALICE = "+4915123456789"
BOB = "+14155550123"
STRANGER = "+447700900123"


@pytest.fixture
def post():
    return django_poster(Client(enforce_csrf_checks=True))


def phone_for(user, number: str, kind: str = "sms") -> ContactMethod:
    ContactMethod.objects.filter(user=user, kind="email").delete()
    return ContactMethod.objects.create(user=user, kind=kind, address=number)


def snapshot(incident) -> tuple:
    incident.refresh_from_db()
    return (incident.status, incident.acknowledged_at, incident.resolved_at, incident.escalation_step,
            incident.next_escalation_at, TimelineEntry.objects.filter(incident=incident).count())


@pytest.fixture
def paged(fake_twilio, committed, t21_key, people):
    """Alice has an SMS number and was texted a page for one incident (code 1)."""
    phone_for(people["alice"], ALICE)
    incident = committed(make_incident, t21_key, summary="Disk full on srv01")
    assert fake_twilio.messages[0].body.endswith("Reply 1a ack, 1c resolve")
    return incident


# --- SMS replies -------------------------------------------------------------------------------


@pytest.mark.parametrize("body", ["1a", "1A", " 1 a ", "ack 1", "Ack 1", "a1", "1 ack"])
def test_a_signed_reply_with_the_code_acknowledges_as_that_person(fake_twilio, paged, post, settings, body, people):
    status, twiml = fake_twilio.sms_reply(post, settings.SITE_URL, ALICE, body)
    assert status == 200
    assert texted(twiml) == [f"Vigil: Acknowledged #{paged.pk}: Disk full on srv01"]
    paged.refresh_from_db()
    assert paged.status == "acknowledged" and paged.acknowledged_by == people["alice"]
    assert paged.acknowledged_via == "SMS reply"


@pytest.mark.parametrize("body", ["1c", "1C", "close 1", "resolve 1"])
def test_a_reply_1c_resolves(fake_twilio, paged, post, settings, body):
    status, twiml = fake_twilio.sms_reply(post, settings.SITE_URL, ALICE, body)
    assert status == 200 and texted(twiml)[0].startswith(f"Vigil: Resolved #{paged.pk}")
    paged.refresh_from_db()
    assert paged.status == "resolved" and paged.resolved_via == "SMS reply"


def test_with_two_open_pages_the_code_names_the_one_acted_on(fake_twilio, paged, committed, t21_key, post, settings):
    second = committed(make_incident, t21_key, summary="Second page")
    assert fake_twilio.messages[-1].body.endswith("Reply 2a ack, 2c resolve")

    fake_twilio.sms_reply(post, settings.SITE_URL, ALICE, "2c")
    paged.refresh_from_db()
    second.refresh_from_db()
    assert (paged.status, second.status) == ("triggered", "resolved")


def test_a_repeated_reply_changes_nothing_more_and_says_so(fake_twilio, paged, post, settings):
    fake_twilio.sms_reply(post, settings.SITE_URL, ALICE, "1a")
    before = snapshot(paged)
    status, twiml = fake_twilio.sms_reply(post, settings.SITE_URL, ALICE, "1a")
    assert status == 200 and texted(twiml) == [f"Vigil: Incident #{paged.pk}: nothing changed, already acknowledged."]
    assert snapshot(paged) == before


@pytest.mark.parametrize("signing", [
    {"signature": ""},  # unsigned
    {"token": "not-our-auth-token"},  # signed with another account's token
    {"signature": "dGhpcyBpcyBub3QgYSBzaWduYXR1cmU="},
])
def test_an_unsigned_or_mis_signed_reply_is_403_and_changes_nothing(fake_twilio, paged, post, settings, signing):
    before = snapshot(paged)
    status, body = fake_twilio.sms_reply(post, settings.SITE_URL, ALICE, "1a", **signing)
    assert status == 403 and "X-Twilio-Signature" in body
    assert snapshot(paged) == before


def test_a_signature_for_other_fields_or_another_url_is_403(fake_twilio, paged, post, settings):
    before = snapshot(paged)
    url = f"{settings.SITE_URL}/twilio/sms/"
    params = {"From": ALICE, "To": "+15005550006", "Body": "1c", "MessageSid": "SM1"}
    signature_of_1a = fake_twilio.signature(url, {**params, "Body": "1a"})
    assert fake_twilio.post_signed(post, url, params, signature=signature_of_1a)[0] == 403
    # Signed for the address Django sees (no reverse proxy in between), not the public SITE_URL.
    as_django_sees_it = fake_twilio.signature("http://testserver/twilio/sms/", params)
    assert fake_twilio.post_signed(post, url, params, signature=as_django_sees_it)[0] == 403
    assert snapshot(paged) == before


def test_behind_a_proxy_the_signature_is_checked_against_site_url(fake_twilio, paged, post, settings):
    settings.SITE_URL = "https://vigil.example.org"
    status, _ = fake_twilio.sms_reply(post, settings.SITE_URL, ALICE, "1a")
    assert status == 200
    assert Incident.objects.get(pk=paged.pk).status == "acknowledged"


def test_an_unknown_code_is_answered_and_changes_nothing(fake_twilio, paged, post, settings):
    before = snapshot(paged)
    status, twiml = fake_twilio.sms_reply(post, settings.SITE_URL, ALICE, "7a")
    assert status == 200 and texted(twiml) == ["Vigil: unknown code 7a. Nothing changed."]
    assert snapshot(paged) == before


def test_a_code_of_someone_elses_page_does_nothing_for_the_sender(fake_twilio, paged, post, settings, people):
    phone_for(people["bob"], BOB)  # bob has a number but no page: alice's "1" is not his
    before = snapshot(paged)
    status, twiml = fake_twilio.sms_reply(post, settings.SITE_URL, BOB, "1a")
    assert status == 200 and texted(twiml) == ["Vigil: unknown code 1a. Nothing changed."]
    assert snapshot(paged) == before


def test_a_number_nobody_has_is_told_so(fake_twilio, paged, post, settings):
    before = snapshot(paged)
    status, twiml = fake_twilio.sms_reply(post, settings.SITE_URL, STRANGER, "1a")
    assert status == 200 and "not a contact of anyone in Vigil" in texted(twiml)[0]
    assert snapshot(paged) == before


def test_text_that_is_no_code_gets_the_how_to(fake_twilio, paged, post, settings):
    before = snapshot(paged)
    status, twiml = fake_twilio.sms_reply(post, settings.SITE_URL, ALICE, "on my way")
    assert status == 200 and texted(twiml) == [
        "Vigil: 'on my way' is not a reply code. Reply e.g. 1a to acknowledge page 1, 1c to resolve it."]
    assert snapshot(paged) == before


def test_a_person_who_left_the_team_cannot_act_and_the_attempt_is_on_the_timeline(
    fake_twilio, paged, post, settings, people, sre
):
    TeamMembership.objects.filter(user=people["alice"], team=sre).delete()
    status, twiml = fake_twilio.sms_reply(post, settings.SITE_URL, ALICE, "1c")
    assert status == 200 and "no longer a member of the team" in texted(twiml)[0]
    paged.refresh_from_db()
    assert paged.status == "triggered"
    refused = TimelineEntry.objects.get(incident=paged, data__refused=True)
    assert refused.message.startswith("SMS reply '1c' from alice refused: alice is no longer a member")


def test_an_incident_of_another_team_is_refused(fake_twilio, committed, post, settings):
    """Dave of team B has code 1 for B's page, then moves to team C: B's incident is now
    another team's, and his code no longer acts on it."""
    team_b, team_c = make_team("Team B"), make_team("Team C")
    dave = responder("dave", team=team_b)
    phone_for(dave, BOB)
    policy = make_policy(team=team_b)
    add_step(policy, 0, users=[dave])
    incident = committed(make_incident, make_key(team=team_b, policy=policy)[0], summary="B's disk")
    TeamMembership.objects.filter(user=dave).update(team=team_c)
    before = snapshot(incident)
    status, twiml = fake_twilio.sms_reply(post, settings.SITE_URL, BOB, "1a")
    assert status == 200 and "no longer a member" in texted(twiml)[0]
    after = snapshot(incident)
    assert after[:5] == before[:5] and after[5] == before[5] + 1  # only the refusal line


def test_a_signed_request_without_a_sender_is_400(fake_twilio, paged, post, settings):
    url = f"{settings.SITE_URL}/twilio/sms/"
    status, body = fake_twilio.post_signed(post, url, {"Body": "1a"})
    assert status == 400 and "'From' is missing" in body


def test_without_twilio_settings_the_endpoints_are_404(paged, post, settings, fake_twilio):
    settings.TWILIO_ACCOUNT_SID = ""
    status, body = fake_twilio.sms_reply(post, settings.SITE_URL, ALICE, "1a")
    assert status == 404 and "not configured" in body
    assert Incident.objects.get(pk=paged.pk).status == "triggered"


def test_get_is_not_allowed(client):
    assert client.get("/twilio/sms/").status_code == 405


# --- calls -----------------------------------------------------------------------------------------


@pytest.fixture
def called(fake_twilio, committed, t21_key, people):
    phone_for(people["alice"], ALICE, kind="voice")
    incident = committed(make_incident, t21_key, summary="Disk full on srv01")
    [call] = fake_twilio.calls
    return incident, call


def test_the_call_reads_the_summary_and_offers_three_keys(fake_twilio, called, post, settings):
    incident, call = called
    status, twiml = fake_twilio.answer(post, call)
    assert status == 200
    assert said(twiml) == [f"Vigil page. critical incident {incident.pk}: Disk full on srv01.",
                           "Press 1 to acknowledge, 2 to resolve, 3 to escalate.", "No key pressed. Goodbye."]
    notification = Notification.objects.get(incident=incident)
    assert f'action="{settings.SITE_URL}/twilio/voice/{notification.pk}/gather/"' in twiml


@pytest.mark.parametrize("digit, status_after, via, spoken", [
    ("1", "acknowledged", "voice call", "Acknowledged"),
    ("2", "resolved", "voice call", "Resolved"),
])
def test_a_keypress_acts_as_the_person_called(fake_twilio, called, post, people, digit, status_after, via, spoken):
    incident, call = called
    _status, twiml = fake_twilio.answer(post, call)
    status, answer = fake_twilio.press(post, call, twiml, digit)
    assert status == 200 and said(answer) == [f"{spoken} {incident.pk}: Disk full on srv01 Goodbye."]
    assert "<Hangup />" in answer
    incident.refresh_from_db()
    assert incident.status == status_after
    actor = incident.acknowledged_by if digit == "1" else incident.resolved_by
    assert actor == people["alice"]
    assert (incident.acknowledged_via if digit == "1" else incident.resolved_via) == via


def test_key_3_escalates_now(fake_twilio, called, post, django_capture_on_commit_callbacks, tasks_inline):
    incident, call = called
    _status, twiml = fake_twilio.answer(post, call)
    with django_capture_on_commit_callbacks(execute=True):
        status, answer = fake_twilio.press(post, call, twiml, "3")
    assert status == 200 and said(answer)[0].startswith(f"Escalated {incident.pk}")
    assert TimelineEntry.objects.filter(incident=incident, data__escalate_now=True).exists()
    # The next step (bob) fired at once instead of in 5 minutes.
    assert Notification.objects.filter(incident=incident, user__username="bob").exists()


def test_a_key_that_is_no_option_asks_again_and_changes_nothing(fake_twilio, called, post):
    incident, call = called
    before = snapshot(incident)
    _status, twiml = fake_twilio.answer(post, call)
    status, answer = fake_twilio.press(post, call, twiml, "9")
    assert status == 200 and said(answer)[:2] == ["9 is not an option.", "Press 1 to acknowledge, 2 to resolve, 3 to escalate."]
    assert snapshot(incident) == before


@pytest.mark.parametrize("signing", [{"signature": ""}, {"token": "not-our-auth-token"}])
def test_an_unsigned_or_mis_signed_keypress_is_403_and_changes_nothing(fake_twilio, called, post, signing):
    incident, call = called
    before = snapshot(incident)
    _status, twiml = fake_twilio.answer(post, call)
    assert fake_twilio.answer(post, call, **signing)[0] == 403
    assert fake_twilio.press(post, call, twiml, "2", **signing)[0] == 403
    assert snapshot(incident) == before


def test_a_keypress_from_someone_who_left_the_team_is_refused_on_the_timeline(
    fake_twilio, called, post, people, sre
):
    incident, call = called
    _status, twiml = fake_twilio.answer(post, call)
    TeamMembership.objects.filter(user=people["alice"], team=sre).delete()
    status, answer = fake_twilio.press(post, call, twiml, "2")
    assert status == 200 and "no longer a member" in said(answer)[0]
    incident.refresh_from_db()
    assert incident.status == "triggered"
    assert TimelineEntry.objects.get(incident=incident, data__refused=True).message.startswith(
        "Key 2 on a call from alice refused")


def test_a_call_url_for_something_that_is_not_a_voice_page_is_turned_away(fake_twilio, paged, post, settings):
    sms_page = Notification.objects.get(incident=paged)
    url = f"{settings.SITE_URL}/twilio/voice/{sms_page.pk}/"
    status, twiml = fake_twilio.post_signed(post, url, {"CallSid": "CA1", "To": ALICE})
    assert status == 200 and said(twiml) == ["This Vigil call is not for a page any more. Goodbye."]
