"""T10: PostgreSQL down during ingest. Our own cluster (initdb into a temporary directory)
is stopped with `pg_ctl stop -m fast` under a real gunicorn: the door answers 503 with
Retry-After as JSON within 2 s, never a 2xx for an event it did not store, and serves
again once the database is back, without a gunicorn restart."""

from __future__ import annotations

import time
import uuid

import httpx
import pytest

from tests.reliability.load import fire_together

pytestmark = [pytest.mark.chaos, pytest.mark.timeout(120)]


def trigger(client: httpx.Client, raw_key: str, dedup_key: str) -> tuple[httpx.Response, float]:
    began = time.monotonic()
    response = client.post("/v2/enqueue", json={
        "routing_key": raw_key, "event_action": "trigger", "dedup_key": dedup_key,
        "payload": {"summary": "Replica lag over 30 s", "severity": "critical", "source": "pg02"},
    })
    return response, time.monotonic() - began


def assert_unavailable(response: httpx.Response, seconds: float) -> None:
    assert response.status_code == 503, response.text[:300]
    assert seconds <= 2.0
    assert response.headers["content-type"].startswith("application/json")
    assert 1 <= int(response.headers["Retry-After"]) <= 60
    body = response.json()
    assert set(body) >= {"status", "message", "errors"} and body["errors"]


def test_database_down_answers_503_with_retry_after_then_recovers_without_restart(outage):
    server, raw_key = outage.server, outage.raw_key
    run = uuid.uuid4().hex[:6]
    workers_before = server.worker_pids()
    with httpx.Client(base_url=server.base_url, timeout=10) as client:
        before, _ = trigger(client, raw_key, f"{run}-before")
        assert before.status_code == 202

        outage.cluster.stop()
        refused = []
        for i in range(6):
            response, seconds = trigger(client, raw_key, f"{run}-down-{i}")
            assert_unavailable(response, seconds)
            refused.append(seconds)
        # Both workers, with their pooled connections cut under them, answer the same way.
        together = fire_together(
            server.base_url, 8,
            lambda c, i: c.post("/v2/enqueue", json={
                "routing_key": raw_key, "event_action": "trigger", "dedup_key": f"{run}-burst-{i}",
                "payload": {"summary": "Replica lag", "severity": "critical", "source": "pg02"},
            }),
        )
        for answer in together:
            assert answer.status == 503 and answer.seconds <= 2.0 and "retry-after" in answer.headers
        refused += [a.seconds for a in together]
        # Liveness does not need the database.
        assert client.get("/healthz").status_code == 200

        outage.cluster.start()
        after, seconds_after = trigger(client, raw_key, f"{run}-after")
        assert after.status_code == 202, after.text[:300]
    print(f"\nT10 PostgreSQL down: {len(refused)} x 503, slowest {max(refused) * 1000:.0f} ms; "
          f"first request after restart 202 in {seconds_after * 1000:.0f} ms")
    assert server.worker_pids() == workers_before  # served again without restarting gunicorn
    stored = {dedup_key for dedup_key, _ in outage.stored_events(run)}
    assert stored == {f"{run}-before", f"{run}-after"}  # nothing answered 503 was stored
