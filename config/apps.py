from django.apps import AppConfig
from django.db.models.signals import post_migrate


class VigilConfig(AppConfig):
    """Project-level wiring: periodic tasks reach the beat tables after every migrate."""

    name = "config"
    verbose_name = "Vigil"

    def ready(self) -> None:
        from config.periodic import sync_periodic_tasks

        post_migrate.connect(sync_periodic_tasks, sender=self, dispatch_uid="vigil-periodic-tasks")
