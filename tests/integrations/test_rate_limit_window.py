"""The rate limit's own fixed window (integrations/ratelimit.py) and the doors' preflight
round trip when Redis is hung (RELIABILITY.md T08 in small): against the real Redis, and a
peer that accepts connections and never answers, like a SIGSTOPped Redis."""

from __future__ import annotations

import logging
import socket
import time

import pytest
from django_redis import get_redis_connection

from incidents.noise import flapping
from integrations import ratelimit

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def fresh_backoffs():
    flapping._skip_until = float("-inf")
    flapping._last_warning_at = float("-inf")
    ratelimit._last_warning[0] = 0.0
    yield
    flapping._skip_until = float("-inf")


@pytest.fixture
def silent_redis():
    """A TCP peer that never answers: every command waits for REDIS_SOCKET_TIMEOUT."""
    silent = socket.socket()
    silent.bind(("127.0.0.1", 0))
    silent.listen(64)
    yield f"redis://127.0.0.1:{silent.getsockname()[1]}/0"
    silent.close()


def trigger(api, raw_key, dedup_key="window"):
    return api.post("/v2/enqueue", {
        "routing_key": raw_key, "event_action": "trigger", "dedup_key": dedup_key,
        "payload": {"summary": "Queue depth over 10k", "severity": "warning", "source": "mq01"},
    }, format="json")


def test_the_window_starts_with_the_first_request_and_retry_after_is_what_is_left(api, raw_key, settings,
                                                                                   sender_ip):
    settings.INBOUND_RATE_LIMIT = "3/h"
    assert [trigger(api, raw_key).status_code for _ in range(3)] == [202] * 3
    refused = trigger(api, raw_key)
    assert refused.status_code == 429
    left = get_redis_connection("default").ttl(f"vigil:rate:inbound-ip:{sender_ip}")
    assert 3590 <= left <= 3600  # one hour from the first request, not from the top of the hour
    assert int(refused["Retry-After"]) in {left, left + 1}


def test_a_bucket_left_without_expiry_gets_one_and_never_refuses_forever(api, raw_key, settings, sender_ip):
    """INCR after the window ended between SET NX and INCR makes a bucket with no expiry."""
    settings.INBOUND_RATE_LIMIT = "5/m"
    bucket = f"vigil:rate:inbound-ip:{sender_ip}"
    get_redis_connection("default").set(bucket, 99)  # as that race leaves it
    refused = trigger(api, raw_key)
    assert refused.status_code == 429 and int(refused["Retry-After"]) == 60
    assert 0 < get_redis_connection("default").ttl(bucket) <= 60


def test_a_hung_redis_costs_one_socket_timeout_for_the_whole_preflight_then_is_skipped(
    api, raw_key, settings, silent_redis, caplog
):
    """The cache's Redis and the flapping Redis are one server: one pipeline, one timeout,
    and both fail open (no limit, no flapping detection, the key memory's second)."""
    assert trigger(api, raw_key, "warm-up").status_code == 202  # Django's first request, with Redis
    settings.INBOUND_RATE_LIMIT = "1/m"
    settings.REDIS_SOCKET_TIMEOUT = 1.0  # long enough to tell one timeout from two on a busy machine
    settings.CACHES = {"default": {**settings.CACHES["default"], "LOCATION": silent_redis}}
    settings.FLAPPING_REDIS_URL = silent_redis
    caplog.set_level(logging.WARNING)
    started = time.monotonic()
    first = trigger(api, raw_key, "hung-0")
    first_took = time.monotonic() - started
    started = time.monotonic()
    rest = [trigger(api, raw_key, f"hung-{n}").status_code for n in range(1, 6)]
    rest_took = time.monotonic() - started
    print(f"\nhung Redis: first request {first_took * 1000:.0f} ms, the next five {rest_took * 1000:.0f} ms")
    assert first.status_code == 202 and rest == [202] * 5  # over "1/m", and nothing refused
    waited = first_took - rest_took / 5  # the first request's time beyond an ordinary one's
    assert 1.0 <= waited < 1.8  # one socket timeout for the key generation, counters and flapping read
    assert rest_took < 1.0  # skipped during the back-off, not one timeout each
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert any("rate limiter unavailable" in w for w in warnings)
    assert any("without flapping detection" in w for w in warnings)
