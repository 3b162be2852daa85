"""Liveness (`/healthz`) and readiness (`/readyz`).

/healthz answers without touching the database, so it stays up when PostgreSQL is slow.
/readyz checks each dependency with its own short timeout, so a hung one costs at most that
timeout and never hangs the probe: the database (DATABASE_CONNECT_TIMEOUT and the statement
timeout), Redis and the broker (the short socket timeouts), the last beat tick's age."""

from __future__ import annotations

import time
from collections.abc import Callable

import redis
from django.conf import settings
from django.db import connection
from django.http import JsonResponse
from django.views.decorators.cache import never_cache
from kombu import Connection

from escalation.clock import db_now
from escalation.engine import TICK_STATE_NAME
from escalation.models import EscalationTickState


def healthz(request):
    return JsonResponse({"status": "ok"})


def check_database() -> str:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
    return "SELECT 1 answered"


def check_redis() -> str:
    timeout = settings.REDIS_SOCKET_TIMEOUT
    client = redis.Redis.from_url(settings.REDIS_URL, socket_timeout=timeout, socket_connect_timeout=timeout)
    try:
        client.ping()
    finally:
        client.close()
    return "PING answered"


def check_broker() -> str:
    """A connection, not a task round trip: the worker's health is the beat tick's age."""
    options = settings.CELERY_BROKER_TRANSPORT_OPTIONS
    timeout = options.get("socket_connect_timeout", 0.25)
    with Connection(settings.CELERY_BROKER_URL, connect_timeout=timeout, transport_options=options) as conn:
        conn.ensure_connection(max_retries=1, interval_start=0, interval_step=0, timeout=timeout)
    return f"{conn.transport_cls} connected"


def check_beat() -> str:
    max_age = settings.ESCALATION_HEALTH_MAX_AGE_SECONDS or 3 * settings.ESCALATION_TICK_SECONDS
    state = EscalationTickState.objects.filter(name=TICK_STATE_NAME).first()
    if state is None or state.last_tick_at is None:
        raise RuntimeError("no beat tick recorded yet")
    age = (db_now() - state.last_tick_at).total_seconds()
    if age > max_age:
        raise RuntimeError(f"last tick {age:.0f} s ago (limit {max_age} s)")
    return f"last tick {age:.0f} s ago"


CHECKS: dict[str, Callable[[], str]] = {
    "database": check_database,
    "redis": check_redis,
    "broker": check_broker,
    "beat": check_beat,
}


@never_cache
def readyz(request):
    """200 when every check is ok, 503 naming the one that is not."""
    checks = {}
    for name, check in CHECKS.items():
        started = time.monotonic()
        try:
            checks[name] = {"status": "ok", "detail": check()}
        except Exception as exc:  # any failure of a dependency is "down", never a 500
            detail = str(exc).splitlines()[0][:200] if str(exc) else type(exc).__name__
            checks[name] = {"status": "down", "detail": detail}
        checks[name]["ms"] = round((time.monotonic() - started) * 1000)
    ok = all(check["status"] == "ok" for check in checks.values())
    return JsonResponse({"status": "ok" if ok else "down", "checks": checks}, status=200 if ok else 503)
