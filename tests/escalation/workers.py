"""Real Celery processes for the escalation tests: a worker or a beat as a child process on
the test's own committed database and Redis database, and ways to wait on what they log.

Shared by the real-worker test, the killed-worker test (T17) and the two-beats test (T18)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from django.conf import settings
from django.db import connection
from django_celery_beat.models import IntervalSchedule, PeriodicTask

REPO = Path(__file__).resolve().parents[2]
CELERY = str(Path(sys.executable).parent / "celery")


def child_env(smtp_port: int, *, site_url: str = "http://127.0.0.1:8000", unit_seconds: int = 3,
              **extra: str) -> dict:
    """The environment of a child process: the test database (committed rows only, so the
    test needs django_db(transaction=True)), our Redis database as the broker, the local SMTP
    server, and policy minutes of `unit_seconds`. `extra` adds or overrides variables."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTEST_") and k != "FAILPOINT"}
    db = connection.settings_dict
    env.update(
        DATABASE_URL=f"postgres://{db['USER'] or 'postgres'}@{db['HOST'] or '127.0.0.1'}:"
                     f"{db['PORT'] or 5432}/{db['NAME']}",
        REDIS_URL=settings.REDIS_URL,
        CELERY_BROKER_URL=settings.CELERY_BROKER_URL,
        SECRET_KEY=settings.SECRET_KEY,
        DJANGO_SETTINGS_MODULE="config.settings",
        EMAIL_BACKEND="django.core.mail.backends.smtp.EmailBackend",
        EMAIL_HOST="127.0.0.1",
        EMAIL_PORT=str(smtp_port),
        ESCALATION_DELAY_UNIT_SECONDS=str(unit_seconds),
        ESCALATION_TICK_SECONDS="1",
        SITE_URL=site_url,
        LOG_LEVEL="INFO",
    )
    env.update(extra)
    return env


def start(args: list[str], env: dict, log: Path) -> subprocess.Popen:
    """`celery -A config <args>` in its own session (so `stop` reaches its pool children)."""
    return subprocess.Popen(
        [CELERY, "-A", "config", *args], cwd=REPO, env=env, stdout=log.open("w"), stderr=subprocess.STDOUT,
        start_new_session=True,
    )


def start_worker(env: dict, log: Path, name: str = "worker", concurrency: int = 1) -> subprocess.Popen:
    return start(["worker", "-c", str(concurrency), "--loglevel", "INFO", "--without-gossip",
                  "--without-mingle", "--without-heartbeat", "-n", f"vigil-{name}-{os.getpid()}@%h"], env, log)


def start_beat(env: dict, log: Path, schedule_file: Path) -> subprocess.Popen:
    return start(["beat", "--loglevel", "INFO", "--scheduler", "django_celery_beat.schedulers:DatabaseScheduler",
                  "--schedule", str(schedule_file)], env, log)


def stop(proc: subprocess.Popen) -> None:
    if proc.poll() is not None:
        return
    os.killpg(proc.pid, signal.SIGTERM)
    try:
        proc.wait(timeout=15)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)


def wait_for_log(log: Path, needle: str, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if needle in log.read_text(errors="replace"):
            return
        time.sleep(0.1)
    raise TimeoutError(f"{needle!r} not in {log.name} after {timeout} s:\n{log.read_text()[-3000:]}")


def run_tick_in_worker(log: Path, timeout: float = 20) -> None:
    """Publish one beat tick through the broker and wait until the worker logging to `log`
    has finished it. With one worker process tasks run in the order published, so whatever
    was queued before the tick (sends, resends) has run too."""
    from escalation.tasks import check_inbound_escalation_timeouts

    task_id = check_inbound_escalation_timeouts.delay().id
    wait_for_log(log, f"check_inbound_escalation_timeouts[{task_id}] succeeded", timeout)


def tick_every_second() -> None:
    """The beat's escalation tick every second, every other periodic task off: the test's
    policy runs in seconds, and nothing else the beat would start gets in its way."""
    every_second, _ = IntervalSchedule.objects.get_or_create(every=1, period=IntervalSchedule.SECONDS)
    PeriodicTask.objects.filter(task="check_inbound_escalation_timeouts").update(
        interval=every_second, expire_seconds=5
    )
    PeriodicTask.objects.exclude(task="check_inbound_escalation_timeouts").update(enabled=False)


@contextmanager
def worker_and_beat(env: dict, tmp_path: Path) -> Iterator[Path]:
    """A real `celery worker` and `celery beat`, both ready and the beat's tick reaching the
    worker before the body runs; stopped afterwards whatever happens. Yields the worker's log."""
    worker_log, beat_log = tmp_path / "worker.log", tmp_path / "beat.log"
    worker = start_worker(env, worker_log)
    beat = start_beat(env, beat_log, tmp_path / "beat-schedule")
    try:
        wait_for_log(worker_log, "ready.", timeout=90)
        wait_for_log(worker_log, "check_inbound_escalation_timeouts", timeout=60)  # beat -> worker works
        yield worker_log
    finally:
        stop(beat)
        stop(worker)
