"""Celery tasks: load ids and call one function. The only module that imports the engine
and the notifier to run them; everything else asks for a task by its name
(`escalation.dispatch`).

No task carries a long countdown or ETA (a Redis broker re-delivers those after its
visibility timeout, and a lost one would lose a page): every pending step and every pending
notification lives in the database, and the beat tick picks up whatever a lost task left."""

from celery import shared_task

from escalation import dispatch, engine, notify


@shared_task(name=dispatch.ADVANCE_ESCALATION, acks_late=True, ignore_result=True)
def advance_escalation_task(incident_id: int) -> None:
    engine.advance_escalation(incident_id)


@shared_task(name="check_inbound_escalation_timeouts", acks_late=True, ignore_result=True)
def check_inbound_escalation_timeouts() -> dict:
    """The beat tick (every ESCALATION_TICK_SECONDS; `expires` drops stale queued ticks)."""
    return engine.run_escalation_tick().__dict__


@shared_task(name=dispatch.SEND_NOTIFICATION, acks_late=True, ignore_result=True)
def send_notification_task(notification_id: int) -> str:
    return notify.send_notification(notification_id)
