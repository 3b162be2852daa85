"""The hot path does a small, fixed number of queries (measured, then pinned here).

Measured (in a test transaction, where `atomic` blocks are savepoints; in production the
outer SAVEPOINT/RELEASE pair is the transaction's BEGIN/COMMIT and is not counted):
new trigger 4 = savepoint, one statement that finds no open alert to count and reads the
maintenance window (decided before the insert), one statement that inserts the incident, its
alert and the event-log line, release;
repeat trigger 3 = savepoint, the same first statement, which counts the open alert, updates
its incident and logs the event, release. The key was looked up by the warm-up request and is
remembered for a second (integrations/key_cache.py); `last_used_at` is written at most once
a minute per key. Both are outside these counts. Anything added to the hot path shows up
here first. (Before issue 15: 10 and 7; after stop 17: 8 and 4.)"""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.django_db

NEW_TRIGGER_QUERIES = 4
REPEAT_TRIGGER_QUERIES = 3


def trigger(raw_key, dedup_key):
    return {
        "routing_key": raw_key, "event_action": "trigger", "dedup_key": dedup_key,
        "payload": {"summary": "Disk usage > 90% on srv01", "severity": "critical", "source": "prometheus"},
    }


def test_a_new_trigger_stays_within_its_query_budget(api, raw_key, django_assert_num_queries):
    api.post("/v2/enqueue", trigger(raw_key, "warm-up"), format="json")  # last_used_at set
    with django_assert_num_queries(NEW_TRIGGER_QUERIES):
        response = api.post("/v2/enqueue", trigger(raw_key, "fresh"), format="json")
    assert response.status_code == 202


def test_a_repeat_trigger_stays_within_its_query_budget(api, raw_key, django_assert_num_queries):
    api.post("/v2/enqueue", trigger(raw_key, "repeat"), format="json")
    with django_assert_num_queries(REPEAT_TRIGGER_QUERIES):
        response = api.post("/v2/enqueue", trigger(raw_key, "repeat"), format="json")
    assert response.status_code == 202
