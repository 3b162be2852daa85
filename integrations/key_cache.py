"""The doors' key lookup with a short per-process memory, so a busy sender's requests do not
each pay a database round trip (and the ORM's query building) to find the same key.

What it remembers: active keys found by their SHA-256 digest, for at most `TTL_SECONDS`.
Unknown and revoked keys are never remembered: each presentation asks the database.
Revocation (and every other change of a key: save or delete) empties this process's memory
at once through the model's signals; another gunicorn process notices within `TTL_SECONDS`,
the documented bound (README "Performance"). Each caller gets its own copy of the key, so no
request sees another's changes to the instance."""

from __future__ import annotations

import copy
import threading
import time

from integrations import keys
from integrations.models import IntegrationKey

TTL_SECONDS = 1.0
MAX_ENTRIES = 1024
MAX_RAW_KEY_LENGTH = 200

_entries: dict[str, tuple[float, IntegrationKey]] = {}
_lock = threading.Lock()


def authenticate(raw_key: str | None) -> IntegrationKey | None:
    """The active key whose digest matches, or None (as `IntegrationKey.objects.authenticate`)."""
    if not raw_key or not isinstance(raw_key, str) or len(raw_key) > MAX_RAW_KEY_LENGTH:
        return None
    digest = keys.digest(raw_key.strip())
    now = time.monotonic()
    hit = _entries.get(digest)
    if hit is not None and now - hit[0] < TTL_SECONDS:
        return copy.copy(hit[1])
    found = IntegrationKey.objects.active().select_related("team").filter(key_digest=digest).first()
    with _lock:
        if found is None:
            _entries.pop(digest, None)
            return None
        if len(_entries) >= MAX_ENTRIES:
            _entries.clear()
        _entries[digest] = (now, found)
    return copy.copy(found)


def forget_all(**_signal_kwargs) -> None:
    """A key changed somewhere in this process (revoked, edited, deleted): ask the database again."""
    with _lock:
        _entries.clear()


def remember_use(key: IntegrationKey) -> None:
    """The door wrote `last_used_at`: keep the remembered copy in step, so the next requests
    of this process do not write it again within the minute."""
    hit = _entries.get(key.key_digest)
    if hit is not None:
        hit[1].last_used_at = key.last_used_at
