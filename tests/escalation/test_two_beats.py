"""RELIABILITY T18: two `celery beat` processes running by mistake page nobody twice.

Two real workers (so two ticks really run at the same time) and real beats ticking every
second on our Redis database, real SMTP. The same batch of due incidents is escalated first
under one beat, then under two beats at once. Both batches must give the same number of
pages: each tick claims incidents under the database's advisory lock and row locks, so the
second beat's ticks find the steps already fired, and a tick that meets another one holding
the lock says so in the log and stops.

Each step fired is made 40 ms slower (FAILPOINT_SLEEP at `before_fire_step`, inside the
batch's transaction, lock held), so a tick with a batch to fire lasts longer than the beat
interval and the other beat's tick surely starts while it runs: without it, on an idle
machine the whole batch (claimed and fired together) is done before the next tick is even
taken from the queue, and the overlap would be luck. Notifications whose send task looks lost are
re-enqueued after 1 s here (instead of 120 s), so duplicate send tasks do happen; the row
lock and status check make them no-ops."""

from __future__ import annotations

import time

import pytest
from django.db import connection
from django_celery_beat.models import IntervalSchedule, PeriodicTask

from escalation.models import EscalationPolicy, Notification
from incidents.models import Incident
from tests.escalation.conftest import add_step, due_incidents, responder
from tests.escalation.workers import child_env, start_beat, start_worker, stop, wait_for_log
from tests.factories import make_key, make_team

pytestmark = [pytest.mark.chaos, pytest.mark.django_db(transaction=True), pytest.mark.timeout(60)]

INCIDENTS = 30  # per batch; at 40 ms more per step, a tick firing them lasts > 1.2 s
STEP_PAUSE = "before_fire_step:0.04"
LOCK_WARNING = "another escalation tick holds the lock"


def escalate_batch(key, label: str, smtp, timeout: float = 25) -> tuple[list[Incident], float]:
    """Write `INCIDENTS` due incidents and wait until the beats and workers have finished
    their policy (both steps sent for each). Returns the incidents and the seconds taken."""
    began = time.monotonic()
    incidents = due_incidents(key, INCIDENTS, label=label)
    wanted = 2 * INCIDENTS
    pages = Notification.objects.filter(incident__in=incidents, kind="page")
    while pages.filter(status="sent").count() < wanted or sum(label in m.subject for m in smtp.mails) < wanted:
        assert time.monotonic() - began < timeout, (
            f"{label}: {pages.filter(status='sent').count()} of {wanted} pages sent after {timeout} s"
        )
        time.sleep(0.2)
    return incidents, time.monotonic() - began


def lock_warnings(*logs) -> int:
    return sum(log.read_text(errors="replace").count(LOCK_WARNING) for log in logs)


def test_two_beats_at_once_send_as_many_pages_as_one_and_log_that_the_lock_is_held(smtp, tmp_path):
    team = make_team("Two beats")
    alice, bob = responder("alice", team=team), responder("bob", team=team)
    policy = EscalationPolicy.objects.create(name="two steps", team=team)
    add_step(policy, 0, users=[alice])
    add_step(policy, 2, users=[bob])
    key, _raw = make_key(team=team, policy=policy)
    every_second, _ = IntervalSchedule.objects.get_or_create(every=1, period=IntervalSchedule.SECONDS)
    PeriodicTask.objects.filter(task="check_inbound_escalation_timeouts").update(
        interval=every_second, expire_seconds=5
    )
    PeriodicTask.objects.exclude(task="check_inbound_escalation_timeouts").update(enabled=False)

    env = child_env(smtp.port, unit_seconds=1, NOTIFICATION_RESEND_GRACE_SECONDS="1", FAILPOINTS_ENABLED="true",
                    FAILPOINT_SLEEP=STEP_PAUSE)
    logs = {name: tmp_path / f"{name}.log" for name in ("worker-1", "worker-2", "beat-1", "beat-2")}
    procs = [start_worker(env, logs["worker-1"], name="w1"), start_worker(env, logs["worker-2"], name="w2"),
             start_beat(env, logs["beat-1"], tmp_path / "beat-1-schedule")]
    try:
        for name in ("worker-1", "worker-2"):
            wait_for_log(logs[name], "ready.", timeout=60)
        wait_for_log(logs["beat-1"], "Sending due task", timeout=30)

        one_beat, one_beat_took = escalate_batch(key, "one-beat", smtp)
        warnings_with_one_beat = lock_warnings(logs["worker-1"], logs["worker-2"])

        procs.append(start_beat(env, logs["beat-2"], tmp_path / "beat-2-schedule"))
        wait_for_log(logs["beat-2"], "Sending due task", timeout=30)
        two_beats, two_beats_took = escalate_batch(key, "two-beats", smtp)
        time.sleep(3)  # both beats keep ticking: nothing more may go out
        warnings_with_two_beats = lock_warnings(logs["worker-1"], logs["worker-2"]) - warnings_with_one_beat
        ticks = sum(logs[n].read_text().count("Sending due task") for n in ("beat-1", "beat-2"))
    finally:
        for proc in procs:
            stop(proc)
        connection.close()

    def pages(incidents):
        return Notification.objects.filter(incident__in=incidents, kind="page")

    one_mails = [m.to for m in smtp.mails if "one-beat" in m.subject]
    two_mails = [m.to for m in smtp.mails if "two-beats" in m.subject]
    print(f"\nT18 {INCIDENTS} incidents x 2 steps: one beat {len(one_mails)} pages in {one_beat_took:.1f} s "
          f"({warnings_with_one_beat} lock warnings); two beats {len(two_mails)} pages in {two_beats_took:.1f} s "
          f"({warnings_with_two_beats} lock warnings); {ticks} ticks sent by the beats")

    assert len(two_mails) == len(one_mails) == pages(two_beats).count() == pages(one_beat).count() == 2 * INCIDENTS
    assert sorted(two_mails) == sorted(one_mails) == ["alice@example.com"] * INCIDENTS + ["bob@example.com"] * INCIDENTS
    assert len({m.message_id for m in smtp.mails}) == len(smtp.mails)  # no message went out twice
    assert not pages(one_beat + two_beats).exclude(status="sent").exists()
    assert not Incident.objects.filter(pk__in=[i.pk for i in two_beats], next_escalation_at__isnull=False).exists()
    assert warnings_with_two_beats >= 1, "a tick meeting another one must say so in the log"
