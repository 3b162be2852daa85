"""Retention: forget resolved incidents and stray events older than INBOUND_RETENTION_DAYS.

An incident goes with every row that hangs off it, in any app: `cleanup_plan.incident_plan()`
derives the list from the foreign keys (alerts, events, timeline, notifications and theirs).
Triggered and acknowledged incidents are never deleted, however old: someone still owes
them an answer.

Deletes are set-based SQL in bounded batches (CLEANUP_BATCH_SIZE incidents), each batch one
short transaction of a constant number of statements: pick the batch's incidents
(`FOR UPDATE SKIP LOCKED`, so a row someone is working on is left for the next run), delete
their dependents by `incident_id = ANY(ids)`, delete them. Ingest never touches these rows
(they are resolved and old), so it does not wait for a batch; the batch, in turn, waits at
most BATCH_LOCK_TIMEOUT_MS for a lock, so it never makes a queue of requests behind it. A
batch that times out is rolled back and left for the next run (counted in `timeouts`)."""

from __future__ import annotations

import logging
import time
from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta

from django.conf import settings
from django.db import OperationalError, connection, transaction
from django.utils import timezone

from incidents.cleanup_plan import incident_plan
from incidents.models import ChangeEvent, Event, Incident

logger = logging.getLogger("vigil.cleanup")

# A lock wait longer than this gives the batch up: while the batch waits, requests wanting
# the same row would queue behind it, and a trigger must answer in well under 200 ms.
BATCH_LOCK_TIMEOUT_MS = 100
# One statement of a batch takes milliseconds (index scans over a few thousand ids); a
# statement running this long has a bad plan, and holding its locks longer helps nobody.
BATCH_STATEMENT_TIMEOUT_MS = 5000
# Postgres error codes of the two timeouts above: lock_not_available, query_canceled.
TIMEOUT_SQLSTATES = {"55P03", "57014"}

# Counts of the plan's tables that have a field of their own in the report; any other
# table's deleted rows are counted under `other_rows` by model label.
REPORT_FIELDS = {
    "incidents.Alert": "alerts",
    "incidents.Event": "events",
    "incidents.TimelineEntry": "timeline_entries",
    "escalation.Notification": "notifications",
}


@dataclass
class CleanupReport:
    cutoff: str = ""
    incidents: int = 0
    alerts: int = 0
    events: int = 0
    timeline_entries: int = 0
    notifications: int = 0
    other_rows: dict[str, int] = field(default_factory=dict)
    orphan_events: int = 0
    change_events: int = 0
    batches: int = 0
    timeouts: int = 0
    longest_batch_ms: float = 0.0
    dry_run: bool = False

    def as_dict(self) -> dict:
        return asdict(self)

    def add(self, label: str, rows: int) -> None:
        if label in REPORT_FIELDS:
            name = REPORT_FIELDS[label]
            setattr(self, name, getattr(self, name) + rows)
        else:
            self.other_rows[label] = self.other_rows.get(label, 0) + rows


def cutoff_for(now: datetime | None = None) -> datetime:
    return (now or timezone.now()) - timedelta(days=settings.INBOUND_RETENTION_DAYS)


def old_incidents(cutoff: datetime):
    return Incident.objects.filter(status=Incident.Status.RESOLVED, resolved_at__lt=cutoff)


def old_orphan_events(cutoff: datetime):
    return Event.objects.filter(incident__isnull=True, received_at__lt=cutoff)


def _count(report: CleanupReport, cutoff: datetime) -> None:
    incidents = old_incidents(cutoff)
    report.incidents = incidents.count()
    for step in incident_plan():
        if step.action == "delete":
            report.add(step.label, step.model.objects.filter(**{f"{step.lookup}__in": incidents}).count())
    report.orphan_events = old_orphan_events(cutoff).count()
    report.change_events = ChangeEvent.objects.filter(received_at__lt=cutoff).count()


def doomed_ids_sql(cutoff: datetime, batch_size: int) -> tuple[str, tuple]:
    """The batch's incidents, oldest first, along the partial index
    `incident_resolved_retention` (resolved_at, id) WHERE status = 'resolved'."""
    queryset = (
        old_incidents(cutoff).order_by("resolved_at", "pk").select_for_update(skip_locked=True)
        .values_list("pk", flat=True)[:batch_size]
    )
    return queryset.query.sql_with_params()


def _bounded_waits(cursor) -> None:
    """SET LOCAL both timeouts: they end with the batch's transaction, so the connection
    (shared with whatever runs next in this worker) keeps its own settings."""
    cursor.execute(
        "SELECT set_config('lock_timeout', %s, true), set_config('statement_timeout', %s, true)",
        [f"{BATCH_LOCK_TIMEOUT_MS}ms", f"{BATCH_STATEMENT_TIMEOUT_MS}ms"],
    )


def _is_timeout(error: OperationalError) -> bool:
    return getattr(error.__cause__, "sqlstate", None) in TIMEOUT_SQLSTATES


def _run_batch(report: CleanupReport, batch) -> int:
    """Run `batch(cursor, counts)` in its own transaction with bounded waits; return the rows
    it reports as the main count (0 = nothing left). A timeout rolls the batch back and
    returns 0, so this run moves on and the next run retries it."""
    counts: dict[str, int] = {}
    started = time.monotonic()
    try:
        with transaction.atomic(), connection.cursor() as cursor:
            _bounded_waits(cursor)
            done = batch(cursor, counts)
    except OperationalError as error:
        if not _is_timeout(error):
            raise
        report.timeouts += 1
        logger.warning("cleanup: a batch timed out (%s); the next run retries it", error.__cause__.sqlstate)
        return 0
    if done:
        report.batches += 1
        report.longest_batch_ms = max(report.longest_batch_ms, round((time.monotonic() - started) * 1000, 1))
        for label, rows in counts.items():
            report.add(label, rows)
    return done


def _incident_batch(cutoff: datetime, batch_size: int):
    def batch(cursor, counts: dict[str, int]) -> int:
        cursor.execute(*doomed_ids_sql(cutoff, batch_size))
        ids = [row[0] for row in cursor.fetchall()]
        if not ids:
            return 0
        for step in incident_plan():
            cursor.execute(step.sql(), {"ids": ids})
            if step.action == "delete":
                counts[step.label] = counts.get(step.label, 0) + cursor.rowcount
        cursor.execute(f"DELETE FROM {connection.ops.quote_name(Incident._meta.db_table)} "
                       "WHERE id = ANY(%(ids)s::bigint[])", {"ids": ids})
        return cursor.rowcount

    return batch


def _by_age_batch(queryset, batch_size: int):
    """DELETE ... WHERE id IN (the oldest `batch_size` rows of `queryset`, skipping locked
    ones). `cleanup_plan` checks that nothing points at these tables."""
    table = connection.ops.quote_name(queryset.model._meta.db_table)
    select = queryset.order_by("received_at").select_for_update(skip_locked=True).values_list("pk", flat=True)

    def batch(cursor, counts: dict[str, int]) -> int:
        # Compiled here, inside the transaction: Django refuses FOR UPDATE outside one.
        sql, params = select[:batch_size].query.sql_with_params()
        cursor.execute(f"DELETE FROM {table} WHERE id IN ({sql})", params)
        return cursor.rowcount

    return batch


def cleanup_old_inbound_events(
    now: datetime | None = None, *, dry_run: bool = False, batch_size: int | None = None
) -> CleanupReport:
    cutoff = cutoff_for(now)
    batch_size = batch_size or settings.CLEANUP_BATCH_SIZE
    report = CleanupReport(cutoff=cutoff.isoformat(), dry_run=dry_run)
    if dry_run:
        _count(report, cutoff)
        return report
    incidents = _incident_batch(cutoff, batch_size)
    while deleted := _run_batch(report, incidents):
        report.incidents += deleted
    orphans = _by_age_batch(old_orphan_events(cutoff), batch_size)
    while deleted := _run_batch(report, orphans):
        report.orphan_events += deleted
    changes = _by_age_batch(ChangeEvent.objects.filter(received_at__lt=cutoff), batch_size)
    while deleted := _run_batch(report, changes):
        report.change_events += deleted
    logger.info("cleanup: %s", report.as_dict())
    return report
