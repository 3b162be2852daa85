"""Periodic tasks are defined once, here, and reach django-celery-beat's tables on every
migrate (post_migrate), so a fresh install has them with no clicks. Entries that left this
list are disabled, not left running."""

from __future__ import annotations

# name -> (task path, interval in seconds, options)
PERIODIC_TASKS: dict[str, tuple[str, int, dict]] = {}


def sync_periodic_tasks(**_kwargs) -> None:
    from django_celery_beat.models import IntervalSchedule, PeriodicTask

    managed = []
    for name, (task, seconds, options) in PERIODIC_TASKS.items():
        interval, _ = IntervalSchedule.objects.get_or_create(
            every=seconds, period=IntervalSchedule.SECONDS
        )
        PeriodicTask.objects.update_or_create(
            name=name,
            defaults={
                "task": task,
                "interval": interval,
                "enabled": True,
                "expires": None,
                "description": "Managed by config/periodic.py",
                **options,
            },
        )
        managed.append(name)
    PeriodicTask.objects.filter(description="Managed by config/periodic.py").exclude(
        name__in=managed
    ).update(enabled=False)
