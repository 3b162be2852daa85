"""One log line per Celery task, and the request id carried from the request that enqueued it.

`before_task_publish` copies the current request id into the task's message headers;
`task_prerun` restores it into `config.logcontext.request_id` in the worker (an eager task
keeps the caller's), so a page's send can be traced to the trigger that caused it."""

from __future__ import annotations

import logging
import time

from celery.signals import before_task_publish, setup_logging, task_postrun, task_prerun
from django.conf import settings
from django.utils.log import configure_logging

from config import logcontext

logger = logging.getLogger("vigil.task")

HEADER = "vigil_request_id"
# task id -> (start time, context token), for the task this process is running.
_running: dict[str, tuple[float, object]] = {}


@setup_logging.connect(dispatch_uid="vigil-logging")
def _django_logging(**_):
    """A worker and a beat log through Django's LOGGING (LOG_FORMAT, the redaction filter)
    instead of Celery replacing the root handler with its own."""
    configure_logging(settings.LOGGING_CONFIG, settings.LOGGING)


@before_task_publish.connect(dispatch_uid="vigil-request-id-publish")
def _stamp_request_id(headers=None, **_):
    rid = logcontext.request_id.get()
    if rid and headers is not None:
        headers[HEADER] = rid


def _request_id_of(task) -> str:
    request = task.request
    carried = getattr(request, HEADER, None) or (getattr(request, "headers", None) or {}).get(HEADER)
    return carried or logcontext.request_id.get()


@task_prerun.connect(dispatch_uid="vigil-request-id-prerun")
def _task_started(task_id=None, task=None, **_):
    token = logcontext.request_id.set(_request_id_of(task))
    _running[task_id] = (time.perf_counter(), token)


@task_postrun.connect(dispatch_uid="vigil-request-id-postrun")
def _task_finished(task_id=None, task=None, state=None, **_):
    started, token = _running.pop(task_id, (None, None))
    duration_ms = round((time.perf_counter() - started) * 1000, 2) if started is not None else None
    logger.info(
        "task %s %s %s",
        task.name,
        task_id,
        state,
        extra={"task_name": task.name, "task_id": task_id, "duration_ms": duration_ms, "outcome": state},
    )
    if token is not None:
        try:
            logcontext.request_id.reset(token)
        except ValueError:  # set in another context: nothing of ours to undo
            pass
