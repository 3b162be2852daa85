"""T38: brute force on the sign-in form is locked out (django-axes), and nothing else is."""

import pytest
from axes.models import AccessAttempt
from django.test import Client

from incidents.models import Incident
from tests.factories import api_client_for, make_user

pytestmark = pytest.mark.django_db

GOOD = "correct horse battery"


def sign_in(client, username, password, **headers):
    return client.post("/login/", {"username": username, "password": password}, **headers)


def fail_until_locked(client, username="rita", **headers):
    """AXES_FAILURE_LIMIT is 3: two wrong passwords are answered, the third locks."""
    for _ in range(2):
        response = sign_in(client, username, "wrong", **headers)
        assert response.status_code == 200 and "did not match" in response.content.decode()
    assert sign_in(client, username, "wrong", **headers).status_code == 429


def test_three_wrong_passwords_lock_the_user_out_from_that_address(responder, settings):
    assert settings.AXES_FAILURE_LIMIT == 3
    client = Client(REMOTE_ADDR="203.0.113.7")
    fail_until_locked(client)
    response = sign_in(client, "rita", GOOD)
    assert response.status_code == 429
    assert "Too many failed sign-ins" in response.content.decode()
    assert client.get("/").status_code == 302  # still signed out


def test_a_forged_x_forwarded_for_does_not_reset_the_count(responder):
    client = Client(REMOTE_ADDR="203.0.113.7")
    fail_until_locked(client)
    forged = sign_in(client, "rita", GOOD, HTTP_X_FORWARDED_FOR="198.51.100.99")
    assert forged.status_code == 429
    attempt = AccessAttempt.objects.get(username="rita")
    assert attempt.ip_address == "203.0.113.7"


def test_the_admin_sign_in_is_locked_too(responder):
    client = Client(REMOTE_ADDR="203.0.113.7")
    fail_until_locked(client)
    response = client.post("/admin/login/", {"username": "rita", "password": GOOD})
    assert response.status_code == 429


def test_another_user_or_another_address_is_not_locked(responder, team):
    make_user("sam", team=team)
    attacker = Client(REMOTE_ADDR="203.0.113.7")
    fail_until_locked(attacker)
    assert sign_in(attacker, "sam", GOOD).status_code == 302
    assert sign_in(Client(REMOTE_ADDR="192.0.2.10"), "rita", GOOD).status_code == 302


def test_a_good_password_before_the_limit_resets_the_count(responder):
    client = Client(REMOTE_ADDR="203.0.113.7")
    for _ in range(2):
        sign_in(client, "rita", "wrong")
    assert sign_in(client, "rita", GOOD).status_code == 302
    client.post("/logout/")
    for _ in range(2):
        sign_in(client, "rita", "wrong")
    assert sign_in(client, "rita", GOOD).status_code == 302


def test_lockout_does_not_touch_ingest_doors_or_api_tokens(responder, raw_key):
    fail_until_locked(Client(REMOTE_ADDR="127.0.0.1"))
    door = Client(REMOTE_ADDR="127.0.0.1").post(
        "/v2/enqueue",
        {"routing_key": raw_key, "event_action": "trigger", "dedup_key": "x",
         "payload": {"summary": "still paged", "severity": "critical", "source": "t"}},
        content_type="application/json",
    )
    assert door.status_code == 202
    assert Incident.objects.filter(summary="still paged").exists()
    assert api_client_for(responder, REMOTE_ADDR="127.0.0.1").get("/api/v1/incidents/").status_code == 200
