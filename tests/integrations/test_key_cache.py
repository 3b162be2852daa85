"""The doors remember an active key for at most a second per process (integrations/key_cache.py):
revoking it in this process stops it at once; a revocation this process did not see (another
gunicorn worker's) stops it within the second. Unknown and revoked keys are never remembered."""

from __future__ import annotations

import time

import pytest

from integrations import key_cache
from integrations.models import IntegrationKey

pytestmark = pytest.mark.django_db


def trigger(raw_key, dedup_key="cache"):
    return {"routing_key": raw_key, "event_action": "trigger", "dedup_key": dedup_key,
            "payload": {"summary": "Disk full on srv01", "severity": "critical", "source": "pytest"}}


def test_a_remembered_key_costs_no_lookup_query(api, raw_key, django_assert_num_queries):
    api.post("/v2/enqueue", trigger(raw_key, "warm-up"), format="json")
    with django_assert_num_queries(0):
        found = key_cache.authenticate(raw_key)
    assert found is not None and found.key_digest


def test_revoking_in_this_process_stops_the_key_at_once(api, key, raw_key):
    assert api.post("/v2/enqueue", trigger(raw_key), format="json").status_code == 202
    key.revoke()
    assert api.post("/v2/enqueue", trigger(raw_key), format="json").status_code == 400  # "Invalid routing key"


def test_a_revocation_made_elsewhere_takes_effect_within_the_ttl(api, key, raw_key):
    assert api.post("/v2/enqueue", trigger(raw_key), format="json").status_code == 202
    # As another process revokes it: a plain UPDATE, no signal reaches this process.
    IntegrationKey.objects.filter(pk=key.pk).update(revoked_at=key.created_at)
    time.sleep(key_cache.TTL_SECONDS + 0.05)
    assert api.post("/v2/enqueue", trigger(raw_key), format="json").status_code == 400  # "Invalid routing key"


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
