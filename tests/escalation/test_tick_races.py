"""RELIABILITY T16 (two ticks at once, in threads and in processes) and T20 (an acknowledge
racing the tick), with real commits, real threads and real row locks."""

import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from django.conf import settings
from django.db import connection

from escalation import failpoints
from escalation.engine import run_escalation_tick
from escalation.models import Notification
from incidents import actions
from incidents.models import TimelineEntry
from tests.escalation.conftest import due_incidents

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(autouse=True)
def failpoints_enabled(settings):
    """The pauses below are failpoint hooks, which act only when the setting allows."""
    settings.FAILPOINTS_ENABLED = True

REPO = Path(__file__).resolve().parents[2]


def in_thread(fn, results: list, errors: list):
    def run():
        try:
            results.append(fn())
        except Exception as exc:  # surfaced by the test, never swallowed
            errors.append(exc)
        finally:
            connection.close()

    thread = threading.Thread(target=run)
    thread.start()
    return thread


def test_t16_two_ticks_in_two_threads_fire_each_due_step_exactly_once(smtp, tasks_inline, t21_key):
    incidents = due_incidents(t21_key, 40)
    barrier = threading.Barrier(2)
    results, errors, took = [], [], []

    def one_tick():
        barrier.wait(timeout=10)
        began = time.monotonic()
        report = run_escalation_tick()
        took.append(time.monotonic() - began)
        return report

    threads = [in_thread(one_tick, results, errors) for _ in range(2)]
    for thread in threads:
        thread.join(timeout=120)
    assert not errors and len(results) == 2
    print(f"\nT16 two ticks over 40 due incidents: {sorted(round(t, 2) for t in took)} s, "
          f"steps {[r.steps for r in results]}, lock busy {[r.lock_busy for r in results]}")

    assert sum(r.steps for r in results) == 40
    pages = Notification.objects.filter(kind="page")
    assert sorted(pages.values_list("incident_id", flat=True)) == sorted(i.pk for i in incidents)
    assert smtp.recipients() == ["alice@example.com"] * 40
    fired = TimelineEntry.objects.filter(kind="escalation", data__step=0)
    assert fired.count() == 40


def test_t16_two_tick_processes_fire_each_due_step_exactly_once(smtp, t21_key):
    incidents = due_incidents(t21_key, 30)
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTEST_")}
    db = connection.settings_dict
    env.update(
        DATABASE_URL=f"postgres://{db['USER'] or 'postgres'}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}",
        SECRET_KEY=settings.SECRET_KEY, DJANGO_SETTINGS_MODULE="config.settings",
        CELERY_TASK_ALWAYS_EAGER="true", EMAIL_HOST="127.0.0.1", EMAIL_PORT=str(smtp.port),
        LOG_LEVEL="WARNING",
    )
    script = (
        "import django, time; django.setup()\n"
        "from escalation.engine import run_escalation_tick\n"
        "time.sleep(max(0, float(__import__('sys').argv[1]) - time.time()))\n"
        "print(run_escalation_tick().steps)\n"
    )
    start_at = str(time.time() + 2.5)  # both start together, after Django is loaded
    procs = [
        subprocess.Popen([sys.executable, "-c", script, start_at], cwd=REPO, env=env,
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        for _ in range(2)
    ]
    try:
        outputs = [p.communicate(timeout=120) for p in procs]
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
    assert all(p.returncode == 0 for p in procs), [err[-2000:] for _out, err in outputs]
    steps = [int(out.strip().splitlines()[-1]) for out, _err in outputs]
    print(f"\nT16 two tick processes: steps fired per process {steps}")
    assert sum(steps) == 30
    assert Notification.objects.filter(kind="page").count() == 30
    assert sorted(Notification.objects.values_list("incident_id", flat=True)) == sorted(i.pk for i in incidents)
    assert smtp.recipients() == ["alice@example.com"] * 30


class Pause:
    """A failpoint hook that parks the thread that reaches it until released."""

    def __init__(self):
        self.reached = threading.Event()
        self.release = threading.Event()

    def __call__(self):
        self.reached.set()
        assert self.release.wait(timeout=20), "the test never released the paused thread"


def test_t20_ack_while_the_tick_holds_the_row_waits_and_no_page_follows_its_commit(
    smtp, tasks_inline, t21_key, people
):
    incident = due_incidents(t21_key, 1)[0]
    pause = Pause()
    results, errors = [], []
    with failpoints.installed("before_fire_step", pause):
        ticker = in_thread(run_escalation_tick, results, errors)
        assert pause.reached.wait(timeout=10)
        acker = in_thread(lambda: actions.do_acknowledge_incident(incident.pk, by=people["bob"], via="api"),
                          results, errors)
        time.sleep(0.5)
        assert acker.is_alive(), "the acknowledge must wait for the tick's row lock"
        pause.release.set()
        ticker.join(timeout=30)
        acker.join(timeout=30)
    assert not errors
    incident.refresh_from_db()
    assert incident.status == "acknowledged"
    # The step committed first, so its one page exists. Its send checks the status just
    # before handing the message over: it went out if the ack was not yet visible, else it
    # was cancelled (the next test pins that case down). Nothing else is ever sent.
    page = Notification.objects.get(incident=incident)
    assert page.status in {"sent", "cancelled"}
    assert smtp.recipients() == (["alice@example.com"] if page.status == "sent" else [])
    time.sleep(0.2)
    assert run_escalation_tick().steps == 0
    assert Notification.objects.filter(incident=incident).count() == 1


def test_t20_ack_that_commits_before_the_claim_means_no_page(smtp, tasks_inline, t21_key, people):
    incident = due_incidents(t21_key, 1)[0]
    pause = Pause()
    results, errors = [], []
    with failpoints.installed("tick_before_claim", pause):
        ticker = in_thread(run_escalation_tick, results, errors)
        assert pause.reached.wait(timeout=10)
        actions.do_acknowledge_incident(incident.pk, by=people["bob"], via="api")
        pause.release.set()
        ticker.join(timeout=30)
    assert not errors and results[0].steps == 0
    assert not Notification.objects.filter(incident=incident).exists()
    assert smtp.recipients() == []


def test_t20_ack_between_the_step_and_the_send_cancels_the_page(smtp, tasks_inline, t21_key, people):
    incident = due_incidents(t21_key, 1)[0]
    pause = Pause()
    results, errors = [], []
    with failpoints.installed("send_started", pause):
        ticker = in_thread(run_escalation_tick, results, errors)
        assert pause.reached.wait(timeout=10)  # the step is committed, the send not begun
        assert Notification.objects.get(incident=incident).status == "pending"
        actions.do_acknowledge_incident(incident.pk, by=people["bob"], via="api")
        pause.release.set()
        ticker.join(timeout=30)
    assert not errors
    page = Notification.objects.get(incident=incident)
    assert page.status == "cancelled"
    assert "acknowledged" in page.status_reason
    assert smtp.recipients() == []
