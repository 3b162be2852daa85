"""Escalation policies, contact methods and the record of every notification."""

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models

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
    address = models.CharField(max_length=500, help_text="Email address or webhook URL.")
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
    # keys, an ntfy access token). Never shown: not in API answers, lists or timelines.
    secrets = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ["user", "id"]

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
    address = models.CharField(max_length=500)
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
