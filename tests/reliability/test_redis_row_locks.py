"""T53: a hung Redis never lengthens a row lock.

Flapping detection asks Redis about every trigger and resolve. With our own redis-server
SIGSTOPped, one request on dedup key K waits on Redis for a whole socket timeout; a second
trigger on K (and an acknowledge of K), from other threads, must not wait for it on a
database lock. Each of their sessions runs with a `lock_timeout` well under the Redis
timeout: had the first request held the alert's row (or its not yet committed insert) while
waiting on Redis, they would fail with a lock timeout instead of answering."""

from __future__ import annotations

import threading
import time

import pytest
from django.db import connection

from incidents.models import Incident
from incidents.noise import flapping
from incidents.pipeline import Outcome, apply_event
from integrations.formats.base import NormalizedEvent
from tests.factories import make_key, make_team

pytestmark = [pytest.mark.chaos, pytest.mark.timeout(60), pytest.mark.django_db(transaction=True)]

# Long enough that a lock held across one Redis wait cannot hide inside the margins below.
REDIS_TIMEOUT = 1.5
# The second request's longest allowed wait on any database lock.
LOCK_WAIT_MS = 300
# The first request is waiting on Redis by then (it asks before anything else it does).
FIRST_IS_WAITING_AFTER = 0.4
FLAPPING_REDIS_DB = 2


def event(action: str, dedup_key: str) -> NormalizedEvent:
    fields = {"summary": "Disk usage > 90% on srv01", "severity": "critical"} if action == "trigger" else {}
    return NormalizedEvent(action=action, dedup_key=dedup_key, raw={"event_action": action}, **fields)


class Request(threading.Thread):
    """One `apply_event` on its own thread and database session, timed."""

    def __init__(self, key, action: str, dedup_key: str, *, lock_timeout_ms: int | None = None):
        super().__init__(daemon=True)
        self.key, self.event, self.lock_timeout_ms = key, event(action, dedup_key), lock_timeout_ms
        self.backend_pid: int | None = None
        self.connected = threading.Event()
        self.outcome: Outcome | None = None
        self.error: Exception | None = None
        self.seconds = float("inf")

    def run(self) -> None:
        try:
            connection.ensure_connection()
            if self.lock_timeout_ms is not None:
                with connection.cursor() as cursor:
                    cursor.execute(f"SET lock_timeout = '{int(self.lock_timeout_ms)}ms'")
            self.backend_pid = connection.connection.info.backend_pid
            self.connected.set()
            began = time.monotonic()
            self.outcome = apply_event(self.key, self.event, format="events_v2")
            self.seconds = time.monotonic() - began
        except Exception as error:  # reported by the test, not lost in the thread
            self.error = error
        finally:
            self.connected.set()
            connection.close()


def transaction_state(backend_pid: int) -> str:
    """pg_stat_activity's state of another session: 'idle in transaction' means it holds
    whatever its open transaction locked while its client does something else."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT state FROM pg_stat_activity WHERE pid = %s", [backend_pid])
        row = cursor.fetchone()
    return row[0] if row else "gone"


@pytest.fixture
def flapping_redis(redis_child, settings):
    """Flapping counts in our own redis-server, with a long socket timeout and no back-off
    left over from another test."""
    settings.FLAPPING_REDIS_URL = redis_child.url(FLAPPING_REDIS_DB)
    settings.REDIS_SOCKET_TIMEOUT = REDIS_TIMEOUT
    settings.FLAPPING_THRESHOLD = 5
    flapping._skip_until = float("-inf")
    yield redis_child
    redis_child.resume()
    flapping._skip_until = float("-inf")


def race_while_redis_hangs(redis_child, key, first_action: str, dedup_key: str,
                           *others: str) -> tuple[Request, Request, str, list[Request]]:
    """SIGSTOP Redis; the first request on `dedup_key`; once it waits on Redis, what its
    session is doing, and a trigger (then the `others` actions) on the same key from other
    threads, each with the short lock timeout."""
    redis_child.hang()
    first = Request(key, first_action, dedup_key)
    first.start()
    assert first.connected.wait(10)
    time.sleep(FIRST_IS_WAITING_AFTER)
    assert first.is_alive(), "the first request did not wait on the hung Redis at all"
    state_while_waiting = transaction_state(first.backend_pid)
    second = Request(key, "trigger", dedup_key, lock_timeout_ms=LOCK_WAIT_MS)
    rest = [Request(key, action, dedup_key, lock_timeout_ms=LOCK_WAIT_MS) for action in others]
    for request in (second, *rest):
        request.start()
    for request in (first, second, *rest):
        request.join(15)
    redis_child.resume()
    return first, second, state_while_waiting, rest


def assert_second_not_blocked(first: Request, second: Request, state_while_waiting: str) -> None:
    print(f"\nT53 Redis hung ({REDIS_TIMEOUT} s socket timeout): first {first.seconds:.2f} s, "
          f"second {second.seconds:.2f} s; first session while waiting on Redis: {state_while_waiting!r}")
    assert first.error is None, first.error
    # Not blocked on a lock for longer than LOCK_WAIT_MS, so in all at most its own Redis wait.
    assert second.error is None, f"the second trigger waited on a lock the first held: {second.error}"
    assert second.seconds < REDIS_TIMEOUT + 0.75
    assert state_while_waiting != "idle in transaction"


def test_a_new_alert_waiting_on_a_hung_redis_holds_no_lock_a_second_trigger_needs(flapping_redis):
    key, _raw = make_key(team=make_team("T53 new alert"))
    first, second, state, _ = race_while_redis_hangs(flapping_redis, key, "trigger", "K")
    assert_second_not_blocked(first, second, state)
    assert {first.outcome.outcome, second.outcome.outcome} == {"created", "updated"}
    assert Incident.objects.get(integration_key=key).alert_count == 2


def test_a_resolve_waiting_on_a_hung_redis_holds_no_lock_a_trigger_or_an_acknowledge_needs(flapping_redis):
    key, _raw = make_key(team=make_team("T53 resolve"))
    opened = apply_event(key, event("trigger", "K"), format="events_v2")  # Redis still answers
    first, second, state, [acknowledge] = race_while_redis_hangs(flapping_redis, key, "resolve", "K", "acknowledge")
    assert_second_not_blocked(first, second, state)
    # An acknowledge asks Redis nothing: it is not delayed by the hang at all.
    assert acknowledge.error is None, acknowledge.error
    assert acknowledge.seconds < LOCK_WAIT_MS / 1000 + 0.5
    assert (acknowledge.outcome.outcome, acknowledge.outcome.incident_id) == ("acknowledged", opened.incident_id)
    assert first.outcome.outcome == "resolved" and first.outcome.incident_id == opened.incident_id
    # The resolve commits before the trigger reads the alert: the trigger opens a new incident.
    assert second.outcome.outcome == "created" and second.outcome.incident_id != opened.incident_id
