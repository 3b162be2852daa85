from django.apps import AppConfig
from django.db.models.signals import post_migrate


class VigilConfig(AppConfig):
    """Project-level wiring: periodic tasks reach the beat tables after every migrate."""

    name = "config"
    verbose_name = "Vigil"

    def ready(self) -> None:
        from django.apps import apps

        from config.periodic import sync_periodic_tasks

        # Django sends post_migrate only for apps with a models module, which this one lacks:
        # listen for the beat app's, sent once its tables exist.
        post_migrate.connect(
            sync_periodic_tasks,
            sender=apps.get_app_config("django_celery_beat"),
            dispatch_uid="vigil-periodic-tasks",
        )
