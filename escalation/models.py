"""Escalation policies, contact methods and the record of every notification."""

import base64
import secrets as random_secrets

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models

from escalation.fields import EncryptedJSONField, EncryptedTextField, lookup_digest
from escalation.redaction import shown_address


class EscalationPolicy(models.Model):
    name = models.CharField(max_length=100)
    team = models.ForeignKey(
        "oncall.Team", null=True, blank=True, on_delete=models.CASCADE, related_name="policies"
    )
    repeat_count = models.PositiveIntegerField(
        default=0, help_text="How many more times to run all steps when nobody acknowledges."
    )
    # A step's delay counts from the step before it; the first step of a repeat needs its
    # own gap, or it would page at the same instant as the last step.
    repeat_delay_minutes = models.PositiveIntegerField(
        default=15, help_text="Minutes after the last step before the steps repeat."
    )
    description = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name"]
        verbose_name_plural = "escalation policies"

    def __str__(self) -> str:
        return self.name


class EscalationStep(models.Model):
    policy = models.ForeignKey(EscalationPolicy, on_delete=models.CASCADE, related_name="steps")
    order = models.PositiveIntegerField(default=0)
    delay_minutes = models.PositiveIntegerField(
        default=0, help_text="Minutes after the previous step (step 0: after the trigger)."
    )
    users = models.ManyToManyField(settings.AUTH_USER_MODEL, blank=True, related_name="+")
    schedules = models.ManyToManyField("oncall.Schedule", blank=True, related_name="+")
    teams = models.ManyToManyField("oncall.Team", blank=True, related_name="+")

    class Meta:
        ordering = ["policy", "order", "id"]

    def __str__(self) -> str:
        return f"{self.policy}: step {self.order}"


def new_signing_secret() -> str:
    """A Standard Webhooks secret: `whsec_` and 32 random bytes in base64."""
    return "whsec_" + base64.b64encode(random_secrets.token_bytes(32)).decode("ascii")


class ContactMethodQuerySet(models.QuerySet):
    def at_address(self, kind: str, address: str):
        """Methods of `kind` reaching `address`, found by digest (the address is encrypted)."""
        return self.filter(kind=kind, address_digest=lookup_digest(address))


class ContactMethod(models.Model):
    class Kind(models.TextChoices):
        EMAIL = "email", "Email"
        WEBHOOK = "webhook", "Outgoing webhook"
        SMS = "sms", "SMS"
        VOICE = "voice", "Voice call"
        SLACK = "slack", "Slack"
        PUSH = "push", "Web Push"
        NTFY = "ntfy", "ntfy"
        APPRISE = "apprise", "Apprise"

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="contact_methods"
    )
    kind = models.CharField(max_length=10, choices=Kind.choices)
    # Encrypted at rest: a Slack or Teams webhook URL, a push endpoint and an apprise URL
    # are credentials. Found by value through `address_digest` (`at_address`).
    address = EncryptedTextField(max_length=500, help_text="Email address or webhook URL.")
    address_digest = models.CharField(max_length=64, blank=True, db_index=True, editable=False)
    slack_format = models.BooleanField(
        default=False, help_text="Send a Slack-compatible body to the webhook."
    )
    enabled = models.BooleanField(default=True)
    # True for every method made by an administrator (admin, REST API) and for every row
    # that existed before verification did, so nothing that paged stops paging. A method a
    # person adds on their Profile page starts False and pages only once its code is entered.
    verified = models.BooleanField(
        default=True, help_text="Only verified methods are paged."
    )
    # The pending verification code: its digest only (HMAC with SECRET_KEY), its expiry and
    # how many wrong codes were tried (`escalation.verification`).
    verification_digest = models.CharField(max_length=64, blank=True, editable=False)
    verification_expires_at = models.DateTimeField(null=True, blank=True, editable=False)
    verification_attempts = models.PositiveSmallIntegerField(default=0, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)
    # Why Vigil turned the method off by itself (a push subscription the push service says
    # is gone); shown to its owner, cleared when they turn it on again.
    disabled_reason = models.CharField(max_length=200, blank=True)
    # What the channel needs besides the address (a push subscription's p256dh and auth
    # keys, an ntfy access token, a webhook's `signing_secret`). Encrypted at rest, never
    # shown: not in API answers, lists or timelines (a signing secret once, when made).
    secrets = EncryptedJSONField(default=dict, blank=True)

    objects = ContactMethodQuerySet.as_manager()

    class Meta:
        ordering = ["user", "id"]

    def save(self, *args, **kwargs):
        # Kept in step here, so every way of writing a method (admin, API, portal, push
        # renewal) keeps the digest right and gives a webhook its signing secret.
        self.address_digest = lookup_digest(self.address or "")
        extra = set()
        if self.kind == self.Kind.WEBHOOK and not (self.secrets or {}).get("signing_secret"):
            self.secrets = {**(self.secrets or {}), "signing_secret": new_signing_secret()}
            extra.add("secrets")
        update_fields = kwargs.get("update_fields")
        if update_fields is not None:
            if "address" in update_fields:
                extra.add("address_digest")
            kwargs["update_fields"] = set(update_fields) | extra
        super().save(*args, **kwargs)

    @property
    def signing_secret(self) -> str:
        return (self.secrets or {}).get("signing_secret", "")

    def rotate_signing_secret(self) -> str:
        """A new secret replaces the old at once; returns it (to be shown this once)."""
        self.secrets = {**(self.secrets or {}), "signing_secret": new_signing_secret()}
        self.save(update_fields=["secrets"])
        return self.signing_secret

    # The address is checked by its channel (`escalation.channels.check_contact_address`,
    # called by the API serializer and the admin form), not in clean(): a webhook's check
    # resolves its host, and model methods do no I/O.
    def __str__(self) -> str:
        return f"{self.kind}: {shown_address(self.kind, self.address)}"


class Urgency(models.TextChoices):
    """PagerDuty's split: critical and error incidents are high urgency, warning and info low."""

    HIGH = "high", "High urgency (critical, error)"
    LOW = "low", "Low urgency (warning, info)"


HIGH_URGENCY_SEVERITIES = frozenset({"critical", "error"})


def urgency_of(severity: str) -> str:
    return Urgency.HIGH if severity in HIGH_URGENCY_SEVERITIES else Urgency.LOW


class NotificationRule(models.Model):
    """Which contact method fires how many minutes after the user is paged, for high- or
    low-urgency incidents (blank: both, as every rule did before urgency existed)."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="notification_rules"
    )
    contact_method = models.ForeignKey(ContactMethod, on_delete=models.CASCADE, related_name="rules")
    delay_minutes = models.PositiveIntegerField(default=0)
    urgency = models.CharField(
        max_length=4, choices=Urgency.choices, blank=True, default="",
        help_text="Blank: the rule applies to every incident.",
    )

    class Meta:
        ordering = ["user", "delay_minutes"]

    def __str__(self) -> str:
        which = f" ({self.urgency} urgency)" if self.urgency else ""
        return f"{self.contact_method} after {self.delay_minutes} min{which}"

    def clean(self):
        if self.contact_method_id and self.user_id and self.contact_method.user_id != self.user_id:
            raise ValidationError({"contact_method": "A rule can only use the user's own contact method."})


class Notification(models.Model):
    """One message to one person on one channel. `dedupe_key` makes a retried or
    re-run step send at most once (incident, step, repeat, user, channel, kind)."""

    class Kind(models.TextChoices):
        PAGE = "page", "Page"
        RECOVERY = "recovery", "Recovery"
        SUMMARY = "summary", "Flapping summary"

    class Status(models.TextChoices):
        PENDING = "pending", "Pending"
        SENT = "sent", "Sent"
        FAILED = "failed", "Failed"
        HELD = "held", "Held"
        # Not sent, on purpose: acknowledged before it was due, or folded into a summary.
        CANCELLED = "cancelled", "Cancelled"

    incident = models.ForeignKey(
        "incidents.Incident", on_delete=models.CASCADE, related_name="notifications"
    )
    user = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL)
    contact_method = models.ForeignKey(ContactMethod, null=True, on_delete=models.SET_NULL)
    kind = models.CharField(max_length=10, choices=Kind.choices, default=Kind.PAGE)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PENDING)
    step_index = models.IntegerField(default=0)
    repeat_index = models.IntegerField(default=0)
    channel = models.CharField(max_length=10)
    address = EncryptedTextField(max_length=500)  # a copy of the method's: as secret
    dedupe_key = models.CharField(max_length=200, unique=True)
    attempts = models.PositiveIntegerField(default=0)
    last_error = models.TextField(blank=True)
    status_reason = models.CharField(max_length=200, blank=True)
    due_at = models.DateTimeField()
    # When a send task was last handed to the broker (database clock); the tick re-sends a
    # pending row whose task looks lost.
    enqueued_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    sent_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["created_at", "id"]
        indexes = [models.Index(fields=["status", "due_at"])]

    def __str__(self) -> str:
        return f"{self.kind} #{self.incident_id} to {self.user_id} by {self.channel} ({self.status})"


class EscalationTickState(models.Model):
    """A single row recording the last completed escalation tick (for health checks)."""

    name = models.CharField(max_length=50, unique=True)
    last_tick_at = models.DateTimeField(null=True)


class SmsReplyCode(models.Model):
    """The number in a texted page's reply codes ("Reply 1a ack, 1c resolve"): small and per
    person, so it names one page even when that person has several open. A number is
    reused once its incident is resolved; the reply is looked up by the sender's phone."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    number = models.PositiveIntegerField()
    incident = models.ForeignKey("incidents.Incident", on_delete=models.CASCADE, related_name="+")
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["user", "number"], name="sms_reply_code_per_user")]

    def __str__(self) -> str:
        return f"{self.number} for {self.user_id}: incident {self.incident_id}"
class SlackMessage(models.Model):
    """Where a notification's Slack message landed (conversation id + message ts), so the
    message can be updated in place when the incident changes state (`chat.update`)."""

    notification = models.OneToOneField(Notification, on_delete=models.CASCADE, related_name="slack_message")
    channel = models.CharField(max_length=40)
    ts = models.CharField(max_length=40)
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return f"Slack message {self.channel}/{self.ts} of notification {self.notification_id}"
