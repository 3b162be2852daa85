"""Re-encrypt every encrypted column with the first FIELD_ENCRYPTION_KEY and recompute the
address digests. Run after putting a new key first (old keys still listed after it);
then the old keys can go. Idempotent, in batches, each batch its own transaction."""

from django.core.management.base import BaseCommand
from django.db import transaction

from escalation.fields import lookup_digest
from escalation.models import ContactMethod, Notification

BATCH = 500


def _rewrite(model, fields: list[str], prepare=None) -> int:
    done, last = 0, 0
    while True:
        with transaction.atomic():
            rows = list(model.objects.select_for_update().filter(pk__gt=last).order_by("pk")[:BATCH])
            if not rows:
                return done
            for row in rows:
                if prepare is not None:
                    prepare(row)
            # Reading decrypted with whichever key opens each value; writing encrypts with the first.
            model.objects.bulk_update(rows, fields)
            done, last = done + len(rows), rows[-1].pk


def _digest(method: ContactMethod) -> None:
    method.address_digest = lookup_digest(method.address)


class Command(BaseCommand):
    help = "Re-encrypt stored provider secrets with the first FIELD_ENCRYPTION_KEY."

    def handle(self, *args, **options):
        methods = _rewrite(ContactMethod, ["address", "address_digest", "secrets"], _digest)
        notifications = _rewrite(Notification, ["address"])
        self.stdout.write(f"re-encrypted {methods} contact methods and {notifications} notifications")
