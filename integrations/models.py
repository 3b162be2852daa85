"""Integration keys: what an alert source presents at a door."""

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.utils import timezone

from integrations import keys


class IntegrationKeyQuerySet(models.QuerySet):
    def active(self):
        return self.filter(revoked_at__isnull=True)

    def for_user(self, user):
        if not user.is_authenticated:  # e.g. the OpenAPI generator's anonymous request
            return self.none()
        if user.is_superuser:
            return self
        return self.filter(team__memberships__user=user)

    def authenticate(self, raw_key: str | None):
        """The active key whose digest matches, or None. One indexed equality lookup."""
        if not raw_key or not isinstance(raw_key, str) or len(raw_key) > 200:
            return None
        return (
            self.active()
            .select_related("team")
            .filter(key_digest=keys.digest(raw_key.strip()))
            .first()
        )


class IntegrationKey(models.Model):
    class GroupingType(models.TextChoices):
        NONE = "none", "No grouping"
        TIME_WINDOW = "time_window", "Time window"

    name = models.CharField(max_length=100)
    key_prefix = models.CharField(max_length=16, editable=False)
    key_digest = models.CharField(max_length=64, unique=True, editable=False)
    escalation_policy = models.ForeignKey(
        "escalation.EscalationPolicy", on_delete=models.PROTECT, related_name="integration_keys"
    )
    team = models.ForeignKey(
        "oncall.Team",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="integration_keys",
    )
    grouping_type = models.CharField(
        max_length=20, choices=GroupingType.choices, default=GroupingType.NONE
    )
    grouping_window_seconds = models.PositiveIntegerField(default=300)
    grouping_labels = models.JSONField(
        default=list,
        blank=True,
        help_text="Optional: within the window, group only alerts whose values of these labels match.",
    )
    group_by_alertmanager_group_key = models.BooleanField(
        default=False, help_text="Alertmanager door: one incident per groupKey."
    )
    # Per-key flapping limits; empty means the installation's FLAPPING_THRESHOLD and
    # FLAPPING_WINDOW_SECONDS. Read from the key row ingest has already loaded: no query.
    flapping_threshold = models.PositiveIntegerField(
        null=True, blank=True, validators=[MinValueValidator(1), MaxValueValidator(1000)],
        help_text="More state changes than this within the window mark an alert flapping (empty: the default).",
    )
    flapping_window_seconds = models.PositiveIntegerField(
        null=True, blank=True, validators=[MinValueValidator(60), MaxValueValidator(86400)],
        help_text="The flapping window, 60 to 86400 seconds (empty: the default).",
    )
    watchdog_alertnames = models.JSONField(
        default=list,
        blank=True,
        help_text="Extra alertnames that feed the heartbeat (Watchdog and DeadMansSwitch always do).",
    )
    heartbeat_interval_seconds = models.PositiveIntegerField(
        null=True, blank=True, help_text="Open an incident when no beat arrives for this long."
    )
    heartbeat_grace_seconds = models.PositiveIntegerField(default=60)
    last_heartbeat_at = models.DateTimeField(null=True, blank=True)
    pagertree_token_digest = models.CharField(
        max_length=64, blank=True, editable=False,
        help_text="SHA-256 of the optional pagertree-token header value.",
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    last_used_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)
    rotated_from = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.SET_NULL, related_name="rotations"
    )

    objects = IntegrationKeyQuerySet.as_manager()

    class Meta:
        ordering = ["name", "id"]

    def __str__(self) -> str:
        return f"{self.name} ({self.key_prefix}…)"

    @property
    def is_active(self) -> bool:
        return self.revoked_at is None

    def issue_raw_key(self) -> str:
        """Give this (unsaved or rotated) key a fresh secret; return it. The caller shows it
        once; only its digest is stored."""
        raw = keys.generate_raw_key()
        self.key_digest = keys.digest(raw)
        self.key_prefix = keys.display_prefix(raw)
        return raw

    @classmethod
    def create_with_raw_key(cls, **fields) -> tuple["IntegrationKey", str]:
        key = cls(**fields)
        raw = key.issue_raw_key()
        key.save()
        return key, raw

    def rotate(self, by=None) -> tuple["IntegrationKey", str]:
        """A new key with the same settings. The old one keeps working until revoked."""
        return IntegrationKey.create_with_raw_key(
            name=self.name,
            escalation_policy=self.escalation_policy,
            team=self.team,
            grouping_type=self.grouping_type,
            grouping_window_seconds=self.grouping_window_seconds,
            grouping_labels=self.grouping_labels,
            group_by_alertmanager_group_key=self.group_by_alertmanager_group_key,
            flapping_threshold=self.flapping_threshold,
            flapping_window_seconds=self.flapping_window_seconds,
            watchdog_alertnames=self.watchdog_alertnames,
            heartbeat_interval_seconds=self.heartbeat_interval_seconds,
            heartbeat_grace_seconds=self.heartbeat_grace_seconds,
            pagertree_token_digest=self.pagertree_token_digest,
            created_by=by,
            rotated_from=self,
        )

    def revoke(self) -> None:
        if self.revoked_at is None:
            self.revoked_at = timezone.now()
            self.save(update_fields=["revoked_at"])

    def set_pagertree_token(self, token: str) -> None:
        self.pagertree_token_digest = keys.digest(token) if token else ""


class NamedHeartbeatQuerySet(models.QuerySet):
    def record_ping(self, key: IntegrationKey, name: str, now) -> None:
        """A ping of `name` under `key`: one statement that creates the heartbeat on its first
        ping (with the default interval) or moves its last ping, so two first pings racing
        each other never collide."""
        self.bulk_create(
            [NamedHeartbeat(integration_key=key, name=name, last_ping_at=now,
                            interval_seconds=settings.NAMED_HEARTBEAT_INTERVAL_SECONDS)],
            update_conflicts=True, unique_fields=["integration_key", "name"], update_fields=["last_ping_at"],
        )


class NamedHeartbeat(models.Model):
    """One of several heartbeats under a key, each with its own name and interval (Opsgenie's
    `/v2/heartbeats/<name>/ping`): silence longer than interval + grace opens an incident,
    and the next ping resolves it."""

    integration_key = models.ForeignKey(IntegrationKey, on_delete=models.CASCADE, related_name="named_heartbeats")
    name = models.CharField(max_length=100)
    interval_seconds = models.PositiveIntegerField(help_text="Open an incident when no ping arrives for this long.")
    grace_seconds = models.PositiveIntegerField(default=60)
    last_ping_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    objects = NamedHeartbeatQuerySet.as_manager()

    class Meta:
        ordering = ["integration_key", "name"]
        constraints = [
            models.UniqueConstraint(fields=["integration_key", "name"], name="one_named_heartbeat_per_key_and_name"),
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.integration_key})"
