"""Celery tasks of the incidents app: its periodic jobs over its own tables."""

from celery import shared_task

from incidents import cleanup


@shared_task(name="cleanup_old_inbound_events", acks_late=True, ignore_result=True)
def cleanup_old_inbound_events() -> dict:
    return cleanup.cleanup_old_inbound_events().as_dict()
