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
from django.conf import settings
from django.db import transaction

from config import redis_clients

logger = logging.getLogger("vigil.dispatch")

# The names `escalation/tasks.py` registers its tasks under.
ADVANCE_ESCALATION = "escalation.tasks.advance_escalation_task"
KICK_ESCALATION = "escalation.tasks.kick_escalation_task"
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
    _flag_down_until[0] = 0.0


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
    """One task for this incident (escalate now, a maintenance window's end): rare events
    that must not wait for a kick's whole claim loop. New incidents use the kick."""
    enqueue_on_commit(ADVANCE_ESCALATION, incident_id)


# --- the kick: "fire what is due now", at most one pending ---------------------------------
#
# A storm opens a hundred incidents a second; one task each queued them FIFO in front of the
# workers, and a real page waited half a minute behind them (docs/performance.md). Instead a
# new paging incident asks for a kick, and a kick fires every due step (the tick's claim
# loop). While a kick is pending (published, not yet started) the flag below is set and
# nobody publishes another: the pending kick will claim their rows too, since it clears the
# flag before it claims (`clear_kick_flag`), and an incident committed after that sets the
# flag again and gets a kick of its own.
#
# A lost kick (worker killed, message dropped) leaves the flag set until it expires: the
# incidents of those KICK_FLAG_TTL_MS wait for the next incident's kick after it, or at worst
# for the beat tick. A kick queued longer than the ttl lets a second one be published: a
# duplicate kick finds nothing due and costs one query.
KICK_FLAG = "vigil:escalation-kick"
KICK_FLAG_TTL_MS = 5000
# After a Redis failure this process publishes a kick per incident (no flag) for a few
# seconds: each try at a hung Redis costs a socket timeout on a request thread.
_flag_down_until = [0.0]


def _flag_client():
    """The process's shared client of the cache's Redis (config/redis_clients.py: one try,
    short socket timeouts); None without Redis (`make run` on a machine without it, or while
    backing off after a failure)."""
    url = redis_clients.cache_url()
    if settings.WITHOUT_REDIS or not url or time.monotonic() < _flag_down_until[0]:
        return None
    return redis_clients.client(url)


def _flag_failed(exc: Exception) -> None:
    _flag_down_until[0] = time.monotonic() + BROKER_BACKOFF_SECONDS
    logger.warning("escalation kick flag unavailable (%s): one kick per new incident for %s s", exc,
                   BROKER_BACKOFF_SECONDS)


def _kick_already_pending() -> bool:
    """Set the flag unless it is set. True when another kick is pending (so ours is not
    needed); False when we set it, or when Redis cannot say: then we publish, as a page must
    never wait because Redis is down. With tasks run eagerly (tests) nothing is ever
    pending: the kick runs here and now."""
    if current_app.conf.task_always_eager:
        return False
    try:
        client = _flag_client()
        if client is None:
            return False
        return not client.set(KICK_FLAG, 1, nx=True, px=KICK_FLAG_TTL_MS)
    except redis_clients.FAILURES as exc:
        _flag_failed(exc)
        return False


def clear_kick_flag() -> None:
    """Called by the kick before it claims: from here on a new incident needs a kick of its
    own. A failure leaves the flag to expire (KICK_FLAG_TTL_MS)."""
    try:
        client = _flag_client()
        if client is not None:
            client.delete(KICK_FLAG)
    except redis_clients.FAILURES as exc:
        _flag_failed(exc)


def kick_escalation() -> bool:
    """Ask for a kick now unless one is pending. True when a kick was published. With the
    broker backing off nothing is tried (the beat tick fires what is due)."""
    if broker_backing_off():
        return False
    if _kick_already_pending():
        return False
    return enqueue(KICK_ESCALATION)


def on_commit_kick_escalation() -> None:
    """After the commit of a new paging incident: a kick (`kick_escalation`), so its first
    step fires within a kick's claim, not at the next beat tick. Costs one Redis round trip
    when a kick is already pending, that and a publish otherwise."""
    transaction.on_commit(kick_escalation)


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
