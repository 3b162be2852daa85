"""The doors' key lookup with a short per-process memory, so a busy sender's requests do not
each pay a database round trip (and the ORM's query building) to find the same key.

What it remembers: active keys found by their SHA-256 digest, for at most `TTL_SECONDS`,
each with the key generation it was read under. Unknown and revoked keys are never
remembered: each presentation asks the database.

Revocation (and every other change of a key: save or delete, the model's signals) empties
this process's memory at once and, once committed, increments the key generation in the
cache's Redis (`GENERATION_KEY`). Every door request reads the current generation in its
preflight round trip (`integrations/preflight.py`) and, when its key was remembered under
another one, asks the database again (`confirm`) before anything is written: a key revoked
in another gunicorn process is refused on the very next request. Without Redis (the no-Redis
trial, or Redis down or hung) the generation cannot be read, and another process notices
within `TTL_SECONDS`, the documented bound (README "Performance"); the same bound holds if
the increment itself was lost. Each caller gets its own copy of the key, so no request sees
another's changes to the instance."""

from __future__ import annotations

import copy
import logging
import threading
import time
from dataclasses import dataclass

from django.db import transaction

from config import redis_clients
from integrations import keys
from integrations.models import IntegrationKey

logger = logging.getLogger("vigil.keys")

TTL_SECONDS = 1.0
MAX_ENTRIES = 1024
MAX_RAW_KEY_LENGTH = 200
GENERATION_KEY = "vigil:keys:generation"

# digest -> (read at, wall clock; generation read under; the key)
_entries: dict[str, tuple[float, int | None, IntegrationKey]] = {}
# The newest generation this process has seen (None: none yet).
_generation: list[int | None] = [None]
_lock = threading.Lock()


@dataclass(frozen=True)
class Found:
    """A lookup's answer: the key (None: no active key has this digest) and the generation
    it was read under (None: unknown, so older than any generation read later)."""

    key: IntegrationKey | None
    generation: int | None
    digest: str = ""


def lookup(raw_key: str | None) -> Found:
    if not raw_key or not isinstance(raw_key, str) or len(raw_key) > MAX_RAW_KEY_LENGTH:
        return Found(None, None)
    digest = keys.digest(raw_key.strip())
    hit = _entries.get(digest)
    # The wall clock (tests move it with time-machine); one that went back is a miss.
    if hit is not None and 0 <= time.time() - hit[0] < TTL_SECONDS:
        return Found(copy.copy(hit[2]), hit[1], digest)
    return _read(digest, _generation[0])


def _read(digest: str, generation: int | None) -> Found:
    """Ask the database; remember an active key under `generation`, which must have been
    read before this query (so a change committed meanwhile moves the generation past it)."""
    read_at = time.time()
    found = IntegrationKey.objects.active().select_related("team").filter(key_digest=digest).first()
    with _lock:
        if found is None:
            _entries.pop(digest, None)
            return Found(None, generation, digest)
        if len(_entries) >= MAX_ENTRIES:
            _entries.clear()
        _entries[digest] = (read_at, generation, found)
    return Found(copy.copy(found), generation, digest)


def authenticate(raw_key: str | None) -> IntegrationKey | None:
    """The active key whose digest matches, or None (as `IntegrationKey.objects.authenticate`)."""
    return lookup(raw_key).key


def queue_generation(pipe) -> None:
    """Add the read of the current key generation to `pipe` (its reply: `generation_of`)."""
    pipe.get(GENERATION_KEY)


def generation_of(reply: bytes | None) -> int:
    return int(reply or 0)  # no key yet: nothing changed since Redis started


def confirm(found: Found, current: int | None) -> Found:
    """`found` again, once the preflight read the `current` generation (None: Redis could
    not say, and the memory's `TTL_SECONDS` is the bound): an answer read under another
    generation is stale, as a key changed in some process since, so the memory goes and
    the database is asked again."""
    if current is None or found.generation == current:
        return found
    with _lock:
        if _generation[0] != current:
            _generation[0] = current
            _entries.clear()
    return _read(found.digest, current)


def forget_all(**_signal_kwargs) -> None:
    """A key changed in this process (revoked, edited, deleted): ask the database again, and
    once the change is committed tell the other processes (`GENERATION_KEY`)."""
    with _lock:
        _entries.clear()
    transaction.on_commit(_announce_change)


def _announce_change() -> None:
    url = redis_clients.cache_url()
    if not url:
        return  # no Redis: the other processes notice within TTL_SECONDS
    try:
        redis_clients.client(url).incr(GENERATION_KEY)
    except redis_clients.FAILURES as error:
        logger.warning("could not announce a key change (Redis: %s); other processes notice it "
                       "within %.0f s", type(error).__name__, TTL_SECONDS)


def remember_use(key: IntegrationKey) -> None:
    """The door wrote `last_used_at`: keep the remembered copy in step, so the next requests
    of this process do not write it again within the minute."""
    hit = _entries.get(key.key_digest)
    if hit is not None:
        hit[2].last_used_at = key.last_used_at
