"""One Redis client per server per process, shared by every thread of it.

Ingest talks to Redis on every request (rate-limit counters, the key generation, flapping
counts). A client built per request pays for its connection pool each time, and Celery's
and django-redis's clients retry on their own; these clients keep their connections
(redis-py's pool is thread-safe) and try once with a short socket timeout, because every
caller treats Redis as an aid that may be skipped, never as a dependency: a failure costs
one `REDIS_SOCKET_TIMEOUT`, and the caller then backs off for a few seconds."""

from __future__ import annotations

import threading

import redis
from django.conf import settings
from redis.backoff import NoBackoff
from redis.retry import Retry

# What a call to an absent, dead or hung Redis raises. ValueError too: redis-py reports a
# socket closed under a read as "I/O operation on closed file" (seen under a 200-request
# burst, RELIABILITY T15), and an aid must never turn into a 500.
FAILURES = (redis.RedisError, OSError, ValueError)

_clients: dict[tuple[str, float], redis.Redis] = {}
_lock = threading.Lock()


def client(url: str) -> redis.Redis:
    """The process's client of `url` (at the current `REDIS_SOCKET_TIMEOUT`)."""
    timeout = settings.REDIS_SOCKET_TIMEOUT
    found = _clients.get((url, timeout))
    if found is None:
        with _lock:
            found = _clients.get((url, timeout))
            if found is None:
                found = redis.Redis.from_url(
                    url, socket_timeout=timeout, socket_connect_timeout=timeout,
                    retry=Retry(NoBackoff(), 0),  # one try: the caller backs off, the next request tries again
                )
                _clients[(url, timeout)] = found
    return found


def cache_url() -> str:
    """The Redis of Django's cache (`REDIS_URL`), where the rate-limit counters and the key
    generation live; empty when the cache is not Redis (the no-Redis trial's database cache)."""
    cache = settings.CACHES["default"]
    return cache["LOCATION"] if cache["BACKEND"].startswith("django_redis.") else ""
