"""Retention: forget resolved incidents and stray events older than INBOUND_RETENTION_DAYS.

An incident goes with every row that hangs off it: its alerts and timeline by this app's
foreign keys, and the escalation app's Notification rows by theirs (`on_delete=CASCADE`),
so the escalation app needs no step of its own here; Notification is imported only to
count what a dry run would delete.

Deletes in bounded batches, one short transaction each, so ingest (which locks alert and
incident rows) never waits behind a long delete. Triggered and acknowledged incidents are
never deleted, however old: someone still owes them an answer."""

from __future__ import annotations

import logging
from dataclasses import asdict, dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from escalation.models import Notification
from incidents.models import Alert, ChangeEvent, Event, Incident, TimelineEntry

logger = logging.getLogger("vigil.cleanup")

DEFAULT_BATCH = 500


@dataclass
class CleanupReport:
    cutoff: str = ""
    incidents: int = 0
    alerts: int = 0
    events: int = 0
    timeline_entries: int = 0
    notifications: int = 0
    orphan_events: int = 0
    change_events: int = 0
    batches: int = 0
    dry_run: bool = False

    def as_dict(self) -> dict:
        return asdict(self)


def cutoff_for(now: datetime | None = None) -> datetime:
    return (now or timezone.now()) - timedelta(days=settings.INBOUND_RETENTION_DAYS)


def old_incidents(cutoff: datetime):
    return Incident.objects.filter(status=Incident.Status.RESOLVED, resolved_at__lt=cutoff)


def old_orphan_events(cutoff: datetime):
    return Event.objects.filter(incident__isnull=True, received_at__lt=cutoff)


def _count(report: CleanupReport, cutoff: datetime) -> None:
    incidents = old_incidents(cutoff)
    report.incidents = incidents.count()
    report.alerts = Alert.objects.filter(incident__in=incidents).count()
    report.events = Event.objects.filter(incident__in=incidents).count()
    report.timeline_entries = TimelineEntry.objects.filter(incident__in=incidents).count()
    report.notifications = Notification.objects.filter(incident__in=incidents).count()
    report.orphan_events = old_orphan_events(cutoff).count()
    report.change_events = ChangeEvent.objects.filter(received_at__lt=cutoff).count()


def _delete_incident_batch(report: CleanupReport, cutoff: datetime, batch_size: int) -> bool:
    with transaction.atomic():
        ids = list(old_incidents(cutoff).order_by("pk").values_list("pk", flat=True)[:batch_size])
        if not ids:
            return False
        # Events point at incidents with SET_NULL, so they go first, explicitly.
        report.events += Event.objects.filter(incident_id__in=ids).delete()[0]
        _total, per_model = Incident.objects.filter(pk__in=ids).delete()
    report.incidents += per_model.get("incidents.Incident", 0)
    report.alerts += per_model.get("incidents.Alert", 0)
    report.timeline_entries += per_model.get("incidents.TimelineEntry", 0)
    report.notifications += per_model.get("escalation.Notification", 0)
    report.batches += 1
    return True


def _delete_batch(queryset, batch_size: int) -> int:
    with transaction.atomic():
        ids = list(queryset.order_by("pk").values_list("pk", flat=True)[:batch_size])
        if not ids:
            return 0
        queryset.model.objects.filter(pk__in=ids).delete()
    return len(ids)


def cleanup_old_inbound_events(
    now: datetime | None = None, *, dry_run: bool = False, batch_size: int = DEFAULT_BATCH
) -> CleanupReport:
    cutoff = cutoff_for(now)
    report = CleanupReport(cutoff=cutoff.isoformat(), dry_run=dry_run)
    if dry_run:
        _count(report, cutoff)
        return report
    while _delete_incident_batch(report, cutoff, batch_size):
        pass
    while deleted := _delete_batch(old_orphan_events(cutoff), batch_size):
        report.orphan_events += deleted
        report.batches += 1
    while deleted := _delete_batch(ChangeEvent.objects.filter(received_at__lt=cutoff), batch_size):
        report.change_events += deleted
        report.batches += 1
    logger.info("cleanup: %s", report.as_dict())
    return report
