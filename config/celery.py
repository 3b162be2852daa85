"""The Celery app. Tasks are for work that can wait (notifications, escalation timing);
the database, not the broker, holds every pending step."""

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

app = Celery("vigil")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()

# The request id carried into tasks, and one log line per task (connects Celery's signals).
import config.tasklog  # noqa: E402,F401
