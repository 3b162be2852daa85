"""python manage.py import_config {pagerduty|opsgenie|oncall} (--token T [--base-url U] | --from-dir D) [--dry-run]"""

from datetime import UTC, datetime

from django.core.management.base import BaseCommand, CommandError

from importers.apply import PlanError, apply_plan
from importers.client import ApiSource, DirSource, SourceError
from importers.importer import VENDOR_MODULES, build_plan
from importers.plan import VENDORS


class Command(BaseCommand):
    help = "Import users, teams, schedules, escalation policies and integrations from another on-call tool."

    def add_arguments(self, parser):
        parser.add_argument("vendor", choices=VENDORS)
        parser.add_argument("--token", help="A read-only API token (never printed).")
        parser.add_argument("--base-url", help="The API's base URL (EU or self-hosted instances).")
        parser.add_argument("--from-dir", help="A directory of the JSON the vendor's API returns.")
        parser.add_argument("--dry-run", action="store_true", help="Print the plan; write nothing.")
        parser.add_argument("--now", help="Plan as of this ISO instant (overrides from here to +90 days).")

    def handle(self, vendor, token, base_url, from_dir, dry_run, now, **options):
        if bool(token) == bool(from_dir):
            raise CommandError("give exactly one of --token or --from-dir")
        try:
            moment = datetime.fromisoformat(now.replace("Z", "+00:00")) if now else datetime.now(UTC)
        except ValueError:
            raise CommandError(f"--now {now!r} is not an ISO 8601 instant") from None
        if moment.tzinfo is None:
            raise CommandError("--now needs a UTC offset, e.g. 2025-10-20T00:00:00Z")
        base_url = base_url or VENDOR_MODULES[vendor].DEFAULT_BASE_URL
        if token and not base_url:
            raise CommandError(f"{vendor} needs --base-url (your instance's API URL)")
        try:
            source = DirSource(from_dir) if from_dir else ApiSource(vendor, base_url, token)
            plan = build_plan(vendor, source, moment)
            report = apply_plan(plan, dry_run=dry_run)
        except (SourceError, PlanError) as error:
            raise CommandError(str(error)) from None
        self.stdout.write("\n".join(report.lines()))
