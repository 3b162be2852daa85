"""RELIABILITY T17: a Celery worker killed mid-escalation loses no step and pages nobody twice.

A real `celery worker -c 1` runs with FAILPOINT set: its pool process dies there with exit
code 137 (escalation/failpoints.py: `os._exit(137)`, what a SIGKILL leaves behind; only with
FAILPOINTS_ENABLED, which this test alone sets in the doomed worker's environment), in the
middle of a step (the escalation task) or of a send (the notification task). The worker is
then restarted without the failpoint and the beat tick is published through the broker
until the policy's second step has gone out.

What each failpoint leaves, and what the restarted worker's ticks do:
- before_fire_step / after_fire_before_commit: the step's transaction rolls back; the step
  is still due in the database and the next tick fires it (and the next one, caught up).
- before_send: the page row is committed but not sent; the tick re-sends it once its task
  looks lost (NOTIFICATION_RESEND_GRACE_SECONDS, 1 s here).
- after_send_before_commit: the SMTP server has the message but the row still says pending,
  so the tick sends it again: at least once is the rule, because a lost page is worse than
  a duplicate. The resend is the same message (the same Message-ID, from the notification's
  unique dedupe key), so the responder's mail client shows exactly one. This is the only
  case with a second SMTP delivery, and never more than one.
- after_send_commit: the row says sent; nothing is resent.
In every case the timeline shows step 0 then step 1, each once."""

from __future__ import annotations

import time

import pytest
from django.db import connection

from escalation.models import EscalationPolicy, Notification
from incidents.models import TimelineEntry
from tests.escalation.conftest import add_step, responder
from tests.escalation.workers import child_env, run_tick_in_worker, start_worker, stop, wait_for_log
from tests.factories import make_incident, make_key, make_team

pytestmark = [pytest.mark.chaos, pytest.mark.django_db(transaction=True), pytest.mark.timeout(110)]

# Where the worker dies -> SMTP deliveries of alice's step-0 page in the end.
FAILPOINTS = {
    "before_fire_step": 1,
    "after_fire_before_commit": 1,
    "before_send": 1,
    "after_send_before_commit": 2,  # one duplicate delivery, same Message-ID
    "after_send_commit": 1,
}
STEP_ONE_DELAY = 3  # policy minutes of one second: due after the kill, before the restart ends


def pages_sent(*users) -> bool:
    return Notification.objects.filter(user__in=users, kind="page", status="sent").count() == len(users)


@pytest.mark.parametrize("failpoint", FAILPOINTS)
def test_a_worker_killed_mid_escalation_loses_no_step_and_the_responder_sees_one_message(
    failpoint, smtp, tmp_path
):
    team = make_team("Killed worker")
    alice, bob = responder("alice", team=team), responder("bob", team=team)
    policy = EscalationPolicy.objects.create(name="two steps", team=team)
    add_step(policy, 0, users=[alice])
    add_step(policy, STEP_ONE_DELAY, users=[bob])
    key, _raw = make_key(team=team, policy=policy)
    env = child_env(smtp.port, unit_seconds=1, NOTIFICATION_RESEND_GRACE_SECONDS="1")
    doomed_log, log = tmp_path / "doomed-worker.log", tmp_path / "worker.log"

    doomed = start_worker({**env, "FAILPOINTS_ENABLED": "true", "FAILPOINT": failpoint}, doomed_log, name="doomed")
    worker = None
    try:
        wait_for_log(doomed_log, "ready.", timeout=60)
        began = time.monotonic()
        # The real trigger: committed, then the escalation task is published to the worker.
        incident = make_incident(key, summary="Killed worker test")
        wait_for_log(doomed_log, "exitcode 137", timeout=30)
        died_after = time.monotonic() - began
        stop(doomed)
        before_restart = {
            "mails": smtp.recipients(),
            "pages": dict(Notification.objects.filter(incident=incident).values_list("user__username", "status")),
        }

        worker = start_worker(env, log)
        wait_for_log(log, "ready.", timeout=60)
        deadline = time.monotonic() + 40
        while not pages_sent(alice, bob):
            assert time.monotonic() < deadline, f"steps not resumed: {smtp.recipients()}\n{log.read_text()[-3000:]}"
            run_tick_in_worker(log)
        run_tick_in_worker(log)  # one more: whatever a tick could still resend has had its turn
        resumed_after = time.monotonic() - began
    finally:
        stop(doomed)
        if worker is not None:
            stop(worker)
        connection.close()

    to_alice = [m for m in smtp.mails if m.to == "alice@example.com"]
    to_bob = [m for m in smtp.mails if m.to == "bob@example.com"]
    print(f"\nT17 {failpoint}: death seen {died_after:.1f} s after the trigger; before the restart "
          f"mails {before_restart['mails']} rows {before_restart['pages']}; steps resumed "
          f"{resumed_after:.1f} s after the trigger; SMTP deliveries alice {len(to_alice)}, bob {len(to_bob)}; "
          f"distinct Message-IDs alice {len({m.message_id for m in to_alice})}")

    # What the kill left: only a send that got past SMTP reached anyone.
    reached_before_kill = failpoint in {"after_send_before_commit", "after_send_commit"}
    assert before_restart["mails"] == (["alice@example.com"] if reached_before_kill else [])
    if failpoint in {"before_fire_step", "after_fire_before_commit"}:
        assert before_restart["pages"] == {}  # the step rolled back whole
    else:
        expected = "sent" if failpoint == "after_send_commit" else "pending"
        assert before_restart["pages"] == {"alice": expected}

    # The responder sees one message per page: duplicates only at SMTP, never more than one,
    # and always the same message.
    assert len(to_alice) == FAILPOINTS[failpoint]
    assert len({m.message_id for m in to_alice}) == 1
    assert len(to_bob) == 1
    pages = Notification.objects.filter(incident=incident).order_by("step_index")
    assert [(p.user.username, p.step_index, p.status, p.attempts) for p in pages] == [
        ("alice", 0, "sent", 1), ("bob", 1, "sent", 1),
    ]

    # No step skipped, none fired twice, in order; one 'Emailed' entry per page.
    steps = TimelineEntry.objects.filter(incident=incident, kind="escalation", data__has_key="step")
    assert list(steps.order_by("id").values_list("data__step", flat=True)) == [0, 1]
    emailed = TimelineEntry.objects.filter(incident=incident, kind="notification").order_by("id")
    assert [e.message.split(" (")[0] for e in emailed] == ["Emailed alice", "Emailed bob"]
