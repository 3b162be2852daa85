"""Hand work to Celery after the transaction commits, never before.

A broker that is down or hung must not fail or delay the request that already stored the
event: the enqueue is best-effort. The database holds every pending step
(`Incident.next_escalation_at`), so a lost task costs one beat tick, never a page."""

import logging

from django.db import transaction

logger = logging.getLogger("vigil.dispatch")


def _send(task_path: str, *args) -> None:
    from django.utils.module_loading import import_string

    try:
        import_string(task_path).delay(*args)
    except Exception as exc:  # broker down or hung: the beat tick will do it
        logger.warning("could not enqueue %s%r: %s; the next tick will catch up", task_path, args, exc)


def on_commit_advance_escalation(incident_id: int) -> None:
    transaction.on_commit(lambda: _send("escalation.tasks.advance_escalation_task", incident_id))


def on_commit_send_recovery(incident_id: int) -> None:
    transaction.on_commit(lambda: _send("escalation.tasks.send_recovery_task", incident_id))
