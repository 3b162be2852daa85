"""The doors remember an active key for at most a second per process (integrations/key_cache.py).
Revoking it in this process stops it at once; so does a revocation in another process, which
moves the key generation in Redis that every door request reads in its preflight (the two-process
test: tests/reliability/test_key_revocation_across_processes.py). Without Redis, a revocation
this process did not see stops the key within the second. Unknown and revoked keys are never
remembered. The memory's clock is the wall clock, moved here with time-machine."""

from __future__ import annotations

import time

import pytest
import redis
from django.utils import timezone

from integrations import key_cache
from integrations.models import IntegrationKey

pytestmark = pytest.mark.django_db


@pytest.fixture
def clock(time_machine):
    time_machine.move_to(time.time(), tick=False)
    return time_machine


def trigger(raw_key, dedup_key="cache"):
    return {"routing_key": raw_key, "event_action": "trigger", "dedup_key": dedup_key,
            "payload": {"summary": "Disk full on srv01", "severity": "critical", "source": "pytest"}}


def revoke_elsewhere(key) -> None:
    """As another process revokes it, as far as this process can tell: a plain UPDATE, so no
    signal reaches this process's memory."""
    IntegrationKey.objects.filter(pk=key.pk).update(revoked_at=timezone.now())


def announce_elsewhere(settings) -> None:
    """What that other process does once its revocation is committed."""
    redis.Redis.from_url(settings.REDIS_URL).incr(key_cache.GENERATION_KEY)


def test_a_remembered_key_costs_no_lookup_query(api, raw_key, django_assert_num_queries):
    api.post("/v2/enqueue", trigger(raw_key, "warm-up"), format="json")
    with django_assert_num_queries(0):
        found = key_cache.authenticate(raw_key)
    assert found is not None and found.key_digest


def test_revoking_in_this_process_stops_the_key_at_once(api, key, raw_key, clock):
    assert api.post("/v2/enqueue", trigger(raw_key), format="json").status_code == 202
    key.revoke()
    assert api.post("/v2/enqueue", trigger(raw_key), format="json").status_code == 400  # "Invalid routing key"


def test_a_revocation_announced_elsewhere_stops_the_key_on_the_next_request(api, key, raw_key, clock, settings):
    assert api.post("/v2/enqueue", trigger(raw_key), format="json").status_code == 202
    revoke_elsewhere(key)
    announce_elsewhere(settings)
    refused = api.post("/v2/enqueue", trigger(raw_key), format="json")  # the clock has not moved
    assert (refused.status_code, refused.json()["errors"]) == (400, ["Invalid routing key"])


def test_a_change_unannounced_is_seen_within_the_ttl(api, key, raw_key, clock):
    """A revocation whose announcement was lost (Redis failed just then): the memory's
    second is the bound."""
    assert api.post("/v2/enqueue", trigger(raw_key), format="json").status_code == 202
    revoke_elsewhere(key)
    clock.shift(key_cache.TTL_SECONDS - 0.05)
    assert api.post("/v2/enqueue", trigger(raw_key), format="json").status_code == 202  # remembered
    clock.shift(0.1)
    assert api.post("/v2/enqueue", trigger(raw_key), format="json").status_code == 400


def test_without_redis_a_revocation_elsewhere_takes_effect_within_the_ttl(api, key, raw_key, clock, settings):
    settings.CACHES = {"default": {**settings.CACHES["default"], "LOCATION": "redis://127.0.0.1:1/0"}}
    assert api.post("/v2/enqueue", trigger(raw_key), format="json").status_code == 202
    revoke_elsewhere(key)
    announce_elsewhere(settings)  # in a Redis this process cannot reach
    assert api.post("/v2/enqueue", trigger(raw_key), format="json").status_code == 202  # remembered
    clock.shift(key_cache.TTL_SECONDS)
    assert api.post("/v2/enqueue", trigger(raw_key), format="json").status_code == 400


def test_a_clock_set_back_forgets_rather_than_remembers(key, raw_key, clock):
    assert key_cache.authenticate(raw_key) is not None
    revoke_elsewhere(key)
    clock.shift(-60)
    assert key_cache.authenticate(raw_key) is None


def test_another_key_changed_elsewhere_costs_one_lookup_and_nothing_else(
    api, raw_key, clock, settings, django_assert_num_queries
):
    assert api.post("/v2/enqueue", trigger(raw_key, "first"), format="json").status_code == 202
    announce_elsewhere(settings)  # some other key changed
    found = key_cache.lookup(raw_key)
    with django_assert_num_queries(1):
        again = key_cache.confirm(found, found.generation + 1)
    assert again.key is not None and again.generation == found.generation + 1
    with django_assert_num_queries(0):
        assert key_cache.confirm(key_cache.lookup(raw_key), again.generation).key is not None


def test_unknown_and_revoked_keys_are_not_remembered(key, raw_key):
    assert key_cache.authenticate("ik_NotAKeyOfOursAtAll00000000") is None
    key.revoke()
    assert key_cache.authenticate(raw_key) is None
    IntegrationKey.objects.filter(pk=key.pk).update(revoked_at=None)  # bypasses the signal
    assert key_cache.authenticate(raw_key) is not None  # asked the database, not a memory


def test_each_caller_gets_its_own_copy(raw_key):
    first = key_cache.authenticate(raw_key)
    first.name = "changed by one request"
    assert key_cache.authenticate(raw_key).name != "changed by one request"
