"""Web Push to a local push service (pytest-httpserver) that decrypts what pywebpush sent
with the subscription's own keys and checks the VAPID signature, then the lock screen's
buttons: the token from the decrypted payload, POSTed to /push/action/ as the service
worker does, acknowledges or resolves. A dead subscription (404/410) is disabled."""

from __future__ import annotations

import json
import logging
import time
from datetime import timedelta

import pytest
from django.contrib.staticfiles import finders
from django.test import Client
from werkzeug import Response

from escalation.channels import Delivered, Failed, channel_for, configured_kinds
from escalation.models import ContactMethod, Notification
from escalation.notify import send_notification
from incidents.models import Incident, TimelineEntry
from oncall.models import TeamMembership
from tests.escalation.push_service import FakeBrowser, make_vapid_keys, received
from tests.factories import api_client_for, make_incident, make_user

pytestmark = pytest.mark.django_db

CAPABILITY = "/wpush/v2/gAAAAABn-secret-capability-7f3a9"


@pytest.fixture
def vapid(settings):
    keys = make_vapid_keys()
    settings.VAPID_PUBLIC_KEY, settings.VAPID_PRIVATE_KEY = keys.public, keys.private
    settings.VAPID_SUBJECT = "mailto:ops@example.com"
    # pytest-httpserver listens on 127.0.0.1, which the SSRF guard refuses by default.
    settings.ESCALATION_WEBHOOK_ALLOW_PRIVATE = True
    return keys


@pytest.fixture
def browser():
    return FakeBrowser()


@pytest.fixture
def alice_push(people, httpserver, browser, vapid) -> ContactMethod:
    """alice's only contact method: this browser's push subscription."""
    ContactMethod.objects.filter(user=people["alice"]).delete()
    subscription = browser.subscription(httpserver.url_for(CAPABILITY))
    return ContactMethod.objects.create(user=people["alice"], kind="push", address=subscription["endpoint"],
                                        secrets={"p256dh": subscription["keys"]["p256dh"],
                                                 "auth": subscription["keys"]["auth"]})


def press(client: Client, action: dict):
    """What the service worker's notificationclick handler does: POST the action's token."""
    return client.post(action["url"].removeprefix("http://127.0.0.1:8000"), data=json.dumps({"token": action["token"]}),
                       content_type="application/json")


def the_page(httpserver, browser, vapid):
    [push] = received(httpserver, browser, vapid.public)
    return push


def test_a_page_arrives_encrypted_signed_and_its_acknowledge_button_acknowledges(
        httpserver, vapid, browser, alice_push, committed, t21_key, people, settings):
    httpserver.expect_request(CAPABILITY, method="POST").respond_with_data("", status=201)
    incident = committed(make_incident, t21_key, summary="Checkout API 5xx > 5%", labels={"service": "api"})

    push = the_page(httpserver, browser, vapid)
    assert push.headers["Content-Encoding"] == "aes128gcm"
    assert push.headers["Urgency"] == "high" and int(push.headers["Ttl"]) == 3600
    assert push.vapid_claims["sub"] == "mailto:ops@example.com"
    assert push.vapid_claims["aud"] == httpserver.url_for("/").rstrip("/")
    assert push.vapid_claims["exp"] > time.time()
    payload = push.payload
    assert payload["title"] == f"[CRITICAL] #{incident.pk} Checkout API 5xx > 5%"
    assert "service=api" in payload["body"] and "Source: prometheus" in payload["body"]
    assert payload["url"] == f"{settings.SITE_URL}/incidents/{incident.pk}/"
    assert payload["tag"] == f"vigil-incident-{incident.pk}" and payload["kind"] == "page"
    assert [(a["action"], a["title"]) for a in payload["actions"]] == [
        ("acknowledge", "Acknowledge"), ("resolve", "Resolve")]
    for action in payload["actions"]:
        assert action["url"] == f"{settings.SITE_URL}/push/action/"
        assert action["link"].startswith(f"{settings.SITE_URL}/ack/")  # the fallback confirm page

    answer = press(Client(), payload["actions"][0])

    assert answer.status_code == 200, answer.content
    assert answer.json()["message"] == f"Incident #{incident.pk} acknowledged as alice."
    incident.refresh_from_db()
    assert incident.status == Incident.Status.ACKNOWLEDGED
    assert (incident.acknowledged_by, incident.acknowledged_via) == (people["alice"], "push")
    line = TimelineEntry.objects.get(incident=incident, kind="notification").message
    assert line == f"Pushed to alice ({httpserver.url_for('/').rstrip('/')}/…): page, step 1"


def test_the_resolve_button_resolves_and_a_used_button_says_so(
        httpserver, vapid, browser, alice_push, committed, t21_key, people):
    httpserver.expect_request(CAPABILITY).respond_with_data("", status=201)
    incident = committed(make_incident, t21_key)
    acknowledge, resolve = the_page(httpserver, browser, vapid).payload["actions"]

    assert press(Client(), resolve).status_code == 200
    again = press(Client(), resolve)
    late_ack = press(Client(), acknowledge)

    incident.refresh_from_db()
    assert (incident.status, incident.resolved_by, incident.resolved_via) == ("resolved", people["alice"], "push")
    assert again.status_code == 409 and "already resolved by alice (push)" in again.json()["message"]
    assert late_ack.status_code == 409
    assert incident.acknowledged_at is None


@pytest.mark.parametrize("status", [404, 410])
def test_a_dead_subscription_is_disabled_and_the_page_fails_on_the_timeline(
        httpserver, vapid, browser, alice_push, committed, t21_key, status):
    httpserver.expect_request(CAPABILITY).respond_with_data("gone", status=status)
    incident = committed(make_incident, t21_key)

    notification = Notification.objects.get(incident=incident, contact_method=alice_push)
    alice_push.refresh_from_db()
    assert notification.status == Notification.Status.FAILED and notification.attempts == 1
    assert alice_push.enabled is False
    assert alice_push.disabled_reason == f"the push service answered {status}: this browser's subscription has ended"
    failed = TimelineEntry.objects.get(incident=incident, kind="notification_failed").message
    assert f"HTTP {status}, the subscription has ended" in failed and "not retried" in failed
    assert CAPABILITY not in failed and "secret-capability" not in notification.last_error
    assert len(httpserver.log) == 1


@pytest.mark.parametrize("status", [400, 403, 413])
def test_another_4xx_fails_without_retrying_and_keeps_the_method(
        httpserver, vapid, browser, alice_push, committed, t21_key, status):
    httpserver.expect_request(CAPABILITY).respond_with_data("no", status=status)
    incident = committed(make_incident, t21_key)

    notification = Notification.objects.get(incident=incident, contact_method=alice_push)
    alice_push.refresh_from_db()
    assert notification.status == Notification.Status.FAILED
    assert notification.last_error.endswith(f"HTTP {status}")
    assert alice_push.enabled is True
    assert TimelineEntry.objects.filter(incident=incident, kind="notification_failed").count() == 1


@pytest.mark.parametrize("status", [429, 500, 503])
def test_429_and_5xx_are_retried_with_backoff(httpserver, vapid, browser, alice_push, committed, t21_key, status):
    httpserver.expect_request(CAPABILITY).respond_with_data("busy", status=status)
    incident = committed(make_incident, t21_key)

    notification = Notification.objects.get(incident=incident, contact_method=alice_push)
    assert notification.status == Notification.Status.PENDING and notification.attempts == 1
    assert notification.due_at > notification.created_at
    assert "retrying in" in TimelineEntry.objects.get(incident=incident, kind="notification_failed").message


def test_a_push_service_that_never_answers_is_retried_at_the_deadline(
        httpserver, vapid, browser, alice_push, committed, t21_key, settings):
    settings.ESCALATION_WEBHOOK_TIMEOUT_SECONDS = 1

    def hang(request):
        time.sleep(2)
        return Response("", status=201)

    httpserver.expect_request(CAPABILITY).respond_with_handler(hang)
    started = time.monotonic()
    incident = committed(make_incident, t21_key)

    assert time.monotonic() - started < 1.9
    notification = Notification.objects.get(incident=incident, contact_method=alice_push)
    assert notification.status == Notification.Status.PENDING
    assert "no answer within 1 s" in notification.last_error
    # Let the hung handler finish here, not in the next test's request log.
    deadline = time.monotonic() + 5
    while not httpserver.log and time.monotonic() < deadline:
        time.sleep(0.05)


def test_the_recovery_push_has_no_buttons(httpserver, vapid, browser, alice_push, committed, t21_key, people):
    httpserver.expect_request(CAPABILITY).respond_with_data("", status=201)
    incident = committed(make_incident, t21_key, summary="Disk full")
    page = the_page(httpserver, browser, vapid).payload
    press(Client(), page["actions"][1])  # resolve: the recovery push follows on commit
    httpserver.clear_log()

    recovery = Notification.objects.get(incident=incident, kind="recovery")
    send_notification(recovery.pk)
    push = the_page(httpserver, browser, vapid)
    assert push.payload["title"] == f"[RESOLVED] #{incident.pk} Disk full"
    assert push.payload["actions"] == [] and push.headers["Urgency"] == "normal"


def test_nothing_secret_reaches_the_logs(httpserver, vapid, browser, alice_push, committed, t21_key, caplog):
    httpserver.expect_request(CAPABILITY).respond_with_data("gone", status=410)
    with caplog.at_level(logging.DEBUG):
        committed(make_incident, t21_key)
    # Everything Vigil logged (werkzeug is the fake push service's own access log).
    ours = "\n".join(r.getMessage() for r in caplog.records if r.name != "werkzeug")
    assert "HTTP 410" in ours  # the failure is logged ...
    for secret in ("secret-capability", vapid.private, alice_push.secrets["auth"]):
        assert secret not in ours  # ... without the endpoint or a key


# --- the push-action endpoint: bad input changes nothing ------------------------------------


@pytest.fixture
def paged(httpserver, vapid, browser, alice_push, committed, t21_key):
    httpserver.expect_request(CAPABILITY).respond_with_data("", status=201)
    incident = committed(make_incident, t21_key)
    return incident, the_page(httpserver, browser, vapid).payload["actions"]


def unchanged(incident: Incident) -> bool:
    before = incident.status
    incident.refresh_from_db()
    return incident.status == before == Incident.Status.TRIGGERED and incident.acknowledged_at is None


def test_a_tampered_token_is_400_and_changes_nothing(paged):
    incident, (acknowledge, _resolve) = paged
    token = acknowledge["token"]
    forged = dict(acknowledge, token=token[:-3] + ("AAA" if not token.endswith("AAA") else "BBB"))
    answer = press(Client(), forged)
    assert answer.status_code == 400 and "not one of Vigil's" in answer.json()["message"]
    assert unchanged(incident)


def test_an_expired_token_is_410_and_changes_nothing(paged, time_machine, settings):
    incident, (acknowledge, _resolve) = paged
    time_machine.move_to(incident.created_at + timedelta(seconds=settings.ACK_LINK_MAX_AGE_SECONDS + 60))
    answer = press(Client(), acknowledge)
    assert answer.status_code == 410 and "expired" in answer.json()["message"]
    assert unchanged(incident)


@pytest.mark.parametrize("body, content_type", [
    ("", "application/json"), ("{not json", "application/json"), ('{"token": 5}', "application/json"),
    ('["x"]', "application/json"), ("token=", "application/x-www-form-urlencoded"),
])
def test_a_request_without_a_token_is_400_naming_it(paged, body, content_type):
    incident, _actions = paged
    answer = Client().post("/push/action/", data=body, content_type=content_type)
    assert answer.status_code == 400 and "token" in answer.json()["message"]
    assert unchanged(incident)


def test_get_is_not_an_action(paged):
    incident, (acknowledge, _resolve) = paged
    assert Client().get("/push/action/", {"token": acknowledge["token"]}).status_code == 405
    assert unchanged(incident)


def test_a_person_removed_from_the_team_is_refused(paged, people):
    incident, (acknowledge, _resolve) = paged
    TeamMembership.objects.filter(user=people["alice"]).delete()
    answer = press(Client(), acknowledge)
    assert answer.status_code == 403 and "no longer a member" in answer.json()["message"]
    assert unchanged(incident)
    [attempt] = TimelineEntry.objects.filter(incident=incident, kind="refused")
    assert attempt.message.startswith("Push acknowledge of alice refused: alice is no longer a member")
    assert attempt.data["source"] == "push"


def test_a_deactivated_person_is_refused(paged, people):
    incident, (acknowledge, _resolve) = paged
    people["alice"].is_active = False
    people["alice"].save()
    assert press(Client(), acknowledge).status_code == 403
    assert unchanged(incident)


def test_a_session_of_someone_else_does_not_change_who_acts(paged, people):
    incident, (acknowledge, _resolve) = paged
    client = Client()
    client.force_login(people["bob"])
    assert press(client, acknowledge).status_code == 200
    incident.refresh_from_db()
    assert incident.acknowledged_by == people["alice"]


# --- subscribing a browser ---------------------------------------------------------------


def subscribe(client: Client, body, **extra):
    return client.post("/push/subscribe/", data=json.dumps(body), content_type="application/json", **extra)


def signed_in(user, *, csrf=True) -> Client:
    client = Client(enforce_csrf_checks=csrf)
    client.force_login(user)
    return client


def csrf_token(client: Client) -> str:
    client.get("/push/")
    return client.cookies["csrftoken"].value


def test_a_signed_in_browser_subscribes_with_the_csrf_token(vapid, browser, people, httpserver):
    client = signed_in(people["alice"])
    subscription = browser.subscription(httpserver.url_for(CAPABILITY))
    answer = subscribe(client, subscription, HTTP_X_CSRFTOKEN=csrf_token(client))

    assert answer.status_code == 201, answer.content
    method = ContactMethod.objects.get(user=people["alice"], kind="push")
    assert method.address == subscription["endpoint"] and method.enabled
    assert method.secrets == {"p256dh": browser.p256dh, "auth": subscription["keys"]["auth"]}
    assert answer.json()["contact_method"]["address"] == f"{httpserver.url_for('/').rstrip('/')}/…"
    assert "secret-capability" not in answer.content.decode()
    # Subscribing again (new keys after a browser reset) updates the same method.
    again = subscribe(client, FakeBrowser().subscription(subscription["endpoint"]),
                      HTTP_X_CSRFTOKEN=csrf_token(client))
    assert again.status_code == 200
    assert ContactMethod.objects.filter(user=people["alice"], kind="push").count() == 1


def test_subscribing_without_the_csrf_token_is_403_and_stores_nothing(vapid, browser, people, httpserver):
    answer = subscribe(signed_in(people["alice"]), browser.subscription(httpserver.url_for(CAPABILITY)))
    assert answer.status_code == 403
    assert not ContactMethod.objects.filter(kind="push").exists()


def test_subscribing_signed_out_is_401(vapid, browser, httpserver):
    answer = subscribe(Client(), browser.subscription(httpserver.url_for(CAPABILITY)))
    assert answer.status_code == 401
    assert not ContactMethod.objects.filter(kind="push").exists()


def test_a_browser_subscribed_by_someone_else_now_pages_only_them(vapid, browser, people, httpserver, alice_push):
    bob = signed_in(people["bob"], csrf=False)
    assert subscribe(bob, browser.subscription(alice_push.address)).status_code == 201
    alice_push.refresh_from_db()
    assert not alice_push.enabled and "another account" in alice_push.disabled_reason
    assert ContactMethod.objects.get(user=people["bob"], kind="push").enabled


@pytest.mark.parametrize("mangle, field", [
    (lambda s: {**s, "endpoint": ""}, "endpoint"),
    (lambda s: {**s, "endpoint": "ftp://push.example.com/x"}, "endpoint"),
    (lambda s: {**s, "keys": {**s["keys"], "p256dh": "not base64 !"}}, "keys.p256dh"),
    (lambda s: {**s, "keys": {**s["keys"], "p256dh": s["keys"]["auth"]}}, "keys.p256dh"),
    (lambda s: {**s, "keys": {"p256dh": s["keys"]["p256dh"]}}, "keys.auth"),
    (lambda s: ["not", "an", "object"], "body"),
])
def test_a_bad_subscription_is_400_naming_the_field(vapid, browser, people, httpserver, mangle, field):
    answer = subscribe(signed_in(people["alice"], csrf=False), mangle(browser.subscription(httpserver.url_for("/x"))))
    assert answer.status_code == 400
    assert field in answer.json()["errors"]
    assert not ContactMethod.objects.filter(kind="push").exists()


def test_a_subscription_to_a_private_address_is_refused(vapid, browser, people, settings):
    settings.ESCALATION_WEBHOOK_ALLOW_PRIVATE = False
    for endpoint in ("http://127.0.0.1:6379/", "http://169.254.169.254/latest/meta-data/"):
        answer = subscribe(signed_in(people["alice"], csrf=False), browser.subscription(endpoint))
        assert answer.status_code == 400 and "non-public address" in answer.json()["errors"]["endpoint"]
    assert not ContactMethod.objects.filter(kind="push").exists()


def test_without_vapid_settings_push_is_hidden_and_subscribing_is_404(settings, browser, people):
    settings.VAPID_PUBLIC_KEY = settings.VAPID_PRIVATE_KEY = settings.VAPID_SUBJECT = ""
    assert "push" not in {cls.kind for cls in configured_kinds()}
    answer = subscribe(signed_in(people["alice"], csrf=False), browser.subscription("https://push.example.com/x"))
    assert answer.status_code == 404
    page = signed_in(people["alice"]).get("/push/")
    assert page.status_code == 200 and b"not set up" in page.content and b"push-subscribe" not in page.content


def test_with_vapid_settings_push_is_offered(vapid):
    assert "push" in {cls.kind for cls in configured_kinds()}


def test_the_rest_api_shows_the_endpoint_redacted_and_never_the_keys(vapid, alice_push, people, httpserver):
    [shown] = api_client_for(people["alice"]).get("/api/v1/contact-methods/").json()["results"]
    assert shown["address"] == f"{httpserver.url_for('/').rstrip('/')}/…"
    assert "secrets" not in shown and alice_push.secrets["auth"] not in json.dumps(shown)


def test_the_push_page_lists_a_disabled_device_with_the_reason(vapid, alice_push, people):
    alice_push.enabled, alice_push.disabled_reason = False, "the push service answered 410: gone"
    alice_push.save()
    page = signed_in(people["alice"]).get("/push/").content.decode()
    assert "off: the push service answered 410: gone" in page and CAPABILITY not in page


def test_the_push_page_needs_a_sign_in():
    answer = Client().get("/push/")
    assert answer.status_code == 302 and answer["Location"].startswith("/login/")


# --- the app shell ------------------------------------------------------------------------


def test_the_service_worker_is_served_from_the_root_with_its_scope_allowed(db):
    answer = Client().get("/sw.js")
    assert answer.status_code == 200
    assert answer["Content-Type"] == "text/javascript; charset=utf-8"
    assert answer["Service-Worker-Allowed"] == "/"
    assert b"notificationclick" in answer.content and b"fetch(chosen.url" in answer.content


def test_the_manifest_is_served_as_a_web_manifest(db, settings):
    answer = Client().get("/manifest.webmanifest")
    assert answer.status_code == 200 and answer["Content-Type"] == "application/manifest+json"
    manifest = answer.json()
    assert manifest["display"] == "standalone" and manifest["scope"] == "/" and manifest["start_url"] == "/"
    assert {icon["sizes"] for icon in manifest["icons"]} == {"192x192", "512x512"}
    for icon in manifest["icons"]:
        path = finders.find(icon["src"].removeprefix(settings.STATIC_URL))
        assert path and open(path, "rb").read(8) == b"\x89PNG\r\n\x1a\n"


def test_the_api_owner_of_a_push_method_is_only_its_user(vapid, alice_push, people, sre):
    other = make_user("mallory", team=sre)
    assert api_client_for(other).get("/api/v1/contact-methods/").json()["results"] == []


def test_a_message_that_is_not_a_page_arrives_without_buttons(httpserver, vapid, browser, alice_push):
    """`send_message`: verification codes and "send me a test page" (the Profile page)."""
    httpserver.expect_request(CAPABILITY).respond_with_data("", status=201)
    outcome = channel_for("push").send_message(alice_push, "Vigil test page", "Your code is 482913")
    assert isinstance(outcome, Delivered)
    push = the_page(httpserver, browser, vapid)
    assert push.payload["title"] == "Vigil test page" and push.payload["body"] == "Your code is 482913"
    assert push.payload["actions"] == [] and push.headers["Urgency"] == "normal"


def test_a_message_to_a_dead_subscription_disables_it(httpserver, vapid, browser, alice_push):
    httpserver.expect_request(CAPABILITY).respond_with_data("", status=410)
    outcome = channel_for("push").send_message(alice_push, "Vigil test page", "hello")
    assert isinstance(outcome, Failed) and "HTTP 410" in outcome.error
    alice_push.refresh_from_db()
    assert not alice_push.enabled


# --- a subscription the browser replaced (pushsubscriptionchange) --------------------------


def renew(old: dict, new) -> object:
    return Client().post("/push/renew/", data=json.dumps({"old": old, "new": new}), content_type="application/json")


def test_a_renewed_subscription_replaces_the_old_one_and_revives_a_dead_method(
        httpserver, vapid, browser, alice_push):
    alice_push.enabled, alice_push.disabled_reason = False, "the push service answered 410: gone"
    alice_push.save()
    old = browser.subscription(alice_push.address)
    fresh_browser = FakeBrowser()
    new = fresh_browser.subscription(httpserver.url_for("/wpush/v2/renewed-capability"))

    answer = renew(old, new)

    assert answer.status_code == 200, answer.content
    alice_push.refresh_from_db()
    assert alice_push.address == new["endpoint"] and alice_push.enabled and alice_push.disabled_reason == ""
    assert alice_push.secrets == {"p256dh": fresh_browser.p256dh, "auth": new["keys"]["auth"]}
    # And the next push is encrypted for the new keys.
    httpserver.expect_request("/wpush/v2/renewed-capability").respond_with_data("", status=201)
    assert isinstance(channel_for("push").send_message(alice_push, "t", "b"), Delivered)
    [push] = received(httpserver, fresh_browser, vapid.public)
    assert push.payload["title"] == "t"


def test_a_renewal_without_the_old_auth_secret_is_403_and_changes_nothing(httpserver, vapid, browser, alice_push):
    old = FakeBrowser().subscription(alice_push.address)  # right endpoint, someone else's secret
    answer = renew(old, FakeBrowser().subscription(httpserver.url_for("/attacker")))
    assert answer.status_code == 403
    before = alice_push.address
    alice_push.refresh_from_db()
    assert alice_push.address == before


@pytest.mark.parametrize("body", ["", "[]", '{"old": 1}', '{"new": {}}'])
def test_a_malformed_renewal_is_400(vapid, alice_push, body):
    answer = Client().post("/push/renew/", data=body, content_type="application/json")
    assert answer.status_code == 400 and "old" in answer.json()["message"]


def test_a_renewal_to_an_unusable_subscription_is_400_and_changes_nothing(vapid, browser, alice_push):
    answer = renew(browser.subscription(alice_push.address), {"endpoint": "http://x.invalid/", "keys": {}})
    assert answer.status_code == 400 and "keys.p256dh" in answer.json()["errors"]
    before = alice_push.secrets
    alice_push.refresh_from_db()
    assert alice_push.secrets == before


def test_acknowledging_from_the_lock_screen_stops_escalation(
        httpserver, vapid, browser, alice_push, committed, t21_key, clock, tick, smtp, people):
    httpserver.expect_request(CAPABILITY).respond_with_data("", status=201)
    answered = committed(make_incident, t21_key, summary="answered from the lock screen")
    control = committed(make_incident, t21_key, summary="never answered")
    [page] = [p.payload for p in received(httpserver, browser, vapid.public) if p.payload["incident"] == answered.pk]

    assert press(Client(), page["actions"][0]).status_code == 200
    clock.to(minutes=6)
    tick()

    # Step 2 (bob, by email, at +5) fires for the control only.
    [mail] = smtp.wait_for(1, timeout=5)
    assert mail.to == "bob@example.com" and f"#{control.pk}" in mail.subject
    assert not Notification.objects.filter(incident=answered, user=people["bob"]).exists()


def test_the_rest_api_does_not_make_push_methods_without_a_browser(vapid, alice_push, people, httpserver):
    client = api_client_for(people["alice"])
    made = client.post("/api/v1/contact-methods/", {"kind": "push", "address": httpserver.url_for("/x")},
                       format="json")
    assert made.status_code == 400 and "/push/" in made.json()["kind"][0]
    moved = client.patch(f"/api/v1/contact-methods/{alice_push.pk}/", {"address": httpserver.url_for("/y")},
                         format="json")
    assert moved.status_code == 400
    # Turning it off and on again is the person's own business.
    assert client.patch(f"/api/v1/contact-methods/{alice_push.pk}/", {"enabled": False}, format="json").status_code == 200
