"""Sending one Notification, and writing the recovery and flapping-summary rows.

A Notification row is written before anything is sent (by the engine, a resolve, or a
summary); a task then sends it. The send locks the row (SKIP LOCKED, so a duplicate task is
a no-op), checks it is still due and still wanted, sends through its channel
(`escalation.channels`) within a deadline, and records the outcome with a timeline entry
in the same transaction. What is the same for every channel lives here: the idempotency
key, retries, the timeline line and the failure record. A failure is retried with
exponential backoff, at most NOTIFICATION_MAX_RETRIES times, and every failure is on the
row and on the incident's timeline, never silent."""

from __future__ import annotations

import logging
from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import Q

from escalation import dispatch, failpoints, messages
from escalation.channels import Delivered, Failed, Outcome, Retry, channel_for
from escalation.channels.slack import SlackChannel
from escalation.clock import db_now
from escalation.models import ContactMethod, Notification
from escalation.redaction import shown_address
from incidents.models import Incident, TimelineEntry

logger = logging.getLogger("vigil.notify")

FOLDED_REASON = "folded into the flapping summary"
ENQUEUE_BATCH = 500


# --- handing rows to the broker ----------------------------------------------------------


def mark_not_enqueued(notification_ids: list[int]) -> None:
    """Their task never reached the broker: clear `enqueued_at`, so the next tick sends them
    at once instead of waiting out the resend grace period."""
    try:
        Notification.objects.filter(pk__in=notification_ids).update(enqueued_at=None)
    except Exception as exc:  # the database is down too: the tick's grace period covers it
        logger.warning("could not mark notifications %r as not enqueued: %s", notification_ids, exc)


def send_on_commit(notification_ids: list[int]) -> None:
    """One send task per row once the caller's transaction commits."""
    if notification_ids:
        dispatch.on_commit_send_notifications(notification_ids, on_not_enqueued=mark_not_enqueued)


# --- delivery --------------------------------------------------------------------------


def _held_count(notification: Notification) -> int:
    if notification.kind != Notification.Kind.SUMMARY:
        return 0
    return Notification.objects.filter(
        incident_id=notification.incident_id, user_id=notification.user_id,
        contact_method_id=notification.contact_method_id, kind=Notification.Kind.PAGE,
        status=Notification.Status.CANCELLED, status_reason=FOLDED_REASON,
    ).count()


def deliver(notification: Notification) -> Outcome:
    """One attempt through the notification's channel, with the context every channel gets."""
    method = notification.contact_method
    if method is None or not method.enabled or not method.verified or notification.user is None:
        return Failed("the contact method was removed, disabled or is not verified")
    notification.address = method.address  # the user may have corrected it since
    channel = channel_for(method.kind)
    if channel is None:
        return Failed(f"unknown channel {method.kind!r}")
    context = messages.context_for(notification, held_count=_held_count(notification))
    # Shared by every channel, the same on every attempt: a resend after a crash is the
    # same message to a mail client (Message-ID) or a receiver (Idempotency-Key).
    context["idempotency_key"] = messages.idempotency_key(notification)
    context["message_id"] = messages.message_id(notification)
    return channel.send(notification, context)


# --- one send ---------------------------------------------------------------------------


def _describe(notification: Notification) -> str:
    who = notification.user.get_username() if notification.user else "a deleted user"
    channel = channel_for(notification.channel)
    verb = channel.verb if channel is not None else "Notified"
    what = {"page": "page", "recovery": "recovery note", "summary": "flapping summary"}[notification.kind]
    step = ""
    if notification.kind == Notification.Kind.PAGE:
        step = f", step {notification.step_index + 1}" if notification.step_index >= 0 else ", reassigned"
    return f"{verb} {who} ({shown_address(notification.channel, notification.address)}): {what}{step}"


def _record(notification: Notification, kind: str, message: str) -> None:
    TimelineEntry.objects.create(
        incident_id=notification.incident_id, kind=kind, message=message,
        data={"notification_id": notification.pk, "channel": notification.channel,
              "attempts": notification.attempts, "status": notification.status},
    )


def retry_delay(attempts: int) -> int:
    base = settings.NOTIFICATION_RETRY_BASE_SECONDS
    return min(60, base * 2 ** max(0, attempts - 1))


def send_notification(notification_id: int) -> str:
    """Send one pending, due notification. Returns what happened (for logs and tests)."""
    retry_in = None
    failpoints.hit("send_started")
    with transaction.atomic():
        notification = (
            Notification.objects.select_for_update(skip_locked=True, of=("self",))
            .select_related("incident", "user", "contact_method")
            .filter(pk=notification_id)
            .first()
        )
        if notification is None:
            return "locked or gone"
        if notification.status != Notification.Status.PENDING:
            return notification.status
        now = db_now()
        if notification.due_at > now:
            return "not due"
        incident = notification.incident
        if notification.kind == Notification.Kind.PAGE and incident.status != Incident.Status.TRIGGERED:
            notification.status = Notification.Status.CANCELLED
            notification.status_reason = f"not sent: the incident was {incident.status} first"
            notification.save(update_fields=["status", "status_reason"])
            return "cancelled"
        failpoints.hit("before_send")
        # The row stays locked while the message goes out (at most the send deadline), so a
        # duplicate task skips it instead of sending twice.
        try:
            outcome = deliver(notification)
        except Exception as exc:  # a bug must not leave the row pending forever, unseen
            logger.exception("sending notification %s crashed", notification.pk)
            outcome = Retry(f"internal error: {type(exc).__name__}: {exc}")
        if isinstance(outcome, Delivered):
            notification.status = Notification.Status.SENT
            notification.sent_at = now
            notification.attempts += 1
            notification.save(update_fields=["status", "sent_at", "attempts", "address"])
            _record(notification, TimelineEntry.Kind.NOTIFICATION, _describe(notification))
            _recover_late_page(notification)
        else:
            retry_in = _failed(notification, outcome.error, now, permanent=isinstance(outcome, Failed))
        failpoints.hit("after_send_before_commit")
    failpoints.hit("after_send_commit")
    # A retry's countdown stays short (at most a minute): the row's `due_at`, not the
    # broker, is what guarantees the retry happens.
    if retry_in is not None and not dispatch.enqueue(dispatch.SEND_NOTIFICATION, notification_id,
                                                     countdown=min(retry_in, 60)):
        mark_not_enqueued([notification_id])
    return notification.status


def _failed(notification: Notification, error: str, now, *, permanent: bool) -> int | None:
    notification.attempts += 1
    notification.last_error = error[:2000]
    max_retries = settings.NOTIFICATION_MAX_RETRIES
    retry_in = None
    if permanent or notification.attempts > max_retries:
        notification.status = Notification.Status.FAILED
        outcome = "giving up" if not permanent else "not retried"
    else:
        retry_in = retry_delay(notification.attempts)
        notification.due_at = now + timedelta(seconds=retry_in)
        notification.enqueued_at = now
        outcome = f"retrying in {retry_in} s"
    notification.save(update_fields=["attempts", "last_error", "status", "due_at", "enqueued_at", "address"])
    _record(
        notification,
        TimelineEntry.Kind.NOTIFICATION_FAILED,
        f"{_describe(notification)} failed (attempt {notification.attempts}): {error[:300]}; {outcome}",
    )
    logger.warning("notification %s failed (attempt %s): %s", notification.pk, notification.attempts, error)
    return retry_in


def _recover_late_page(notification: Notification) -> None:
    """A page that went out while the incident was being resolved missed the recovery list:
    give that person their recovery note too."""
    if notification.kind != Notification.Kind.PAGE:
        return
    status = Incident.objects.filter(pk=notification.incident_id).values_list("status", flat=True).first()
    if status == Incident.Status.RESOLVED:
        write_recovery_notifications(notification.incident_id)


# --- the tick's safety net ------------------------------------------------------------


def enqueue_due_notifications(now=None) -> int:
    """Hand pending, due rows to the broker when their task looks lost: never enqueued,
    enqueue failed, or enqueued longer ago than the grace period."""
    clock = now or db_now()
    grace = timedelta(seconds=settings.NOTIFICATION_RESEND_GRACE_SECONDS)
    ids = list(
        Notification.objects.filter(status=Notification.Status.PENDING, due_at__lte=clock)
        .filter(Q(enqueued_at__isnull=True) | Q(enqueued_at__lte=clock - grace))
        .order_by("due_at", "pk")
        .values_list("pk", flat=True)[:ENQUEUE_BATCH]
    )
    if ids:
        Notification.objects.filter(pk__in=ids).update(enqueued_at=clock)
        dispatch.enqueue_each(dispatch.SEND_NOTIFICATION, ids, mark_not_enqueued)
    return len(ids)


# --- recovery and flapping summary rows ---------------------------------------------------


def _recipients(incident_id: int, which: Q) -> list[tuple[int, int]]:
    """(user, contact method) pairs of this incident's notifications matching `which`, in
    the order they were first written."""
    rows = (
        Notification.objects.filter(which, incident_id=incident_id, user__isnull=False,
                                    contact_method__isnull=False)
        .order_by("pk")
        .values_list("user_id", "contact_method_id")
    )
    return list(dict.fromkeys(rows))


def _new_rows(incident_id: int, kind: str, pairs, key_suffix: str) -> list[int]:
    now = db_now()
    methods = ContactMethod.objects.in_bulk([cm for _u, cm in pairs])
    created = []
    for user_id, method_id in pairs:
        method = methods.get(method_id)
        if method is None or not method.enabled or not method.verified:
            continue
        channel = channel_for(method.kind)
        if kind != Notification.Kind.PAGE and channel is not None and channel.pages_only:
            continue
        notification, was_created = Notification.objects.get_or_create(
            dedupe_key=f"{kind}:{incident_id}:{user_id}:{method_id}{key_suffix}",
            defaults={
                "incident_id": incident_id, "user_id": user_id, "contact_method": method,
                "kind": kind, "status": Notification.Status.PENDING, "channel": method.kind,
                "address": method.address, "due_at": now, "enqueued_at": now,
            },
        )
        if was_created:
            created.append(notification.pk)
    return created


def write_recovery_notifications(incident_id: int) -> list[int]:
    """Write now, in the caller's transaction, one recovery row per (user, contact method)
    that a page reached, and send them once it commits. Idempotent.

    Written with the resolve, not after it: a broker that is down, or a process that dies
    right after the commit, then costs one tick, never the recovery note."""
    reached = Q(status=Notification.Status.SENT, kind__in=[Notification.Kind.PAGE, Notification.Kind.SUMMARY])
    pairs = _recipients(incident_id, reached)
    ids = _new_rows(incident_id, Notification.Kind.RECOVERY, pairs, "") if pairs else []
    send_on_commit(ids)
    return ids


@transaction.atomic
def send_flapping_summary(incident_id: int) -> list[int]:
    """One summary to everyone notified (or held back) for a flapping incident; the held
    pages are folded into it and will never be sent on their own."""
    pages = Notification.objects.filter(incident_id=incident_id, kind=Notification.Kind.PAGE)
    last_page = pages.order_by("-pk").values_list("pk", flat=True).first()
    notified = Q(kind=Notification.Kind.PAGE) & (
        Q(status__in=[Notification.Status.SENT, Notification.Status.HELD])
        | Q(status=Notification.Status.CANCELLED, status_reason=FOLDED_REASON)
    )
    pairs = _recipients(incident_id, notified)
    if last_page is None or not pairs:
        return []
    pages.filter(status=Notification.Status.HELD).update(
        status=Notification.Status.CANCELLED, status_reason=FOLDED_REASON
    )
    ids = _new_rows(incident_id, Notification.Kind.SUMMARY, pairs, f":{last_page}")
    send_on_commit(ids)
    return ids


# --- messages that show the incident's state ------------------------------------------------


def incident_state_changed(incident_id: int) -> None:
    """Call in the transaction that acknowledged or resolved the incident, by any route:
    after the commit, the messages that show its state (Slack's, with their buttons) are
    rewritten by a task. Costs nothing while no such channel is configured."""
    if SlackChannel.configured():
        dispatch.enqueue_on_commit(dispatch.REFRESH_SLACK_MESSAGES, incident_id)
