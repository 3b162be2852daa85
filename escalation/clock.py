"""The escalation clock is the database's clock.

Every worker and web process may have its own idea of the time (a drifting VM, a container
with a wrong zone); PostgreSQL's is the one they share, so every escalation decision compares
against it (GoAlert's rule, RELIABILITY T23). Tests move this clock with the test-only
setting ESCALATION_CLOCK_OFFSET_SECONDS, the way pgmocktime moves GoAlert's."""

from __future__ import annotations

from datetime import datetime, timedelta

from django.conf import settings
from django.db import connection
from django.utils import timezone


def db_now() -> datetime:
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            # clock_timestamp(), not now(): now() is frozen at the start of the transaction.
            cursor.execute("SELECT clock_timestamp()")
            now = cursor.fetchone()[0]
    else:  # SQLite (`make run`): one process tree on one machine, its clock will do
        now = timezone.now()
    offset = settings.ESCALATION_CLOCK_OFFSET_SECONDS
    return now + timedelta(seconds=offset) if offset else now
