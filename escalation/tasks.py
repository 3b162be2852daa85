"""Celery tasks: load ids and call one function. The only module that imports the engine
and the notifier to run them; everything else asks for a task by its name
(`escalation.dispatch`).

No task carries a long countdown or ETA (a Redis broker re-delivers those after its
visibility timeout, and a lost one would lose a page): every pending step and every pending
notification lives in the database, and the beat tick picks up whatever a lost task left."""

import logging

from celery import shared_task

from escalation import dispatch, engine, notify
from escalation.channels import slack

logger = logging.getLogger("vigil.escalation")


@shared_task(name=dispatch.ADVANCE_ESCALATION, acks_late=True, ignore_result=True)
def advance_escalation_task(incident_id: int) -> None:
    engine.advance_escalation(incident_id)


@shared_task(name=dispatch.KICK_ESCALATION, acks_late=True, ignore_result=True)
def kick_escalation_task() -> dict:
    """Fire every step due now (`dispatch.kick_escalation` publishes it after new incidents).
    The flag comes off before the claim, so an incident committed after the claim began
    publishes the next kick. A kick cut short by its limits asks for another at once."""
    dispatch.clear_kick_flag()
    report = engine.fire_due_now()
    if report.cut_short:
        dispatch.kick_escalation()
    return report.__dict__


@shared_task(name="check_inbound_escalation_timeouts", acks_late=True, ignore_result=True)
def check_inbound_escalation_timeouts() -> dict:
    """The beat tick (every ESCALATION_TICK_SECONDS; `expires` drops stale queued ticks)."""
    return engine.run_escalation_tick().__dict__


@shared_task(name=dispatch.SEND_NOTIFICATION, acks_late=True, ignore_result=True)
def send_notification_task(notification_id: int) -> str:
    return notify.send_notification(notification_id)


@shared_task(name=dispatch.SEND_NOTIFICATIONS, acks_late=True, ignore_result=True)
def send_notifications_task(notification_ids: list[int]) -> list[str]:
    """A chunk of a tick's pages (`dispatch.enqueue_sends`), each sent exactly as its own
    task would: its own transaction, row lock and status check, so a redelivered chunk
    sends nothing twice. A row whose send crashed stays pending; the tick re-sends it."""
    outcomes = []
    for notification_id in notification_ids:
        try:
            outcomes.append(notify.send_notification(notification_id))
        except Exception:  # logged; the others in the chunk still go out
            logger.exception("sending notification %s crashed; the tick will re-send it", notification_id)
            outcomes.append("crashed")
    return outcomes


@shared_task(name=dispatch.REFRESH_SLACK_MESSAGES, bind=True, acks_late=True, ignore_result=True, max_retries=3)
def refresh_slack_messages_task(self, incident_id: int) -> None:
    """Best effort with a few retries: a message left showing buttons still answers
    correctly when pressed ("already acknowledged") and is refreshed then."""
    outcomes = slack.refresh_messages(incident_id)
    if any(isinstance(outcome, slack.Retry) for outcome in outcomes) and self.request.retries < self.max_retries:
        raise self.retry(countdown=notify.retry_delay(self.request.retries + 1))
