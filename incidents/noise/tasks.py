"""Celery tasks of noise reduction: load nothing, call one function. Scheduled by
config/periodic.py; registered with Celery through CELERY_IMPORTS (settings)."""

from celery import shared_task

from incidents.noise import flapping, maintenance


@shared_task(ignore_result=True)
def release_maintenance_holds_task() -> None:
    maintenance.release_maintenance_holds()


@shared_task(ignore_result=True)
def clear_stable_flapping_task() -> None:
    flapping.clear_stable_flapping()
