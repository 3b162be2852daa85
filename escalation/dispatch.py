"""Hand work to Celery by task name after the transaction commits, never before.

A leaf: this module imports no other escalation module. It knows task names, not task
functions, so the engine and the notifier can ask for work without importing the tasks
that call them (only `escalation/tasks.py` imports those).

A broker that is down or hung must not fail or delay the request that already stored the
event: the enqueue is best-effort. The database holds every pending step
(`Incident.next_escalation_at`) and every pending notification, so a lost task costs one
beat tick, never a page."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence

from celery import current_app
from django.db import transaction

logger = logging.getLogger("vigil.dispatch")

# The names `escalation/tasks.py` registers its tasks under.
ADVANCE_ESCALATION = "escalation.tasks.advance_escalation_task"
SEND_NOTIFICATION = "escalation.tasks.send_notification_task"
SEND_NOTIFICATIONS = "escalation.tasks.send_notifications_task"
REFRESH_SLACK_MESSAGES = "escalation.tasks.refresh_slack_messages_task"

# A publish costs about a millisecond; a storm's tick writes thousands of pages. They are
# handed over SEND_CHUNK to a task (each still sent in its own transaction), so the tick
# publishes a tenth as many messages while the workers still send them in parallel.
SEND_CHUNK = 10

# After a failed publish this process stops trying for a few seconds: with a hung broker
# every try costs a socket timeout on a request thread (T08), and the tick sends what we skip.
BROKER_BACKOFF_SECONDS = 5.0
_broker_down_until = [0.0]

NotEnqueued = Callable[[list[int]], None]


def broker_backing_off() -> bool:
    return time.monotonic() < _broker_down_until[0]


def _broker_failed() -> None:
    _broker_down_until[0] = time.monotonic() + BROKER_BACKOFF_SECONDS


def reset_broker_backoff() -> None:
    """Publish again at once (tests start every case with a fresh process state)."""
    _broker_down_until[0] = 0.0


def _publish(task_name: str, args: tuple, countdown: int | None = None) -> None:
    app = current_app
    if app.conf.task_always_eager:
        # Celery's send_task ignores eager mode (tests, `make run` without a worker): run the
        # registered task here instead, found through Celery's own autodiscovery.
        if task_name not in app.tasks:
            app.loader.import_default_modules()
        app.tasks[task_name].apply_async(args, countdown=countdown)
        return
    app.send_task(task_name, args=args, countdown=countdown)


def enqueue(task_name: str, *args, countdown: int | None = None) -> bool:
    """Publish one task now. False (and a warning) when the broker failed or is backing off:
    the caller's database rows are what the next tick works from."""
    if broker_backing_off():
        logger.debug("broker recently failed; leaving %s%r to the next tick", task_name, args)
        return False
    try:
        _publish(task_name, args, countdown)
    except Exception as exc:  # broker down or hung: the beat tick will do it
        _broker_failed()
        logger.warning("could not enqueue %s%r: %s; the next tick will catch up", task_name, args, exc)
        return False
    return True


def enqueue_on_commit(task_name: str, *args) -> None:
    transaction.on_commit(lambda: enqueue(task_name, *args))


def enqueue_each(task_name: str, ids: Sequence[int], on_not_enqueued: NotEnqueued | None = None) -> None:
    """One task per id. At the first failure stop trying (each try may cost a socket timeout)
    and hand the ids left over to `on_not_enqueued`."""
    ids = list(ids)
    for position, one in enumerate(ids):
        if not enqueue(task_name, one):
            if on_not_enqueued is not None:
                on_not_enqueued(ids[position:])
            return


def on_commit_advance_escalation(incident_id: int) -> None:
    enqueue_on_commit(ADVANCE_ESCALATION, incident_id)


def enqueue_sends(ids: Sequence[int], on_not_enqueued: NotEnqueued | None = None) -> None:
    """Send tasks for these notification rows, SEND_CHUNK ids a task (a lone id goes to the
    one-row task). At the first failure stop and hand the ids left over to `on_not_enqueued`."""
    ids = list(ids)
    for start in range(0, len(ids), SEND_CHUNK):
        chunk = ids[start:start + SEND_CHUNK]
        sent = enqueue(SEND_NOTIFICATION, chunk[0]) if len(chunk) == 1 else enqueue(SEND_NOTIFICATIONS, chunk)
        if not sent:
            if on_not_enqueued is not None:
                on_not_enqueued(ids[start:])
            return


def on_commit_send_notifications(notification_ids: Sequence[int], on_not_enqueued: NotEnqueued | None = None) -> None:
    """After the commit, send tasks for the notification rows (`enqueue_sends`).
    `on_not_enqueued` gets the ids whose task did not reach the broker (the escalation app
    clears their `enqueued_at`, so the next tick sends them at once instead of after the
    resend grace period)."""
    ids = list(notification_ids)
    transaction.on_commit(lambda: enqueue_sends(ids, on_not_enqueued))
