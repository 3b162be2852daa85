"""Hand work to Celery after the transaction commits, never before.

A broker that is down or hung must not fail or delay the request that already stored the
event: the enqueue is best-effort. The database holds every pending step
(`Incident.next_escalation_at`), so a lost task costs one beat tick, never a page."""

import logging
import time

from django.db import transaction

logger = logging.getLogger("vigil.dispatch")

# After a failed publish this process stops trying for a few seconds: with a hung broker
# every try costs a socket timeout on a request thread (T08), and the tick sends what we skip.
BROKER_BACKOFF_SECONDS = 5.0
_broker_down_until = [0.0]


def broker_backing_off() -> bool:
    return time.monotonic() < _broker_down_until[0]


def _broker_failed() -> None:
    _broker_down_until[0] = time.monotonic() + BROKER_BACKOFF_SECONDS


def reset_broker_backoff() -> None:
    """Publish again at once (tests start every case with a fresh process state)."""
    _broker_down_until[0] = 0.0


def _send(task_path: str, *args) -> None:
    from django.utils.module_loading import import_string

    if broker_backing_off():
        logger.debug("broker recently failed; leaving %s%r to the next tick", task_path, args)
        return
    try:
        import_string(task_path).delay(*args)
    except Exception as exc:  # broker down or hung: the beat tick will do it
        _broker_failed()
        logger.warning("could not enqueue %s%r: %s; the next tick will catch up", task_path, args, exc)


def on_commit_advance_escalation(incident_id: int) -> None:
    transaction.on_commit(lambda: _send("escalation.tasks.advance_escalation_task", incident_id))


def on_commit_send_recovery(incident_id: int) -> None:
    """Called inside the resolving transaction: the recovery rows are written with the
    resolve, so a broker that is down now costs one tick, never the message."""
    from escalation.notify import create_recovery_notifications

    ids = create_recovery_notifications(incident_id)
    if ids:
        on_commit_send_notifications(ids)


def on_commit_send_notifications(notification_ids: list[int]) -> None:
    transaction.on_commit(lambda: send_notifications_now(list(notification_ids)))


def send_notifications_now(notification_ids: list[int]) -> None:
    """Enqueue one send task per row; at the first broker failure, stop trying (each try may
    cost a second) and clear `enqueued_at` so the next tick picks the rest up at once."""
    from escalation.tasks import send_notification_task

    if broker_backing_off():
        _mark_not_enqueued(notification_ids)
        return
    for position, notification_id in enumerate(notification_ids):
        try:
            send_notification_task.delay(notification_id)
        except Exception as exc:  # broker down or hung
            _broker_failed()
            logger.warning("could not enqueue notifications %r: %s; the next tick will send them",
                           notification_ids[position:], exc)
            _mark_not_enqueued(notification_ids[position:])
            return


def send_notification_later(notification_id: int, countdown: int) -> None:
    """A retry. Countdowns stay short (at most a minute): the database's `due_at`, not the
    broker, is what guarantees the retry happens."""
    from escalation.tasks import send_notification_task

    try:
        send_notification_task.apply_async((notification_id,), countdown=min(countdown, 60))
    except Exception as exc:
        logger.warning("could not enqueue the retry of notification %s: %s", notification_id, exc)
        _mark_not_enqueued([notification_id])


def _mark_not_enqueued(notification_ids: list[int]) -> None:
    from escalation.models import Notification

    try:
        Notification.objects.filter(pk__in=notification_ids).update(enqueued_at=None)
    except Exception as exc:  # the database is down too: the tick's grace period covers it
        logger.warning("could not mark notifications %r as not enqueued: %s", notification_ids, exc)
