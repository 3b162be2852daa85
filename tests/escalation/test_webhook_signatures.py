"""Outgoing webhooks are signed per Standard Webhooks (RELIABILITY T54): a receiving
loopback server (pytest-httpserver) checks every request with the `standardwebhooks`
package's own `Webhook(secret).verify`, as a receiver would, and answers 401 when it fails."""

import json

import pytest
from standardwebhooks.webhooks import Webhook, WebhookVerificationError
from werkzeug import Response

from escalation.models import ContactMethod, Notification
from tests.factories import make_incident

pytestmark = pytest.mark.django_db

HEADERS = ("webhook-id", "webhook-timestamp", "webhook-signature")


@pytest.fixture(autouse=True)
def private_webhooks_allowed(settings):
    settings.ESCALATION_WEBHOOK_ALLOW_PRIVATE = True  # pytest-httpserver listens on 127.0.0.1


def verifying_receiver(httpserver, path: str, secret: str, *, fail_first: int = 0):
    """A receiver that verifies each request and records the verdict; the first
    `fail_first` valid requests get a 503 (so Vigil retries)."""
    verdicts = []

    def handle(request):
        try:
            Webhook(secret).verify(request.get_data(), dict(request.headers))
        except WebhookVerificationError as exc:
            verdicts.append(f"refused: {exc}")
            return Response(str(exc), status=401)
        verdicts.append("valid")
        if verdicts.count("valid") <= fail_first:
            return Response("busy", status=503)
        return Response("ok")

    httpserver.expect_request(path, method="POST").respond_with_handler(handle)
    return verdicts


def verify(secret: str, data: bytes, headers) -> None:
    Webhook(secret).verify(data, dict(headers.items()))


def webhook_through_api(api, user, url: str, **fields) -> tuple[ContactMethod, str]:
    """Made as a person scripts it (REST); the answer shows the signing secret once."""
    api.force_authenticate(user)
    answer = api.post("/api/v1/contact-methods/", {"kind": "webhook", "address": url, **fields}, format="json")
    assert answer.status_code == 201, answer.json()
    secret = answer.json()["signing_secret"]
    assert secret.startswith("whsec_")
    ContactMethod.objects.filter(user=user).exclude(pk=answer.json()["id"]).delete()
    return ContactMethod.objects.get(pk=answer.json()["id"]), secret


def test_t54_a_page_is_signed_and_verifies_with_the_standardwebhooks_package(
    httpserver, api, committed, t21_key, people
):
    method, secret = webhook_through_api(api, people["alice"], httpserver.url_for("/hooks/alice"))
    verdicts = verifying_receiver(httpserver, "/hooks/alice", secret)
    incident = committed(make_incident, t21_key, summary="API 5xx spike")

    assert verdicts == ["valid"]
    [(request, _response)] = httpserver.log
    assert all(request.headers.get(name) for name in HEADERS)
    assert request.headers["webhook-signature"].startswith("v1,")
    # The Idempotency-Key stays, and it is the Standard Webhooks message id too.
    assert request.headers["Idempotency-Key"] == request.headers["webhook-id"]
    assert json.loads(request.get_data())["incident"]["id"] == incident.pk
    assert Notification.objects.get(incident=incident).status == "sent"
    # Shown once: no later answer carries it.
    listed = api.get(f"/api/v1/contact-methods/{method.pk}/").json()
    assert "signing_secret" not in listed and secret not in json.dumps(listed)


def test_t54_a_changed_body_or_another_secret_fails_verification(httpserver, api, committed, t21_key, people):
    _method, secret = webhook_through_api(api, people["alice"], httpserver.url_for("/hooks/alice"))
    verifying_receiver(httpserver, "/hooks/alice", secret)
    committed(make_incident, t21_key, summary="disk full")
    [(request, _response)] = httpserver.log
    body = request.get_data()

    verify(secret, body, request.headers)  # as sent: valid
    changed = body.replace(b"disk full", b"all good ")
    with pytest.raises(WebhookVerificationError, match="No matching signature"):
        verify(secret, changed, request.headers)
    with pytest.raises(WebhookVerificationError, match="No matching signature"):
        verify("whsec_" + "A" * 43, body, request.headers)
    with pytest.raises(WebhookVerificationError, match="Missing required headers"):
        verify(secret, body, {k: v for k, v in request.headers.items() if k.lower() != "webhook-signature"})


def test_t54_a_request_replayed_later_fails_on_its_old_timestamp(httpserver, api, committed, clock, t21_key, people):
    _method, secret = webhook_through_api(api, people["alice"], httpserver.url_for("/hooks/alice"))
    verifying_receiver(httpserver, "/hooks/alice", secret)
    committed(make_incident, t21_key)
    [(request, _response)] = httpserver.log
    verify(secret, request.get_data(), request.headers)

    clock.advance(seconds=6 * 60)  # past the package's five-minute tolerance
    with pytest.raises(WebhookVerificationError, match="timestamp too old"):
        verify(secret, request.get_data(), request.headers)


def test_t54_a_retry_keeps_its_webhook_id_and_idempotency_key(
    httpserver, api, clock, tick, committed, t21_key, people, settings
):
    _method, secret = webhook_through_api(api, people["alice"], httpserver.url_for("/hooks/alice"))
    verdicts = verifying_receiver(httpserver, "/hooks/alice", secret, fail_first=1)
    incident = committed(make_incident, t21_key)
    page = Notification.objects.get(incident=incident)
    assert (page.status, page.attempts) == ("pending", 1)

    clock.advance(seconds=settings.NOTIFICATION_RESEND_GRACE_SECONDS + 1)
    tick()
    page.refresh_from_db()
    assert (page.status, page.attempts) == ("sent", 2)
    assert verdicts == ["valid", "valid"]  # each attempt is signed afresh, with its own timestamp
    first, second = (request.headers for request, _response in httpserver.log)
    assert first["webhook-id"] == second["webhook-id"] == first["Idempotency-Key"] == second["Idempotency-Key"]
    assert int(second["webhook-timestamp"]) > int(first["webhook-timestamp"])


def test_t54_slack_format_bodies_are_signed_too(httpserver, api, committed, t21_key, people):
    _method, secret = webhook_through_api(api, people["alice"], httpserver.url_for("/slack"), slack_format=True)
    verdicts = verifying_receiver(httpserver, "/slack", secret)
    committed(make_incident, t21_key)
    assert verdicts == ["valid"]
    [(request, _response)] = httpserver.log
    assert list(json.loads(request.get_data())) == ["text"]


def test_a_rotated_secret_signs_the_next_page_and_the_old_one_no_longer_verifies(
    httpserver, api, committed, t21_key, people
):
    method, old_secret = webhook_through_api(api, people["alice"], httpserver.url_for("/hooks/alice"))
    answer = api.post(f"/api/v1/contact-methods/{method.pk}/rotate-signing-secret/")
    assert answer.status_code == 200
    new_secret = answer.json()["signing_secret"]
    assert new_secret.startswith("whsec_") and new_secret != old_secret

    verdicts = verifying_receiver(httpserver, "/hooks/alice", new_secret)
    committed(make_incident, t21_key)
    assert verdicts == ["valid"]
    [(request, _response)] = httpserver.log
    with pytest.raises(WebhookVerificationError):
        verify(old_secret, request.get_data(), request.headers)


def test_only_a_webhook_has_a_signing_secret_to_rotate(api, people):
    email = ContactMethod.objects.get(user=people["alice"], kind="email")
    api.force_authenticate(people["alice"])
    answer = api.post(f"/api/v1/contact-methods/{email.pk}/rotate-signing-secret/")
    assert answer.status_code == 400 and "webhook" in answer.json()["kind"][0]
    api.force_authenticate(people["bob"])  # another person's method is not theirs to rotate
    assert api.post(f"/api/v1/contact-methods/{email.pk}/rotate-signing-secret/").status_code == 404


def test_the_profile_page_shows_a_new_webhooks_secret_once_and_its_test_message_is_signed(
    httpserver, client_of, people
):
    received = []

    def handle(request):
        received.append(request)
        return Response("ok")

    httpserver.expect_request("/hooks/me", method="POST").respond_with_handler(handle)
    web = client_of(people["alice"])
    added = web.post("/profile/methods/new/", {"kind": "webhook", "address": httpserver.url_for("/hooks/me")})
    assert added.status_code == 200 and "no-store" in added["Cache-Control"]
    method = ContactMethod.objects.get(user=people["alice"], kind="webhook")
    assert method.signing_secret in added.content.decode()
    assert method.signing_secret not in web.get("/profile/").content.decode()
    # The verification code went out signed with that secret.
    [request] = received
    verify(method.signing_secret, request.get_data(), request.headers)
    assert request.headers["webhook-id"].startswith("msg_")

    rotated = web.post(f"/profile/methods/{method.pk}/rotate-secret/")
    method.refresh_from_db()
    assert rotated.status_code == 200 and method.signing_secret in rotated.content.decode()
    assert client_of(people["bob"]).post(f"/profile/methods/{method.pk}/rotate-secret/").status_code == 404
