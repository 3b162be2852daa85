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
from datetime import UTC, datetime, timedelta

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

# Tables that have a field of their own in the report; any other table of the plan has its
# deleted rows counted under `other_rows` by model label.
REPORT_FIELDS = {
    "incidents.Incident": "incidents",
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


# The batch's incidents, oldest first, along the index on resolved_at (EXPLAIN: an index
# scan, then an incremental sort of equal timestamps by id), starting after the previous
# batch's last row: the index entries of the rows just deleted stay until vacuum, and a scan from the start
# would wade through all of them again on every batch (quadratic over a big backlog).
DOOMED_SQL = """
SELECT id, resolved_at FROM incidents_incident
WHERE status = 'resolved' AND resolved_at < %(cutoff)s AND (resolved_at, id) > (%(after_at)s, %(after_id)s)
ORDER BY resolved_at, id LIMIT %(limit)s FOR UPDATE SKIP LOCKED
"""
START = (datetime(1, 1, 1, tzinfo=UTC), 0)

DELETE_INCIDENTS_SQL = (f"DELETE FROM {connection.ops.quote_name(Incident._meta.db_table)} "
                        "WHERE id = ANY(%(ids)s::bigint[])")


def by_age_sql(queryset, batch_size: int) -> tuple[str, tuple]:
    """DELETE the oldest `batch_size` rows of `queryset` (skipping locked ones) along its
    `received_at` index. `cleanup_plan` checks that nothing points at these tables."""
    table = connection.ops.quote_name(queryset.model._meta.db_table)
    select = queryset.order_by("received_at").select_for_update(skip_locked=True).values_list("pk", flat=True)
    sql, params = select[:batch_size].query.sql_with_params()
    # = ANY(ARRAY(...)): the chosen ids are looked up by primary key; `IN (subquery)` lets
    # the planner pick a hash join over the whole table when the batch is a big share of it.
    return f"DELETE FROM {table} WHERE id = ANY(ARRAY({sql}))", params


def bound_waits(cursor) -> None:
    """SET LOCAL both timeouts: they end with the batch's transaction, so the connection
    (shared with whatever runs next in this worker) keeps its own settings."""
    cursor.execute(
        "SELECT set_config('lock_timeout', %s, true), set_config('statement_timeout', %s, true)",
        [f"{BATCH_LOCK_TIMEOUT_MS}ms", f"{BATCH_STATEMENT_TIMEOUT_MS}ms"],
    )


class IncidentSweep:
    """The old resolved incidents, a batch per `delete_batch` call, each batch resuming after
    the last row of the one before. A row skipped because someone held its lock is left for
    the next run."""

    def __init__(self, cutoff: datetime, batch_size: int):
        self.cutoff, self.batch_size, self.after = cutoff, batch_size, START

    def select(self) -> tuple[str, dict]:
        return DOOMED_SQL, {"cutoff": self.cutoff, "after_at": self.after[0], "after_id": self.after[1],
                            "limit": self.batch_size}

    def delete_batch(self, cursor) -> dict[str, int]:
        """One batch on `cursor`, inside the caller's transaction: bound the waits, pick and
        lock the next incidents, run the plan's statements over their ids, delete them.
        Returns the rows deleted per model label; {} when none is left."""
        bound_waits(cursor)
        cursor.execute(*self.select())
        rows = cursor.fetchall()
        if not rows:
            return {}
        ids = [incident_id for incident_id, _ in rows]
        self.after = (rows[-1][1], rows[-1][0])
        counts: dict[str, int] = {}
        for step in incident_plan():
            cursor.execute(step.sql(), {"ids": ids})
            if step.action == "delete":
                counts[step.label] = counts.get(step.label, 0) + cursor.rowcount
        cursor.execute(DELETE_INCIDENTS_SQL, {"ids": ids})
        counts[Incident._meta.label] = cursor.rowcount
        return counts


def delete_by_age_batch(cursor, queryset, batch_size: int) -> int:
    """One batch of stray events or change events, inside the caller's transaction."""
    bound_waits(cursor)
    cursor.execute(*by_age_sql(queryset, batch_size))
    return cursor.rowcount


def _is_timeout(error: OperationalError) -> bool:
    return getattr(error.__cause__, "sqlstate", None) in TIMEOUT_SQLSTATES


def _own_transaction(report: CleanupReport, batch):
    """Run `batch(cursor)` in a transaction of its own and return what it returns (falsy:
    nothing left). A timeout rolls the batch back and returns 0: this run moves on, the
    next run retries it."""
    started = time.monotonic()
    try:
        with transaction.atomic(), connection.cursor() as cursor:
            done = batch(cursor)
    except OperationalError as error:
        if not _is_timeout(error):
            raise
        report.timeouts += 1
        logger.warning("cleanup: a batch timed out (%s); the next run retries it", error.__cause__.sqlstate)
        return 0
    if done:
        report.batches += 1
        report.longest_batch_ms = max(report.longest_batch_ms, round((time.monotonic() - started) * 1000, 1))
    return done


def cleanup_old_inbound_events(
    now: datetime | None = None, *, dry_run: bool = False, batch_size: int | None = None
) -> CleanupReport:
    cutoff = cutoff_for(now)
    batch_size = batch_size or settings.CLEANUP_BATCH_SIZE
    report = CleanupReport(cutoff=cutoff.isoformat(), dry_run=dry_run)
    if dry_run:
        _count(report, cutoff)
        return report
    if connection.vendor != "postgresql":
        # The batches are PostgreSQL SQL (SKIP LOCKED, = ANY(array), SET LOCAL): the
        # no-install trial on SQLite keeps everything, and says so once a day.
        logger.warning("cleanup skipped: retention needs PostgreSQL (this is %s)", connection.vendor)
        return report
    sweep = IncidentSweep(cutoff, batch_size)
    while counts := _own_transaction(report, sweep.delete_batch):
        for label, rows in counts.items():
            report.add(label, rows)
    for field_name, queryset in (("orphan_events", old_orphan_events(cutoff)),
                                 ("change_events", ChangeEvent.objects.filter(received_at__lt=cutoff))):
        while deleted := _own_transaction(report, lambda cursor, qs=queryset: delete_by_age_batch(cursor, qs, batch_size)):
            setattr(report, field_name, getattr(report, field_name) + deleted)
    logger.info("cleanup: %s", report.as_dict())
    return report
