"""Redis round trips of one door request, counted at the socket (every write redis-py makes
to any Redis, whichever client sends it) and pinned here, as test_query_budget.py pins the
database's statements.

Measured: a repeat trigger 1 = the preflight (key generation, the per-IP counter, the
alert's flapping count: GET, SET NX EX, INCR (redis-py sends INCRBY), TTL, ZCOUNT in one
pipeline); a new trigger 2 = the preflight and, after the commit, the state change added to
the alert's flapping set (one MULTI pipeline); an acknowledge 1 (generation only: it is never counted and never
changes the alert's state); a resolve 2 (the preflight with its flapping read, then the
change). Anything added to the ingest path's Redis traffic shows up here first."""

from __future__ import annotations

import pytest
from redis.connection import AbstractConnection

pytestmark = pytest.mark.django_db

REPEAT_TRIGGER_ROUND_TRIPS = 1
NEW_TRIGGER_ROUND_TRIPS = 2
ACKNOWLEDGE_ROUND_TRIPS = 1
RESOLVE_ROUND_TRIPS = 2


def command_names(packed) -> list[str]:
    """The command names in one write (RESP arrays: `*N`, then `$len` and a value, N times)."""
    data = b"".join(packed) if isinstance(packed, list | tuple) else packed
    tokens = data.encode() if isinstance(data, str) else data
    tokens = tokens.split(b"\r\n")
    names, n = [], 0
    while n < len(tokens):
        if tokens[n].startswith(b"*") and n + 2 < len(tokens):
            names.append(tokens[n + 2].decode(errors="replace").upper())
            n += 1 + 2 * int(tokens[n][1:])
        else:
            n += 1
    return names


@pytest.fixture
def round_trips(monkeypatch):
    """Every write of a command (or of a pipeline's commands) to a Redis socket: one round trip."""
    writes: list[list[str]] = []
    send = AbstractConnection.send_packed_command

    def counted(self, command, check_health=True):
        writes.append(command_names(command))
        return send(self, command, check_health)

    monkeypatch.setattr(AbstractConnection, "send_packed_command", counted)
    return writes


def enqueue(api, raw_key, dedup_key, action="trigger"):
    body = {"routing_key": raw_key, "event_action": action, "dedup_key": dedup_key}
    if action == "trigger":
        body["payload"] = {"summary": "Disk usage > 90% on srv01", "severity": "critical", "source": "prometheus"}
    response = api.post("/v2/enqueue", body, format="json")
    assert response.status_code == 202, response.content
    return response


def test_a_repeat_trigger_is_one_round_trip(api, raw_key, round_trips):
    enqueue(api, raw_key, "repeat")  # warm: connections open, the key remembered
    round_trips.clear()
    enqueue(api, raw_key, "repeat")
    print(f"\nrepeat trigger: {round_trips}")
    assert len(round_trips) == REPEAT_TRIGGER_ROUND_TRIPS, round_trips
    assert sorted(round_trips[0]) == ["GET", "INCRBY", "SET", "TTL", "ZCOUNT"]


def test_a_new_trigger_is_the_preflight_and_the_flapping_write(api, raw_key, round_trips):
    enqueue(api, raw_key, "warm-up")
    round_trips.clear()
    enqueue(api, raw_key, "fresh")
    print(f"\nnew trigger: {round_trips}")
    assert len(round_trips) == NEW_TRIGGER_ROUND_TRIPS, round_trips
    assert "ZCOUNT" in round_trips[0] and "INCRBY" in round_trips[0]
    assert round_trips[1][0] == "MULTI" and "ZADD" in round_trips[1]


def test_closing_a_page_is_never_counted_and_still_one_preflight(api, raw_key, round_trips):
    enqueue(api, raw_key, "closing")
    round_trips.clear()
    enqueue(api, raw_key, "closing", action="acknowledge")
    acknowledged = list(round_trips)
    round_trips.clear()
    enqueue(api, raw_key, "closing", action="resolve")
    print(f"\nacknowledge: {acknowledged}; resolve: {round_trips}")
    assert acknowledged == [["GET"]] * ACKNOWLEDGE_ROUND_TRIPS
    assert len(round_trips) == RESOLVE_ROUND_TRIPS, round_trips
    assert sorted(round_trips[0]) == ["GET", "ZCOUNT"]  # no rate-limit counter for a resolve


def test_a_separate_flapping_redis_costs_one_more_round_trip(api, raw_key, round_trips, settings, redis_child):
    """FLAPPING_REDIS_URL on another server (the harness's own): one pipeline per Redis."""
    settings.FLAPPING_REDIS_URL = redis_child.url(0)
    enqueue(api, raw_key, "apart")
    round_trips.clear()
    enqueue(api, raw_key, "apart")
    assert [sorted(names) for names in round_trips] == [["GET", "INCRBY", "SET", "TTL"], ["ZCOUNT"]]
