"""T11: slow database. A second session holds `LOCK TABLE ... IN ACCESS EXCLUSIVE MODE` on
the incident and alert tables (a long migration, a VACUUM FULL) under a real gunicorn whose
statement timeout is 1 s: the door answers 503 with Retry-After as JSON once the timeout
fires, never waits on the lock forever; /healthz, which needs no database, answers at once;
and the first events after the lock is released are accepted (202) without a restart."""

from __future__ import annotations

import threading
import time
import uuid

import httpx
import pytest

from incidents.models import Event
from tests.reliability.harness import Gunicorn, django_env, tables_locked
from tests.reliability.load import fire_together

pytestmark = [pytest.mark.chaos, pytest.mark.django_db(transaction=True), pytest.mark.timeout(90)]

STATEMENT_TIMEOUT_MS = 1000
LOCKED_TABLES = ("incidents_incident", "incidents_alert")


@pytest.fixture
def slow_db_server(live_database_url, redis_child, reliability_dir):
    """A gunicorn on the test database with a 1 s statement timeout; 8 threads per worker,
    so requests stuck on the lock never leave /healthz waiting for a thread."""
    env = django_env(database_url=live_database_url, redis_url=redis_child.url(2),
                     DATABASE_STATEMENT_TIMEOUT_MS=str(STATEMENT_TIMEOUT_MS))
    server = Gunicorn(env, reliability_dir / "gunicorn-slow-db.log", workers=2, threads=8).start()
    yield server
    server.stop()


def trigger(client: httpx.Client, raw_key: str, dedup_key: str) -> tuple[httpx.Response, float]:
    began = time.monotonic()
    response = client.post("/v2/enqueue", json={
        "routing_key": raw_key, "event_action": "trigger", "dedup_key": dedup_key,
        "payload": {"summary": "Checkout latency p99 over 2 s", "severity": "error", "source": "web03"},
    })
    return response, time.monotonic() - began


def assert_timed_out_unavailable(status: int, headers, body: dict | None, seconds: float) -> None:
    assert status == 503, body
    # It waited for the statement timeout (the lock really blocked it), and not much longer.
    assert STATEMENT_TIMEOUT_MS / 1000 * 0.9 <= seconds <= STATEMENT_TIMEOUT_MS / 1000 + 2.5
    assert headers["content-type"].startswith("application/json")
    assert 1 <= int(headers["retry-after"]) <= 60
    assert set(body) >= {"status", "message", "errors"} and body["errors"]


def test_locked_tables_answer_503_at_the_statement_timeout_and_recover_on_release(slow_db_server, live_key):
    _key, raw_key = live_key
    run = uuid.uuid4().hex[:8]
    began = time.monotonic()
    with httpx.Client(base_url=slow_db_server.base_url, timeout=10) as client:
        before, _ = trigger(client, raw_key, f"{run}-before")
        assert before.status_code == 202, before.text[:300]

        with tables_locked(slow_db_server.env["DATABASE_URL"], *LOCKED_TABLES):
            refused = []
            for i in range(3):
                response, seconds = trigger(client, raw_key, f"{run}-locked-{i}")
                assert_timed_out_unavailable(response.status_code, response.headers, response.json(), seconds)
                refused.append(seconds)

            # Six triggers at once on both workers, and /healthz asked while they wait.
            burst: list = []
            racing = threading.Thread(target=lambda: burst.extend(fire_together(
                slow_db_server.base_url, 6,
                lambda c, i: trigger(c, raw_key, f"{run}-burst-{i}")[0],
            )))
            racing.start()
            time.sleep(0.3)
            health_began = time.monotonic()
            health = client.get("/healthz")
            health_seconds = time.monotonic() - health_began
            racing.join(timeout=15)
            assert not racing.is_alive(), "the burst did not finish"
            assert health.status_code == 200 and health_seconds < 1.0
            assert len(burst) == 6
            for answer in burst:
                assert_timed_out_unavailable(answer.status, answer.headers, answer.body, answer.seconds)
            refused += [answer.seconds for answer in burst]

        released = time.monotonic()
        after = [trigger(client, raw_key, f"{run}-after-{i}") for i in range(5)]
        recovered = time.monotonic() - released
    total = time.monotonic() - began
    print(f"\nT11 slow database: {len(refused)} x 503 at the {STATEMENT_TIMEOUT_MS} ms statement timeout "
          f"({min(refused) * 1000:.0f}-{max(refused) * 1000:.0f} ms); /healthz {health_seconds * 1000:.0f} ms "
          f"under the lock; after release 5 x 202 in {recovered * 1000:.0f} ms "
          f"(slowest {max(s for _, s in after) * 1000:.0f} ms); whole test {total:.1f} s")

    assert [response.status_code for response, _ in after] == [202] * 5
    assert max(seconds for _, seconds in after) < 1.0
    assert total < 40
    # Nothing answered 503 was stored; everything answered 202 was.
    stored = set(Event.objects.filter(dedup_key__startswith=run).values_list("dedup_key", flat=True))
    assert stored == {f"{run}-before"} | {f"{run}-after-{i}" for i in range(5)}
