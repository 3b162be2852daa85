"""Celery tasks: load ids and call one function."""

from celery import shared_task

from escalation import engine


@shared_task(acks_late=True, ignore_result=True)
def advance_escalation_task(incident_id: int) -> None:
    engine.advance_escalation(incident_id)


@shared_task(acks_late=True, ignore_result=True)
def send_recovery_task(incident_id: int) -> None:
    engine.send_recovery(incident_id)
