"""Teams, their members, and the on-call schedules escalation reads."""

import secrets
import zoneinfo

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.utils import timezone
from knox.models import AbstractAuthToken
from knox.settings import CONSTANTS


def validate_timezone(value: str) -> None:
    if value not in zoneinfo.available_timezones():
        raise ValidationError(f"{value!r} is not a known IANA time zone")


class TeamQuerySet(models.QuerySet):
    def for_user(self, user):
        if not user.is_authenticated:  # e.g. the OpenAPI generator's anonymous request
            return self.none()
        if user.is_superuser:
            return self
        return self.filter(memberships__user=user)

    def administered_by(self, user):
        if not user.is_authenticated:
            return self.none()
        if user.is_superuser:
            return self
        return self.filter(
            memberships__user=user, memberships__role=TeamMembership.Role.ADMIN
        )


class Team(models.Model):
    name = models.CharField(max_length=100, unique=True)
    slug = models.SlugField(max_length=100, unique=True)
    members = models.ManyToManyField(
        settings.AUTH_USER_MODEL, through="TeamMembership", related_name="teams"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    objects = TeamQuerySet.as_manager()

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name

    def is_admin(self, user) -> bool:
        return user.is_superuser or self.memberships.filter(
            user=user, role=TeamMembership.Role.ADMIN
        ).exists()

    def is_member(self, user) -> bool:
        return user.is_superuser or self.memberships.filter(user=user).exists()


class TeamMembership(models.Model):
    class Role(models.TextChoices):
        ADMIN = "admin", "Admin"
        RESPONDER = "responder", "Responder"

    team = models.ForeignKey(Team, on_delete=models.CASCADE, related_name="memberships")
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="team_memberships"
    )
    role = models.CharField(max_length=20, choices=Role.choices, default=Role.RESPONDER)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["team", "user"], name="unique_team_member")
        ]

    def __str__(self) -> str:
        return f"{self.user} in {self.team} ({self.role})"


class Schedule(models.Model):
    name = models.CharField(max_length=100)
    team = models.ForeignKey(
        Team, null=True, blank=True, on_delete=models.CASCADE, related_name="schedules"
    )
    time_zone = models.CharField(max_length=64, default="UTC", validators=[validate_timezone])
    description = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class Rotation(models.Model):
    """One layer of a schedule. Later layers (higher `order`) win where they have someone."""

    class ShiftKind(models.TextChoices):
        DAILY = "daily", "Daily"
        WEEKLY = "weekly", "Weekly"
        CUSTOM = "custom", "Custom hours"

    schedule = models.ForeignKey(Schedule, on_delete=models.CASCADE, related_name="rotations")
    name = models.CharField(max_length=100, blank=True)
    order = models.PositiveIntegerField(default=0)
    shift_kind = models.CharField(max_length=10, choices=ShiftKind.choices, default=ShiftKind.WEEKLY)
    shift_hours = models.PositiveIntegerField(
        default=24, help_text="Shift length in hours when the shift kind is custom."
    )
    handoff_time = models.TimeField(default="09:00")
    start = models.DateTimeField(help_text="When the first participant's first shift starts.")
    # Optional restriction: the rotation is only active between these local times
    # on these weekdays (0=Monday); empty means always.
    restrict_weekdays = models.JSONField(default=list, blank=True)
    restrict_start_time = models.TimeField(null=True, blank=True)
    restrict_end_time = models.TimeField(null=True, blank=True)

    class Meta:
        ordering = ["schedule", "order", "id"]

    def __str__(self) -> str:
        return self.name or f"Rotation {self.pk}"


class RotationParticipant(models.Model):
    rotation = models.ForeignKey(Rotation, on_delete=models.CASCADE, related_name="participants")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE)
    position = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["rotation", "position", "id"]


class ScheduleOverride(models.Model):
    """`user` covers the schedule from `start` to `end`, whatever the rotations say."""

    schedule = models.ForeignKey(Schedule, on_delete=models.CASCADE, related_name="overrides")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE)
    start = models.DateTimeField()
    end = models.DateTimeField()
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["start"]
        indexes = [models.Index(fields=["schedule", "start", "end"])]

    def clean(self):
        if self.start and self.end and self.end <= self.start:
            raise ValidationError({"end": "The override must end after it starts."})


class SwapRequest(models.Model):
    """`requester` asks `other` to take a stretch of the requester's shift. Nothing changes
    until `other` accepts in the portal; accepting writes a ScheduleOverride (kept here as
    `override`) so the schedule math has one kind of exception, not two."""

    class Status(models.TextChoices):
        PENDING = "pending", "Pending"
        ACCEPTED = "accepted", "Accepted"
        DECLINED = "declined", "Declined"
        CANCELLED = "cancelled", "Cancelled"

    schedule = models.ForeignKey(Schedule, on_delete=models.CASCADE, related_name="swap_requests")
    requester = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="swap_requests_made"
    )
    other = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="swap_requests_received"
    )
    start = models.DateTimeField()
    end = models.DateTimeField()
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PENDING)
    override = models.OneToOneField(
        ScheduleOverride, null=True, blank=True, on_delete=models.SET_NULL, related_name="swap_request"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    decided_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["start", "id"]
        indexes = [models.Index(fields=["other", "status"])]
        constraints = [
            models.CheckConstraint(condition=models.Q(end__gt=models.F("start")), name="swap_ends_after_start")
        ]

    def __str__(self) -> str:
        return f"{self.requester} -> {self.other} ({self.status})"


def new_calendar_secret() -> str:
    return secrets.token_urlsafe(32)


class CalendarFeedToken(models.Model):
    """The secret in a user's iCalendar subscription URL."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="calendar_token"
    )
    secret = models.CharField(max_length=64, unique=True, default=new_calendar_secret)
    created_at = models.DateTimeField(auto_now_add=True)


class UserProfile(models.Model):
    """What a person sets for themselves: the time zone every page shows times in."""

    user = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="vigil_profile")
    time_zone = models.CharField(max_length=64, default="UTC", validators=[validate_timezone])

    def __str__(self) -> str:
        return f"{self.user}: {self.time_zone}"


def time_zone_of(user) -> str:
    """The zone `user` reads times in (their Profile), else the site's."""
    return UserProfile.objects.filter(user=user).values_list("time_zone", flat=True).first() or settings.TIME_ZONE


class TeamInvitationQuerySet(models.QuerySet):
    def pending(self, now=None):
        """Neither accepted, revoked nor expired: the invitee can still accept."""
        return self.filter(accepted_at__isnull=True, revoked_at__isnull=True,
                           expires_at__gt=now or timezone.now())


class TeamInvitation(models.Model):
    """A team admin's invitation of an email address. Membership only follows when the
    person who reads that mailbox signs in (or signs up) with that address and presses
    Accept, so naming someone never adds them. The link's token is stored as its SHA-256
    digest only (`oncall.invitations`)."""

    team = models.ForeignKey(Team, on_delete=models.CASCADE, related_name="invitations")
    email = models.EmailField(help_text="Stored lower-cased; matched without regard to case.")
    role = models.CharField(max_length=20, choices=TeamMembership.Role.choices,
                            default=TeamMembership.Role.RESPONDER)
    invited_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL,
                                   related_name="+")
    token_digest = models.CharField(max_length=64, unique=True, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)
    expires_at = models.DateTimeField()
    accepted_at = models.DateTimeField(null=True, blank=True)
    accepted_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True,
                                    on_delete=models.SET_NULL, related_name="+")
    revoked_at = models.DateTimeField(null=True, blank=True)
    # Why the last mail could not be sent (SMTP refused, timed out); shown to the team's
    # admins, who can send a new link.
    send_error = models.CharField(max_length=300, blank=True)

    objects = TeamInvitationQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["team", "accepted_at", "revoked_at"])]

    def __str__(self) -> str:
        return f"{self.email} to {self.team} ({self.role})"


class ApiToken(AbstractAuthToken):
    """One REST API token of one person for one device or script (django-rest-knox's token,
    swapped in by KNOX_TOKEN_MODEL): only the SHA-512 digest and the first 15 characters
    (knox's lookup key) are stored. An id of its own so a token can be named in a URL
    without its digest."""

    id = models.BigAutoField(primary_key=True)
    digest = models.CharField(max_length=CONSTANTS.DIGEST_LENGTH, unique=True)
    name = models.CharField(max_length=100, help_text="Which device or script uses it.")

    class Meta:
        ordering = ["-created"]

    def __str__(self) -> str:
        return f"{self.name} of {self.user}"
