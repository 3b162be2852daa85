"""Celery tasks of the integrations app: load nothing, call one function."""

from celery import shared_task

from integrations.heartbeat import check_heartbeats


@shared_task(acks_late=True, ignore_result=True)
def check_heartbeats_task() -> None:
    check_heartbeats()
