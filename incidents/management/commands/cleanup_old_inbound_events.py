from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from incidents.cleanup import cleanup_old_inbound_events

LABELS = [
    ("incidents", "resolved incidents"),
    ("alerts", "alerts"),
    ("events", "events of those incidents"),
    ("timeline_entries", "timeline entries"),
    ("notifications", "notifications"),
    ("orphan_events", "events that never made an incident"),
    ("change_events", "change events"),
]


class Command(BaseCommand):
    help = "Delete resolved incidents and inbound events older than INBOUND_RETENTION_DAYS."

    def add_arguments(self, parser):
        parser.add_argument("--dry-run", action="store_true", help="Print what would be deleted.")
        parser.add_argument("--batch-size", type=int, default=None,
                            help="Incidents per transaction (default: CLEANUP_BATCH_SIZE).")

    def handle(self, *args, dry_run=False, batch_size=None, **options):
        if batch_size is not None and batch_size < 1:
            raise CommandError("--batch-size must be at least 1")
        report = cleanup_old_inbound_events(dry_run=dry_run, batch_size=batch_size or settings.CLEANUP_BATCH_SIZE)
        verb = "Would delete" if dry_run else "Deleted"
        self.stdout.write(f"Cutoff: {report.cutoff}")
        for field, label in LABELS:
            self.stdout.write(f"{verb} {getattr(report, field)} {label}")
        for label, rows in sorted(report.other_rows.items()):
            self.stdout.write(f"{verb} {rows} {label} rows")
        if not dry_run:
            self.stdout.write(f"{report.batches} batches, the longest {report.longest_batch_ms} ms, "
                              f"{report.timeouts} timed out (left for the next run)")
