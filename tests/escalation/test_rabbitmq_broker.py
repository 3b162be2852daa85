"""Celery against RabbitMQ (issue 11 item 6): `CELERY_BROKER_URL=amqp://...` works as Redis does.

1. The real-worker test and the two-beats test (T18) run once more, unchanged, in a child
   pytest whose whole environment says `CELERY_BROKER_URL=amqp://...`: the web process (the
   live server), the worker and the beats all use RabbitMQ. The child gets its own database
   name (`<name>_amqp`) so it never drops this session's test database, and its own basetemp,
   whose worker logs must show the amqp transport.
2. `escalation.dispatch` publishes by task name: a task enqueued through it lands on a
   RabbitMQ queue with its name and arguments.
3. A dead amqp broker costs a request one bounded failure, then dispatch backs off (no try
   at all) for a few seconds, as with Redis (RELIABILITY T07).

RabbitMQ is the machine's (`.ci/run` starts it when it is down); `VIGIL_RABBITMQ_URL`
overrides the address. No RabbitMQ is a failure, not a skip: the README says what `make
test` needs."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import uuid
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import pytest
from celery import Celery
from celery import _state as celery_state
from django.conf import settings
from kombu import Connection

from escalation import dispatch

REPO = Path(__file__).resolve().parents[2]
RABBITMQ_URL = os.environ.get("VIGIL_RABBITMQ_URL", "amqp://guest:guest@127.0.0.1:5672//")
SCENARIOS = ["tests/escalation/test_real_worker_and_beat.py", "tests/escalation/test_two_beats.py"]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="module")
def rabbitmq() -> str:
    parts = urlsplit(RABBITMQ_URL)
    try:
        socket.create_connection((parts.hostname, parts.port or 5672), timeout=2).close()
    except OSError as exc:
        pytest.fail(f"no RabbitMQ at {parts.hostname}:{parts.port or 5672} ({exc}); "
                    "start it (`rabbitmq-server -detached`, as .ci/run does) or set VIGIL_RABBITMQ_URL")
    return RABBITMQ_URL


def drop_default_queue(url: str) -> None:
    """Tasks a previous run left on RabbitMQ name rows of a database since recreated: the
    Redis runs flush their database (empty_redis); here the default queue goes instead."""
    with Connection(url) as conn:
        conn.default_channel.queue_delete("celery")


def own_database_url() -> str:
    parts = urlsplit(settings.DATABASE_URL)
    return urlunsplit(parts._replace(path=parts.path.rstrip("/") + "_amqp"))


@pytest.mark.timeout(400)
def test_real_worker_and_two_beats_scenarios_pass_with_rabbitmq_as_the_broker(rabbitmq, tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTEST_")}
    env.update(CELERY_BROKER_URL=rabbitmq, DATABASE_URL=own_database_url(),
               DJANGO_SETTINGS_MODULE="config.settings", REDIS_URL=settings.REDIS_URL)
    basetemp = tmp_path / "child"
    drop_default_queue(rabbitmq)
    began = time.monotonic()
    try:
        child = subprocess.run(
            [sys.executable, "-m", "pytest", "-q", "-s", "-p", "no:cacheprovider", f"--basetemp={basetemp}",
             *SCENARIOS], cwd=REPO, env=env, capture_output=True, text=True, timeout=380,
        )
    finally:
        drop_default_queue(rabbitmq)
    took = time.monotonic() - began
    tail = (child.stdout + child.stderr)[-4000:]
    assert child.returncode == 0, tail
    assert "2 passed" in child.stdout, tail
    worker_logs = sorted(basetemp.rglob("worker*.log"))
    assert worker_logs, f"no worker log under {basetemp}"
    for log in worker_logs:
        text = log.read_text(errors="replace")
        assert "amqp://guest:**@" in text, f"{log.name} did not connect to RabbitMQ:\n{text[:2000]}"
        assert "redis://" not in text.split("[tasks]")[0], f"{log.name} banner names Redis"
    figures = [line for line in child.stdout.splitlines() if line.startswith(("real worker:", "T18"))]
    assert len(figures) == 2, child.stdout[-2000:]
    print(f"\nRabbitMQ run ({took:.1f} s): " + " | ".join(figures))


@pytest.fixture
def amqp_app(rabbitmq):
    """A Celery app configured from the same Django settings, on the given amqp URL, made
    current (dispatch publishes through `celery.current_app`) and put back afterwards."""
    previous = celery_state.get_current_app()
    apps = []

    def make(url: str, queue: str) -> Celery:
        app = Celery(f"vigil-amqp-{queue}", set_as_current=False)
        app.config_from_object("django.conf:settings", namespace="CELERY")
        app.conf.broker_url = url
        app.conf.task_default_queue = queue
        app.set_current()
        apps.append(app)
        return app

    dispatch.reset_broker_backoff()
    yield make
    for app in apps:
        app.close()
    previous.set_current()
    dispatch.reset_broker_backoff()


def test_dispatch_publishes_by_name_to_a_rabbitmq_queue(amqp_app, rabbitmq):
    queue_name = f"vigil-dispatch-check-{uuid.uuid4().hex[:8]}"
    amqp_app(rabbitmq, queue_name)
    try:
        assert dispatch.enqueue(dispatch.SEND_NOTIFICATION, 4242) is True
        with Connection(rabbitmq) as conn:
            queue = conn.SimpleQueue(queue_name)
            message = queue.get(block=True, timeout=5)
            assert message.headers["task"] == dispatch.SEND_NOTIFICATION
            assert list(message.decode()[0]) == [4242]
            message.ack()
            queue.close()
    finally:
        with Connection(rabbitmq) as conn:
            conn.default_channel.queue_delete(queue_name)
    assert not dispatch.broker_backing_off()


def test_a_dead_rabbitmq_costs_one_bounded_try_then_dispatch_backs_off(amqp_app, rabbitmq):
    parts = urlsplit(rabbitmq)
    dead = urlunsplit(parts._replace(netloc=f"guest:guest@127.0.0.1:{free_port()}"))
    amqp_app(dead, "vigil-dead-broker")

    began = time.monotonic()
    assert dispatch.enqueue(dispatch.ADVANCE_ESCALATION, 1) is False
    first_try = time.monotonic() - began
    assert dispatch.broker_backing_off()

    began = time.monotonic()
    assert dispatch.enqueue(dispatch.ADVANCE_ESCALATION, 2) is False
    second_try = time.monotonic() - began
    print(f"\ndead amqp broker: first enqueue failed in {first_try * 1000:.0f} ms, "
          f"the next (backing off) in {second_try * 1000:.2f} ms")
    assert first_try < 3, "a dead broker must not hold a request"
    assert second_try < 0.05, "while backing off, dispatch must not try the broker at all"
