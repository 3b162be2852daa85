"""T51: heartbeats and closes are never refused; key guessing is.

A sender past its per-IP limit still gets its heartbeat, acknowledge and resolve through
(a refused heartbeat pages someone for nothing). A client sending random keys is counted
per address in Redis and answered 429 past INBOUND_FAILED_AUTH_LIMIT, while valid keys,
from another address or from its own, are unaffected. Against our real Redis database,
emptied around each test."""

from __future__ import annotations

import secrets
import time
from collections import Counter

import pytest
from django_redis import get_redis_connection

from incidents.models import Event, Incident
from integrations import keys
from tests.factories import make_key

pytestmark = pytest.mark.django_db

GUESSER = "198.51.100.66"
NEIGHBOUR = "203.0.113.9"


@pytest.fixture(autouse=True)
def empty_buckets(time_machine):
    time_machine.move_to(time.time(), tick=False)  # one rate window for the whole test
    get_redis_connection("default").flushdb()
    yield
    get_redis_connection("default").flushdb()


def enqueue(api, raw_key, action="trigger", ip="127.0.0.1", dedup_key="disk"):
    body = {"routing_key": raw_key, "event_action": action, "dedup_key": dedup_key}
    if action == "trigger":
        body["payload"] = {"summary": "Disk full on srv01", "severity": "critical", "source": "srv01"}
    return api.post("/v2/enqueue", body, format="json", REMOTE_ADDR=ip)


def guess(api, n: int):
    """One random key, at the three places a key can be: body, path and header."""
    raw = "ik_" + secrets.token_urlsafe(24)
    if n % 3 == 0:
        return enqueue(api, raw, ip=GUESSER)
    if n % 3 == 1:
        return api.get(f"/api/heartbeat/{raw}", REMOTE_ADDR=GUESSER)
    return api.post("/api/webhook/ingest", {"summary": "x", "severity": "high"}, format="json",
                    HTTP_AUTHORIZATION=f"Bearer {raw}", REMOTE_ADDR=GUESSER)


def test_a_sender_over_its_limit_still_beats_acknowledges_and_resolves(api, raw_key, settings):
    """T51, first half."""
    settings.INBOUND_RATE_LIMIT = "5/m"
    assert [enqueue(api, raw_key, dedup_key=f"d{n}").status_code for n in range(5)] == [202] * 5
    assert enqueue(api, raw_key, dedup_key="d5").status_code == 429  # over its limit
    beat = api.get(f"/api/heartbeat/{raw_key}")
    assert (beat.status_code, beat.json()["message"]) == (200, "PONG")
    assert api.head(f"/api/heartbeat/{raw_key}").status_code == 200
    assert api.post(f"/api/heartbeat/{raw_key}").status_code == 200
    assert enqueue(api, raw_key, "acknowledge", dedup_key="d0").status_code == 202
    assert enqueue(api, raw_key, "resolve", dedup_key="d1").status_code == 202
    assert Event.objects.filter(action="heartbeat").count() == 3
    assert Incident.objects.get(alerts__dedup_key="d0").status == "acknowledged"
    assert Incident.objects.get(alerts__dedup_key="d1").status == "resolved"


def test_a_key_guessing_client_gets_429_past_the_failed_auth_limit(api, key, raw_key, settings):
    """T51, second half: 1,000 random keys from one address."""
    settings.INBOUND_FAILED_AUTH_LIMIT = "30/m"
    events_before = Event.objects.count()
    answers = [guess(api, n) for n in range(1000)]
    statuses = [a.status_code for a in answers]
    print(f"\nT51: 1,000 random keys from one address: {dict(Counter(statuses))}")
    # The first 30 failures get their door's own answer (400 on the PagerDuty paths, 401
    # elsewhere); every one after is 429 with Retry-After and the doors' error body.
    assert all(s in (400, 401) for s in statuses[:30])
    assert statuses[30:] == [429] * 970
    refused = answers[-1]
    assert 1 <= int(refused["Retry-After"]) <= 60
    assert refused.json()["status"] == "throttle event" and refused.json()["errors"]
    assert Event.objects.count() == events_before  # nothing written for a guess

    # A valid key from another address is unaffected, trigger included.
    assert enqueue(api, raw_key, ip=NEIGHBOUR).status_code == 202
    # So is a valid key from the guessing address itself: heartbeat, acknowledge, resolve.
    assert api.get(f"/api/heartbeat/{raw_key}", REMOTE_ADDR=GUESSER).status_code == 200
    assert enqueue(api, raw_key, "acknowledge", ip=GUESSER).status_code == 202
    assert enqueue(api, raw_key, "resolve", ip=GUESSER).status_code == 202
    # And its trigger: the failed-auth limit refuses only keys that fail; a valid sender
    # behind the guesser's NAT (or one still using a revoked key) must not lose its alerts.
    assert enqueue(api, raw_key, ip=GUESSER, dedup_key="after").status_code == 202
    # Still refused: the next guess.
    assert guess(api, 0).status_code == 429


def test_a_wrong_second_credential_counts_as_a_failed_authentication(api, settings):
    settings.INBOUND_FAILED_AUTH_LIMIT = "3/m"
    key, raw_key = make_key(name="pagertree")
    key.pagertree_token_digest = keys.digest("right-token")
    key.save(update_fields=["pagertree_token_digest"])
    body = {"event_type": "create", "Id": "chk-1", "Title": "Site down"}
    wrong = [api.post(f"/integration/{raw_key}", body, format="json", HTTP_PAGERTREE_TOKEN="wrong",
                      REMOTE_ADDR=GUESSER).status_code for _ in range(4)]
    assert wrong == [401, 401, 401, 429]


def test_exempt_senders_are_not_counted(api, settings):
    settings.INBOUND_FAILED_AUTH_LIMIT = "3/m"
    settings.INBOUND_RATE_LIMIT_EXEMPT = ["198.51.100.0/24"]
    assert {guess(api, 1).status_code for _ in range(10)} == {401}


def test_the_failed_auth_limit_fails_open_without_redis(api, settings):
    settings.INBOUND_FAILED_AUTH_LIMIT = "3/m"
    dead = {**settings.CACHES["default"], "LOCATION": "redis://127.0.0.1:1/0"}
    settings.CACHES = {"default": dead}
    started = time.perf_counter()
    assert {guess(api, 1).status_code for _ in range(10)} == {401}
    assert time.perf_counter() - started < 5


def test_off_when_the_setting_is_empty(api, settings):
    settings.INBOUND_FAILED_AUTH_LIMIT = ""
    assert {guess(api, 1).status_code for _ in range(40)} == {401}
