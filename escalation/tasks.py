"""Celery tasks: load ids and call one function.

No task carries a long countdown or ETA (a Redis broker re-delivers those after its
visibility timeout, and a lost one would lose a page): every pending step and every pending
notification lives in the database, and the beat tick picks up whatever a lost task left."""

from celery import shared_task

from escalation import cleanup, engine, notify


@shared_task(acks_late=True, ignore_result=True)
def advance_escalation_task(incident_id: int) -> None:
    engine.advance_escalation(incident_id)


@shared_task(name="check_inbound_escalation_timeouts", acks_late=True, ignore_result=True)
def check_inbound_escalation_timeouts() -> dict:
    """The beat tick (every ESCALATION_TICK_SECONDS; `expires` drops stale queued ticks)."""
    return engine.run_escalation_tick().__dict__


@shared_task(acks_late=True, ignore_result=True)
def send_notification_task(notification_id: int) -> str:
    return notify.send_notification(notification_id)


@shared_task(acks_late=True, ignore_result=True)
def send_recovery_task(incident_id: int) -> None:
    # Kept for tasks already queued by older code: recovery rows are now written with the
    # resolve itself (escalation.dispatch.on_commit_send_recovery).
    engine.send_recovery(incident_id)


@shared_task(name="cleanup_old_inbound_events", acks_late=True, ignore_result=True)
def cleanup_old_inbound_events() -> dict:
    return cleanup.cleanup_old_inbound_events().as_dict()
