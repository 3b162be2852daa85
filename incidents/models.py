"""Incidents, the alerts they group, the event log and the timeline."""

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import Q
from django.utils import timezone

from incidents.rules import cache as rule_cache
from incidents.rules.patterns import validate_rule


class Severity(models.TextChoices):
    CRITICAL = "critical", "Critical"
    ERROR = "error", "Error"
    WARNING = "warning", "Warning"
    INFO = "info", "Info"


SEVERITY_RANK = {"critical": 0, "error": 1, "warning": 2, "info": 3}


class IncidentQuerySet(models.QuerySet):
    def visible_to(self, user):
        if not user.is_authenticated:  # e.g. the OpenAPI generator's anonymous request
            return self.none()
        if user.is_superuser:
            return self
        return self.filter(team__memberships__user=user)

    def open(self):
        return self.exclude(status=Incident.Status.RESOLVED)


class Incident(models.Model):
    class Status(models.TextChoices):
        TRIGGERED = "triggered", "Triggered"
        ACKNOWLEDGED = "acknowledged", "Acknowledged"
        RESOLVED = "resolved", "Resolved"

    integration_key = models.ForeignKey(
        "integrations.IntegrationKey", null=True, on_delete=models.SET_NULL, related_name="incidents"
    )
    team = models.ForeignKey(
        "oncall.Team", null=True, blank=True, on_delete=models.SET_NULL, related_name="incidents"
    )
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.TRIGGERED)
    severity = models.CharField(max_length=10, choices=Severity.choices, default=Severity.WARNING)
    original_severity = models.CharField(max_length=100, blank=True)
    dedup_key = models.CharField(max_length=255, help_text="The dedup key of the first alert.")
    summary = models.CharField(max_length=1024)
    source = models.CharField(max_length=1024, blank=True)
    component = models.CharField(max_length=1024, blank=True)
    group = models.CharField(max_length=1024, blank=True)
    event_class = models.CharField("class", max_length=1024, blank=True)
    labels = models.JSONField(default=dict, blank=True)
    details = models.JSONField(null=True, blank=True)
    links = models.JSONField(default=list, blank=True)
    images = models.JSONField(default=list, blank=True)
    runbook = models.CharField(max_length=2048, blank=True)
    entity = models.CharField(max_length=1024, blank=True)
    # The latest trigger's normalised fields, kept beside the first summary (which stays
    # the title) so a responder sees what changed.
    latest = models.JSONField(default=dict, blank=True)
    alert_count = models.PositiveIntegerField(default=1)
    first_seen_at = models.DateTimeField(default=timezone.now)
    last_seen_at = models.DateTimeField(default=timezone.now)
    acknowledged_at = models.DateTimeField(null=True, blank=True)
    acknowledged_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    resolved_at = models.DateTimeField(null=True, blank=True)
    resolved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    # Who or what acted, when not a user: "api", "alert source", "heartbeat"...
    acknowledged_via = models.CharField(max_length=50, blank=True)
    resolved_via = models.CharField(max_length=50, blank=True)
    # Escalation state: the policy is frozen onto the incident when escalation starts.
    escalation_policy = models.ForeignKey(
        "escalation.EscalationPolicy", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    escalation_snapshot = models.JSONField(null=True, blank=True)
    escalation_step = models.IntegerField(default=0, help_text="Index of the next step to fire.")
    escalation_repeat = models.IntegerField(default=0)
    next_escalation_at = models.DateTimeField(null=True, blank=True)
    escalation_held_reason = models.CharField(max_length=200, blank=True)
    # Noise reduction marks.
    is_flapping = models.BooleanField(default=False)
    group_key = models.CharField(max_length=255, blank=True, help_text="Grouping bucket, if any.")
    created_at = models.DateTimeField(auto_now_add=True)

    objects = IncidentQuerySet.as_manager()

    class Meta:
        ordering = ["-id"]
        indexes = [
            models.Index(fields=["status", "-id"]),
            models.Index(fields=["team", "status"]),
            models.Index(fields=["integration_key", "status"]),
            # The tick's claim: ORDER BY next_escalation_at, id LIMIT n, read in index order.
            models.Index(
                fields=["next_escalation_at", "id"],
                name="incident_escalation_due",
                condition=Q(status="triggered", next_escalation_at__isnull=False),
            ),
            # Also the daily cleanup's walk over old resolved incidents, oldest first.
            models.Index(fields=["resolved_at"]),
            # The noise-reduction sweeps (every minute) look only at these few rows.
            models.Index(fields=["id"], name="incident_flapping", condition=Q(is_flapping=True)),
            models.Index(
                fields=["id"],
                name="incident_escalation_held",
                condition=~Q(escalation_held_reason="") & ~Q(status="resolved"),
            ),
        ]

    def __str__(self) -> str:
        return f"#{self.pk} {self.summary[:60]}"

    @property
    def is_open(self) -> bool:
        return self.status != self.Status.RESOLVED


class AlertQuerySet(models.QuerySet):
    def for_event(self, *, incident_id: int | None, key, event, now) -> "Alert":
        """A new open alert of `event` (a normalised trigger), not saved yet."""
        return self.model(
            incident_id=incident_id,
            integration_key=key,
            dedup_key=event.dedup_key,
            summary=event.summary,
            severity=event.severity,
            labels=event.labels,
            first_seen_at=now,
            last_seen_at=now,
            last_trigger_at=now,
        )

    def open_for_event(self, *, incident_id: int, key, event, now) -> "Alert":
        """A new open alert of `event` inside an incident, saved. Raises IntegrityError when
        an open alert with the same (key, dedup key) exists."""
        alert = self.for_event(incident_id=incident_id, key=key, event=event, now=now)
        alert.save(force_insert=True)
        return alert


class Alert(models.Model):
    """One dedup key of one integration key, inside an incident."""

    class Status(models.TextChoices):
        OPEN = "open", "Open"
        RESOLVED = "resolved", "Resolved"

    incident = models.ForeignKey(Incident, on_delete=models.CASCADE, related_name="alerts")
    integration_key = models.ForeignKey(
        "integrations.IntegrationKey", null=True, on_delete=models.SET_NULL, related_name="alerts"
    )
    dedup_key = models.CharField(max_length=255)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.OPEN)
    summary = models.CharField(max_length=1024)
    severity = models.CharField(max_length=10, choices=Severity.choices, default=Severity.WARNING)
    labels = models.JSONField(default=dict, blank=True)
    count = models.PositiveIntegerField(default=1)
    first_seen_at = models.DateTimeField(default=timezone.now)
    last_seen_at = models.DateTimeField(default=timezone.now)
    last_trigger_at = models.DateTimeField(default=timezone.now)
    resolved_at = models.DateTimeField(null=True, blank=True)

    objects = AlertQuerySet.as_manager()

    class Meta:
        ordering = ["id"]
        constraints = [
            # The database settles dedup races: at most one open alert per (key, dedup key).
            models.UniqueConstraint(
                fields=["integration_key", "dedup_key"],
                condition=Q(status="open"),
                name="one_open_alert_per_key_and_dedup_key",
            )
        ]

    def __str__(self) -> str:
        return self.dedup_key


class Event(models.Model):
    """One normalised event as received, with the outcome the pipeline gave it."""

    class Action(models.TextChoices):
        TRIGGER = "trigger", "Trigger"
        ACKNOWLEDGE = "acknowledge", "Acknowledge"
        RESOLVE = "resolve", "Resolve"
        HEARTBEAT = "heartbeat", "Heartbeat"
        CHANGE = "change", "Change"
        NOTE = "note", "Note"
        UPDATE = "update", "Update"
        NONE = "none", "None"

    class Outcome(models.TextChoices):
        CREATED = "created", "Created"
        UPDATED = "updated", "Updated"
        GROUPED = "grouped", "Grouped"
        ACKNOWLEDGED = "acknowledged", "Acknowledged"
        RESOLVED = "resolved", "Resolved"
        SUPPRESSED = "suppressed", "Suppressed"
        IGNORED = "ignored", "Ignored"
        TEST = "test", "Test"
        HEARTBEAT = "heartbeat", "Heartbeat"
        REJECTED = "rejected", "Rejected"

    integration_key = models.ForeignKey(
        "integrations.IntegrationKey", null=True, on_delete=models.SET_NULL, related_name="events"
    )
    incident = models.ForeignKey(
        Incident, null=True, blank=True, on_delete=models.SET_NULL, related_name="events"
    )
    alert = models.ForeignKey(Alert, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    format = models.CharField(max_length=30)
    action = models.CharField(max_length=20, choices=Action.choices)
    outcome = models.CharField(max_length=20, choices=Outcome.choices)
    reason = models.CharField(max_length=500, blank=True, help_text="Why this outcome.")
    dedup_key = models.CharField(max_length=255, blank=True)
    summary = models.CharField(max_length=1024, blank=True)
    severity = models.CharField(max_length=10, blank=True)
    original_severity = models.CharField(max_length=100, blank=True)
    normalized = models.JSONField(default=dict, blank=True)
    raw = models.TextField(blank=True, help_text="The body as received.")
    client_ip = models.GenericIPAddressField(null=True, blank=True)
    # The sender's User-Agent (cut to 200), so revoking a key can say who still uses it.
    user_agent = models.CharField(max_length=200, blank=True)
    received_at = models.DateTimeField(default=timezone.now)
    suppressed_by = models.ForeignKey(
        "incidents.SuppressionRule", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    # The id a vendor-shaped door answered with (Opsgenie's requestId), for its
    # "get request status" call; None for the other doors.
    request_id = models.UUIDField(null=True, blank=True)

    class Meta:
        ordering = ["-id"]
        indexes = [
            models.Index(fields=["integration_key", "-id"]),
            models.Index(fields=["incident", "id"]),
            models.Index(fields=["received_at"]),
            models.Index(fields=["request_id"], name="event_request_id", condition=Q(request_id__isnull=False)),
            # The daily cleanup's stray events: without the condition each batch would wade
            # through the old events of incidents still kept.
            models.Index(fields=["received_at"], name="event_orphan_received", condition=Q(incident__isnull=True)),
        ]

    def __str__(self) -> str:
        return f"{self.format} {self.action} -> {self.outcome}"


class TimelineEntry(models.Model):
    """Everything that happened to an incident, in order, with who did it."""

    class Kind(models.TextChoices):
        EVENT = "event", "Event received"
        CREATED = "created", "Created"
        ACKNOWLEDGED = "acknowledged", "Acknowledged"
        RESOLVED = "resolved", "Resolved"
        NOTE = "note", "Note"
        ESCALATION = "escalation", "Escalation step"
        NOTIFICATION = "notification", "Notification"
        NOTIFICATION_FAILED = "notification_failed", "Notification failed"
        REASSIGNED = "reassigned", "Reassigned"
        FLAPPING = "flapping", "Flapping"
        MAINTENANCE = "maintenance", "Maintenance"
        REFUSED = "refused", "Refused"

    incident = models.ForeignKey(Incident, on_delete=models.CASCADE, related_name="timeline")
    kind = models.CharField(max_length=30, choices=Kind.choices)
    message = models.TextField()
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    data = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["created_at", "id"]
        indexes = [models.Index(fields=["incident", "created_at"])]
        verbose_name_plural = "timeline entries"


class ChangeEvent(models.Model):
    """A deploy or config change: shown beside incidents, never pages."""

    integration_key = models.ForeignKey(
        "integrations.IntegrationKey", null=True, on_delete=models.SET_NULL, related_name="changes"
    )
    team = models.ForeignKey(
        "oncall.Team", null=True, blank=True, on_delete=models.SET_NULL, related_name="changes"
    )
    summary = models.CharField(max_length=1024)
    source = models.CharField(max_length=1024, blank=True)
    timestamp = models.DateTimeField(null=True, blank=True)
    custom_details = models.JSONField(null=True, blank=True)
    links = models.JSONField(default=list, blank=True)
    raw = models.TextField(blank=True)
    received_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-received_at", "-id"]
        indexes = [models.Index(fields=["team", "-received_at"])]


class SuppressionRule(models.Model):
    class Operator(models.TextChoices):
        CONTAINS = "contains", "contains"
        EQUALS = "equals", "equals"
        REGEX = "regex", "matches regex"
        NOT_CONTAINS = "not_contains", "does not contain"
        NOT_EQUALS = "not_equals", "does not equal"
        NOT_REGEX = "not_regex", "does not match regex"

    name = models.CharField(max_length=100, blank=True)
    team = models.ForeignKey(
        "oncall.Team", null=True, blank=True, on_delete=models.CASCADE, related_name="suppression_rules"
    )
    integration_key = models.ForeignKey(
        "integrations.IntegrationKey",
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="suppression_rules",
    )
    field = models.CharField(max_length=150)
    operator = models.CharField(max_length=20, choices=Operator.choices)
    value = models.CharField(max_length=512)
    enabled = models.BooleanField(default=True)
    order = models.PositiveIntegerField(default=0)
    expires_at = models.DateTimeField(null=True, blank=True)
    hit_count = models.PositiveIntegerField(default=0)
    last_hit_at = models.DateTimeField(null=True, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["order", "id"]

    def __str__(self) -> str:
        return self.name or f"{self.field} {self.operator} {self.value!r}"

    def clean(self):
        validate_rule(self.field, self.operator, self.value)
        if self.integration_key_id and self.team_id and self.integration_key.team_id != self.team_id:
            raise ValidationError({"integration_key": "This key belongs to another team."})

    def save(self, *args, **kwargs):
        # However the row is written (admin, API, shell), a pattern RE2 cannot run safely
        # never reaches ingest; and ingest's cached copy of the rules is dropped.
        validate_rule(self.field, self.operator, self.value)
        super().save(*args, **kwargs)
        rule_cache.invalidate_now_and_on_commit()

    def delete(self, *args, **kwargs):
        result = super().delete(*args, **kwargs)
        rule_cache.invalidate_now_and_on_commit()
        return result


class MaintenanceWindow(models.Model):
    """Events are stored and incidents open, but nobody is paged until the window ends."""

    team = models.ForeignKey(
        "oncall.Team", null=True, blank=True, on_delete=models.CASCADE, related_name="maintenance_windows"
    )
    integration_key = models.ForeignKey(
        "integrations.IntegrationKey",
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="maintenance_windows",
    )
    start = models.DateTimeField()
    end = models.DateTimeField()
    reason = models.CharField(max_length=500)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-start"]
        indexes = [models.Index(fields=["start", "end"])]

    def __str__(self) -> str:
        return f"{self.reason[:60]} ({self.start:%Y-%m-%d %H:%M} to {self.end:%Y-%m-%d %H:%M})"

    def clean(self):
        if self.start and self.end and self.end <= self.start:
            raise ValidationError({"end": "A maintenance window must end after it starts."})
        if self.integration_key_id and self.team_id and self.integration_key.team_id != self.team_id:
            raise ValidationError({"integration_key": "This key belongs to another team."})
