"""T14 (lite): the inbound rate limit against the real Redis, as API.md words it.

Time is frozen so a test never straddles two rate windows; each test starts from an empty
Redis database (ours alone: REDIS_URL's database number)."""

from __future__ import annotations

import time

import pytest
from django_redis import get_redis_connection

from tests.factories import make_key

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def empty_buckets(time_machine):
    time_machine.move_to(time.time(), tick=False)
    get_redis_connection("default").flushdb()
    yield
    get_redis_connection("default").flushdb()


def trigger(raw_key, dedup_key="rate"):
    return {
        "routing_key": raw_key, "event_action": "trigger", "dedup_key": dedup_key,
        "payload": {"summary": "Queue depth over 10k", "severity": "warning", "source": "mq01"},
    }


def post(api, raw_key, body=None, **extra):
    return api.post("/v2/enqueue", body or trigger(raw_key), format="json", **extra)


def test_request_121_in_a_minute_is_429_with_json_and_retry_after(api, raw_key, settings):
    settings.INBOUND_RATE_LIMIT = "120/m"
    statuses = [post(api, raw_key).status_code for _ in range(120)]
    assert statuses == [202] * 120
    refused = post(api, raw_key)
    assert refused.status_code == 429
    assert refused["Content-Type"].startswith("application/json")
    body = refused.json()
    assert set(body) >= {"status", "message", "errors"} and body["errors"]
    assert 1 <= int(refused["Retry-After"]) <= 60
    # Closing a page is never refused, and another sender is not affected.
    for action in ("acknowledge", "resolve"):
        closing = post(api, raw_key, {"routing_key": raw_key, "event_action": action, "dedup_key": "rate"})
        assert closing.status_code == 202
    assert post(api, raw_key, REMOTE_ADDR="127.0.0.2").status_code == 202


def test_forged_forwarded_for_does_not_reset_the_bucket_without_trusted_proxies(api, raw_key, settings):
    settings.INBOUND_RATE_LIMIT = "5/m"
    assert [post(api, raw_key).status_code for _ in range(5)] == [202] * 5
    forged = [post(api, raw_key, HTTP_X_FORWARDED_FOR=f"1.2.3.{n}").status_code for n in range(5)]
    assert forged == [429] * 5


def test_forwarded_for_is_believed_from_a_trusted_proxy(api, raw_key, settings):
    settings.INBOUND_RATE_LIMIT = "5/m"
    settings.INBOUND_TRUSTED_PROXIES = ["127.0.0.1/32"]
    via_proxy = [post(api, raw_key, HTTP_X_FORWARDED_FOR="203.0.113.7").status_code for _ in range(6)]
    assert via_proxy == [202] * 5 + [429]
    # Another client behind the same proxy has its own bucket.
    assert post(api, raw_key, HTTP_X_FORWARDED_FOR="203.0.113.8").status_code == 202
    # The right-most untrusted address counts: a client cannot prepend its way out.
    spoofed = post(api, raw_key, HTTP_X_FORWARDED_FOR="198.51.100.1, 203.0.113.7")
    assert spoofed.status_code == 429


def test_exempt_senders_are_never_limited(api, raw_key, settings):
    settings.INBOUND_RATE_LIMIT = "5/m"
    settings.INBOUND_RATE_LIMIT_EXEMPT = ["127.0.0.0/8"]
    assert [post(api, raw_key).status_code for _ in range(10)] == [202] * 10
    # A sender outside the exempt list is still limited.
    outsider = [post(api, raw_key, REMOTE_ADDR="192.0.2.10").status_code for _ in range(6)]
    assert outsider == [202] * 5 + [429]


def test_the_per_key_limit_counts_each_key_separately(api, raw_key, key, settings):
    settings.INBOUND_RATE_LIMIT = "1000/m"
    settings.INBOUND_RATE_LIMIT_PER_KEY = "5/m"
    _other, other_raw = make_key(team=key.team)
    assert [post(api, raw_key).status_code for _ in range(6)] == [202] * 5 + [429]
    assert post(api, other_raw).status_code == 202
