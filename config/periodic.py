"""Periodic tasks are defined once, here, and reach django-celery-beat's tables on every
migrate (post_migrate), so a fresh install has them with no clicks. Entries that left this
list are disabled, not left running."""

from __future__ import annotations

from django.conf import settings

# name -> (task path, interval in seconds, options)
PERIODIC_TASKS: dict[str, tuple[str, int, dict]] = {
    # A stale check is worthless once the next one is queued: expire it after 55 s.
    "check-heartbeats": ("integrations.tasks.check_heartbeats_task", 60, {"expire_seconds": 55}),
    # Noise reduction: escalate incidents whose maintenance window ended; clear the flapping
    # mark (with one summary) of alerts stable for the window.
    "release-maintenance-holds": (
        "incidents.noise.tasks.release_maintenance_holds_task", 60, {"expire_seconds": 55}
    ),
    "clear-stable-flapping": ("incidents.noise.tasks.clear_stable_flapping_task", 60, {"expire_seconds": 55}),
    # The escalation tick: fires due steps and re-sends lost notifications. A queued tick
    # that waited longer than its interval is dropped; the next one does the same work.
    "check-inbound-escalation-timeouts": (
        "check_inbound_escalation_timeouts",
        settings.ESCALATION_TICK_SECONDS,
        {"expire_seconds": max(1, settings.ESCALATION_TICK_SECONDS - 5)},
    ),
    # Retention, by the app that owns the tables it deletes (incidents/tasks.py).
    "cleanup-old-inbound-events": ("cleanup_old_inbound_events", 24 * 3600, {"expire_seconds": 3600}),
}


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
