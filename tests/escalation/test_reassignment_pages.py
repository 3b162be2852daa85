"""A reassignment page (incidents.actions.do_reassign_incident -> the engine's page_now, a page
step -1) says the incident was reassigned to the recipient and by whom, in the email and in
the webhook bodies, instead of reading like an escalation step."""

import json

import pytest

from escalation.models import ContactMethod
from incidents import actions
from tests.escalation.conftest import always_on_call, responder
from tests.factories import make_incident, make_user

pytestmark = pytest.mark.django_db


@pytest.fixture
def rita(sre):
    return make_user("rita", team=sre, first_name="Rita", last_name="Responder")


@pytest.fixture
def colin(sre):
    return responder("colin", team=sre)


@pytest.fixture
def incident(t21_key):
    # Not committed: the pipeline's own escalation task does not run, so the only page is
    # the reassignment's.
    return make_incident(t21_key, summary="Checkout latency > 2 s")


def turn_into_webhooks(user, url, *, slack_format=False):
    """Through save(), not update(): a webhook gets its signing secret there."""
    for method in ContactMethod.objects.filter(user=user):
        method.kind, method.address, method.slack_format = "webhook", url, slack_format
        method.save()


def test_a_reassignment_email_says_who_reassigned_the_incident_to_the_recipient(
    smtp, committed, incident, rita, colin
):
    committed(actions.do_reassign_incident, incident.pk, by=rita, user=colin)

    [mail] = smtp.mails
    assert mail.to == "colin@example.com"
    assert mail.subject == f"[Vigil] CRITICAL #{incident.pk} reassigned to you: Checkout latency > 2 s"
    assert mail.text.splitlines()[0] == f"CRITICAL incident #{incident.pk} was reassigned to you by Rita Responder."
    assert "Reassigned to you by Rita Responder" in mail.html
    assert "escalation step" not in mail.text.lower() and "escalation step" not in mail.html.lower()
    assert "Acknowledge: " in mail.text  # still a page: the recipient can act on it


def test_a_reassignment_to_a_schedule_tells_the_recipient_they_are_on_call_for_it(
    smtp, committed, incident, rita, colin, sre
):
    night_shift = always_on_call(colin, team=sre, name="Night shift")
    committed(actions.do_reassign_incident, incident.pk, by=rita, schedule=night_shift)

    [mail] = smtp.mails
    assert mail.text.splitlines()[0] == (
        f"CRITICAL incident #{incident.pk} was reassigned to you by Rita Responder: you are on call for Night shift."
    )
    assert "Reassigned to you by Rita Responder: you are on call for Night shift" in mail.html


def test_a_reassignment_webhook_says_reassigned_and_has_no_step(
    httpserver, settings, committed, incident, rita, colin
):
    settings.ESCALATION_WEBHOOK_ALLOW_PRIVATE = True  # pytest-httpserver listens on 127.0.0.1
    httpserver.expect_request("/hooks/colin", method="POST").respond_with_json({"ok": True})
    turn_into_webhooks(colin, httpserver.url_for("/hooks/colin"))
    committed(actions.do_reassign_incident, incident.pk, by=rita, user=colin)

    [(request, _response)] = httpserver.log
    body = json.loads(request.data)
    assert body["event"] == "incident.page" and body["recipient"] == "colin"
    assert body["step"] is None
    assert body["reassigned"] == {"message": "Reassigned to colin by Rita Responder", "by": "Rita Responder",
                                  "schedule": None}


def test_a_reassignment_slack_message_says_reassigned_to_whom_by_whom(
    httpserver, settings, committed, incident, rita, colin
):
    settings.ESCALATION_WEBHOOK_ALLOW_PRIVATE = True
    httpserver.expect_request("/slack", method="POST").respond_with_data("ok")
    turn_into_webhooks(colin, httpserver.url_for("/slack"), slack_format=True)
    committed(actions.do_reassign_incident, incident.pk, by=rita, user=colin)

    [(request, _response)] = httpserver.log
    lines = json.loads(request.data)["text"].splitlines()
    assert lines[0] == f"[CRITICAL] Incident #{incident.pk}: Checkout latency &gt; 2 s"
    assert lines[1] == "Reassigned to colin by Rita Responder"


def test_a_policy_page_webhook_is_not_marked_reassigned(httpserver, settings, committed, t21_key, people):
    settings.ESCALATION_WEBHOOK_ALLOW_PRIVATE = True
    httpserver.expect_request("/hooks/alice", method="POST").respond_with_json({"ok": True})
    turn_into_webhooks(people["alice"], httpserver.url_for("/hooks/alice"))
    committed(make_incident, t21_key)

    [(request, _response)] = httpserver.log
    body = json.loads(request.data)
    assert body["step"] == 1 and body["reassigned"] is None
