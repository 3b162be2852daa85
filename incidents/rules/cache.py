"""A per-process cache of the compiled suppression rules.

Ingest reads the rules on every trigger; compiling them each time would cost a query and a
compile per event. The cache lives a few seconds (`SUPPRESSION_RULES_CACHE_SECONDS`) and is
dropped whenever a rule is saved or deleted in this process (at once and again on commit), so
an edit is seen at once here and within the TTL by every other worker. No model imports:
`incidents.models` calls `invalidate_now_and_on_commit()` from `SuppressionRule.save()`."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

from django.db import transaction

_lock = threading.Lock()
_entry: tuple[float, Any] | None = None
_generation = 0


def get(loader: Callable[[], Any], ttl_seconds: float) -> Any:
    global _entry
    entry = _entry
    now = time.monotonic()
    if entry is not None and now - entry[0] < ttl_seconds:
        return entry[1]
    generation = _generation
    value = loader()
    with _lock:
        # A save that happened while we were loading wins: do not cache what we read before it.
        if generation == _generation:
            _entry = (now, value)
    return value


def invalidate() -> None:
    global _entry, _generation
    with _lock:
        _generation += 1
        _entry = None


def invalidate_now_and_on_commit() -> None:
    """Drop the cache now (this thread sees its own edit) and after the commit (a reader in
    between may have cached the rows as they were before the edit committed)."""
    invalidate()
    transaction.on_commit(invalidate)
