"""Which Vigil row each vendor object became: what makes a second import create nothing.

A separate table, so the core models carry no vendor columns."""

from django.db import models


class ImportedObject(models.Model):
    class Kind(models.TextChoices):
        USER = "user", "User"
        TEAM = "team", "Team"
        SCHEDULE = "schedule", "Schedule"
        OVERRIDE = "override", "Schedule override"
        POLICY = "policy", "Escalation policy"
        KEY = "key", "Integration key"

    vendor = models.CharField(max_length=20)
    kind = models.CharField(max_length=10, choices=Kind.choices)
    vendor_id = models.CharField(max_length=200)
    object_id = models.PositiveBigIntegerField()
    imported_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["vendor", "kind", "vendor_id"], name="one_row_per_vendor_object")
        ]

    def __str__(self) -> str:
        return f"{self.vendor} {self.kind} {self.vendor_id} -> {self.object_id}"
