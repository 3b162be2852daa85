"""RELIABILITY T37: the signed Acknowledge and Resolve links of an email. GET only shows a
confirmation page (mail scanners prefetch links); the page's POST acts; a tampered link is
a 400, an expired one says so, a used one is dead, and a link never acts as anyone else."""

import re
import threading
from datetime import timedelta

import pytest
from django.conf import settings
from django.core import signing
from django.db import connection
from django.test import Client

from escalation import links
from incidents.models import Incident, TimelineEntry
from oncall.models import TeamMembership
from tests.factories import api_client_for, make_incident

pytestmark = pytest.mark.django_db


def link_paths(mail) -> dict[str, str]:
    found = re.findall(rf"^(Acknowledge|Resolve):\s+{re.escape(settings.SITE_URL)}(/ack/\S+/)$", mail.text, re.M)
    return {verb.lower(): path for verb, path in found}


def confirm(client: Client, path: str):
    """What a person does: open the link, press the button on the page (with its hidden field)."""
    page = client.get(path)
    assert page.status_code == 200, page.content
    proof = re.search(rb'name="confirm" value="([^"]+)"', page.content).group(1).decode()
    return client.post(path, {"confirm": proof})


@pytest.fixture
def paged(smtp, committed, t21_key):
    incident = committed(make_incident, t21_key)
    [mail] = smtp.mails
    return incident, link_paths(mail)


def test_the_email_links_are_acknowledge_and_resolve_for_the_paged_user(paged, people):
    incident, paths = paged
    assert set(paths) == {"acknowledge", "resolve"}
    claim = links.read_token(paths["acknowledge"].split("/")[2])
    assert (claim.incident_id, claim.user_id, claim.action) == (incident.pk, people["alice"].pk, "acknowledge")


def test_get_shows_a_confirmation_page_and_changes_nothing(paged):
    incident, paths = paged
    client = Client()
    for _prefetch in range(3):  # a mail scanner, a preview, the person
        response = client.get(paths["acknowledge"])
        assert response.status_code == 200
        assert b"Acknowledge incident #" in response.content and b'method="post"' in response.content
    incident.refresh_from_db()
    assert incident.status == "triggered"
    assert not TimelineEntry.objects.filter(incident=incident, kind="acknowledged").exists()


def test_post_from_the_confirmation_page_acknowledges_as_the_paged_user(paged, people, clock, tick, smtp):
    incident, paths = paged
    response = confirm(Client(enforce_csrf_checks=True), paths["acknowledge"])
    assert response.status_code == 200
    assert f"Incident #{incident.pk} acknowledged as alice.".encode() in response.content
    incident.refresh_from_db()
    assert incident.status == "acknowledged"
    assert incident.acknowledged_by == people["alice"] and incident.acknowledged_via == "email link"
    smtp.take()
    clock.to(30)
    tick()
    assert smtp.take() == []  # escalation stopped


def test_post_without_the_confirmation_field_is_refused(paged):
    incident, paths = paged
    response = Client(enforce_csrf_checks=True).post(paths["acknowledge"])
    assert response.status_code == 403
    assert b"did not come from Vigil&#x27;s confirmation page" in response.content
    incident.refresh_from_db()
    assert incident.status == "triggered"


def test_a_reused_link_says_already_acknowledged_and_writes_nothing(paged):
    incident, paths = paged
    client = Client()
    confirm(client, paths["acknowledge"])
    entries = TimelineEntry.objects.filter(incident=incident).count()
    for method in (client.get, client.post):
        response = method(paths["acknowledge"])
        assert response.status_code == 200
        assert f"Incident #{incident.pk} is already acknowledged by alice (email link) at ".encode() in response.content
        assert b'method="post"' not in response.content.split(b"<main", 1)[1]
    assert TimelineEntry.objects.filter(incident=incident).count() == entries


def test_the_resolve_link_still_works_after_an_acknowledgement(paged):
    incident, paths = paged
    client = Client()
    confirm(client, paths["acknowledge"])
    response = confirm(client, paths["resolve"])
    assert f"Incident #{incident.pk} resolved as alice.".encode() in response.content
    incident.refresh_from_db()
    assert incident.status == "resolved" and incident.resolved_via == "email link"


@pytest.mark.parametrize("damage", ["flip_signature", "truncate", "garbage", "swap_payload"])
def test_a_tampered_link_is_a_400_page(paged, people, damage):
    incident, paths = paged
    token = paths["acknowledge"].split("/")[2]
    if damage == "flip_signature":
        token = token[:-1] + ("A" if token[-1] != "A" else "B")
    elif damage == "truncate":
        token = token[: len(token) // 2]
    elif damage == "garbage":
        token = "not-a-link"
    else:  # the payload of a link for bob, with alice's timestamp and signature
        bob_token = links.make_token(incident, people["bob"], "acknowledge")
        token = bob_token.split(":", 1)[0] + ":" + token.split(":", 1)[1]
    for method in (Client().get, Client().post):
        response = method(f"/ack/{token}/")
        assert response.status_code == 400
        assert b"Invalid link" in response.content
    incident.refresh_from_db()
    assert incident.status == "triggered"


def test_an_expired_link_shows_the_expired_page(paged, time_machine):
    incident, paths = paged
    time_machine.move_to(
        incident.created_at + timedelta(seconds=settings.ACK_LINK_MAX_AGE_SECONDS + 60), tick=False
    )
    for method in (Client().get, Client().post):
        response = method(paths["acknowledge"])
        assert response.status_code == 410
        assert b"This link expired" in response.content
    incident.refresh_from_db()
    assert incident.status == "triggered"


def test_a_link_for_alice_acts_as_alice_even_in_bobs_browser(paged, people):
    incident, paths = paged
    browser = Client()
    browser.force_login(people["bob"])
    confirm(browser, paths["acknowledge"])
    incident.refresh_from_db()
    assert incident.acknowledged_by == people["alice"]


def test_a_link_signed_with_another_salt_is_refused(paged, people):
    incident, _paths = paged
    payload = {"i": incident.pk, "u": people["alice"].pk, "a": "acknowledge",
               "v": links.status_version(incident, "acknowledge")}
    forged = signing.TimestampSigner(salt="something-else").sign_object(payload)
    assert Client().post(f"/ack/{forged}/").status_code == 400


def test_a_proof_made_for_another_link_is_refused(paged, people):
    incident, paths = paged
    other = links.form_proof(links.make_token(incident, people["bob"], "acknowledge"))
    response = Client().post(paths["acknowledge"], {"confirm": other})
    assert response.status_code == 403
    incident.refresh_from_db()
    assert incident.status == "triggered"


def test_a_link_of_someone_removed_from_the_team_no_longer_acts(paged, people):
    incident, paths = paged
    TeamMembership.objects.filter(user=people["alice"]).delete()
    refused = Client().get(paths["acknowledge"])
    assert refused.status_code == 403
    assert b"no longer a member of the team" in refused.content
    assert not TimelineEntry.objects.filter(incident=incident, kind="refused").exists()  # a look is no attempt
    pressed = Client().post(paths["acknowledge"], {"confirm": links.form_proof(paths["acknowledge"].split("/")[2])})
    assert pressed.status_code == 403
    [attempt] = TimelineEntry.objects.filter(incident=incident, kind="refused")
    assert attempt.message.startswith("Acknowledge link of alice refused: alice is no longer a member")
    incident.refresh_from_db()
    assert incident.status == "triggered"


def test_a_link_of_a_deactivated_user_no_longer_acts(paged, people):
    incident, paths = paged
    people["alice"].is_active = False
    people["alice"].save(update_fields=["is_active"])
    refused = Client().get(paths["acknowledge"])
    assert refused.status_code == 403
    assert b"alice is deactivated" in refused.content
    incident.refresh_from_db()
    assert incident.status == "triggered"


@pytest.mark.django_db(transaction=True)
def test_t06_link_api_and_browser_acknowledge_at_once_make_one_transition(smtp, tasks_inline, t21_key, people):
    from escalation.engine import advance_escalation

    incident = make_incident(t21_key)
    advance_escalation(incident.pk)
    ack_path = f"/ack/{links.make_token(incident, people['alice'], 'acknowledge')}/"
    barrier = threading.Barrier(3)
    answers, errors = {}, []

    def via_link():
        client = Client()
        page = client.get(ack_path)
        proof = re.search(rb'name="confirm" value="([^"]+)"', page.content).group(1).decode()
        barrier.wait(timeout=10)
        answers["link"] = client.post(ack_path, {"confirm": proof}).status_code

    def via_api():
        client = api_client_for(people["bob"])
        barrier.wait(timeout=10)
        answers["api"] = client.post(f"/api/v1/incidents/{incident.pk}/acknowledge/").status_code

    def via_browser():
        client = Client()
        client.force_login(people["carol"])
        barrier.wait(timeout=10)
        answers["browser"] = client.post(f"/incidents/{incident.pk}/acknowledge/").status_code

    def run(fn):
        try:
            fn()
        except Exception as exc:
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(fn,)) for fn in (via_link, via_api, via_browser)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert not errors, errors
    assert answers["link"] == 200 and answers["api"] == 200 and answers["browser"] in {200, 302}
    assert Incident.objects.get(pk=incident.pk).status == "acknowledged"
    assert TimelineEntry.objects.filter(incident=incident, kind="acknowledged").count() == 1
