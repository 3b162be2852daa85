"""Flapping detection (issue 5): state changes in Redis sorted sets; the incident is marked
and its pages held; once stable, the mark is cleared with one summary. Redis down or hung
never costs an alert."""

import logging
import socket
import time
from datetime import timedelta

import pytest
import time_machine
from django.utils import timezone

from incidents.models import Event, Incident, TimelineEntry
from incidents.noise import flapping
from tests.incidents.noise_helpers import closing, ingest, trigger

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def flapping_settings(settings):
    settings.FLAPPING_THRESHOLD = 5
    settings.FLAPPING_WINDOW_SECONDS = 600


def flap(key, dedup_key="link-eth0", times=3):
    """trigger, resolve, trigger, resolve...: two state changes per round."""
    outcomes = []
    for _ in range(times):
        outcomes.append(ingest(key, trigger(dedup_key, summary="Link eth0 down")))
        outcomes.append(ingest(key, closing("resolve", dedup_key)))
    return outcomes


def test_more_than_five_changes_in_ten_minutes_mark_the_incident_flapping(key):
    outcomes = flap(key, times=3)  # six changes; the sixth is a resolve
    incidents = list(Incident.objects.order_by("id"))
    assert [i.is_flapping for i in incidents] == [False, False, True]
    entry = TimelineEntry.objects.get(kind="flapping")
    assert entry.incident == incidents[2]
    assert "changed state 6 times in 10 min" in entry.message
    assert entry.data["dedup_key"] == "link-eth0"
    assert "flapping: alert 'link-eth0' changed state 6 times in 600s" in outcomes[-1].reason


def test_an_incident_opened_while_flapping_is_marked_before_escalation_sees_it(key, django_capture_on_commit_callbacks):
    flap(key, times=3)
    with django_capture_on_commit_callbacks() as callbacks:
        outcome = ingest(key, trigger("link-eth0", summary="Link eth0 down"))
    assert outcome.outcome == "created"
    incident = Incident.objects.get(pk=outcome.incident_id)
    assert incident.is_flapping  # committed together with the incident
    assert len(callbacks) == 1  # escalation is still started: the engine holds the pages
    event = Event.objects.get(pk=outcome.event_id)
    assert "changed state 7 times" in event.reason and "notifications are held" in event.reason


def test_five_changes_are_not_flapping(key):
    flap(key, times=2)
    ingest(key, trigger("link-eth0"))
    assert not Incident.objects.filter(is_flapping=True).exists()


def test_repeat_triggers_of_an_open_alert_are_not_state_changes(key):
    for _ in range(12):
        ingest(key, trigger("cpu-high"))
    assert Incident.objects.get().alert_count == 12
    assert not Incident.objects.get().is_flapping


def test_changes_older_than_the_window_do_not_count(key, settings):
    settings.FLAPPING_WINDOW_SECONDS = 60
    start = timezone.now()
    for n in range(3):  # six changes, each round 30 s apart: at most four within any 60 s
        with time_machine.travel(start + timedelta(seconds=30 * n), tick=False):
            ingest(key, trigger("slow"))
            ingest(key, closing("resolve", "slow"))
    assert not Incident.objects.filter(is_flapping=True).exists()


def test_each_alert_is_counted_on_its_own(key):
    for n in range(3):
        ingest(key, trigger(f"a{n}"))
        ingest(key, closing("resolve", f"a{n}"))
    assert not Incident.objects.filter(is_flapping=True).exists()


def test_threshold_and_window_are_settings(key, settings):
    settings.FLAPPING_THRESHOLD = 2
    ingest(key, trigger("x"))
    ingest(key, closing("resolve", "x"))
    third = ingest(key, trigger("x"))
    assert Incident.objects.get(pk=third.incident_id).is_flapping


# --- Redis down or hung: the feature goes, the alert never does --------------------------------


def test_redis_down_ingest_goes_on_and_warns_once(key, settings, caplog):
    settings.FLAPPING_REDIS_URL = "redis://127.0.0.1:1/0"  # nothing listens on port 1
    caplog.set_level(logging.WARNING, logger="vigil.flapping")
    outcomes = flap(key, times=4)
    outcomes.append(ingest(key, trigger("link-eth0")))
    assert [o.outcome for o in outcomes] == ["created", "resolved"] * 4 + ["created"]
    assert Incident.objects.count() == 5 and not Incident.objects.filter(is_flapping=True).exists()
    warnings = [r for r in caplog.records if r.name == "vigil.flapping"]
    assert len(warnings) == 1 and "without flapping detection" in warnings[0].getMessage()


def test_redis_down_warns_again_only_after_a_minute(key, settings, caplog):
    settings.FLAPPING_REDIS_URL = "redis://127.0.0.1:1/0"
    caplog.set_level(logging.WARNING, logger="vigil.flapping")
    ingest(key, trigger("a"))
    flapping._skip_until = float("-inf")  # past the back-off, within the minute
    ingest(key, trigger("b"))
    assert len([r for r in caplog.records if r.name == "vigil.flapping"]) == 1
    flapping._skip_until = float("-inf")
    flapping._last_warning_at -= 61
    ingest(key, trigger("c"))
    assert len([r for r in caplog.records if r.name == "vigil.flapping"]) == 2


def test_hung_redis_costs_one_socket_timeout_then_is_skipped(key, settings):
    """A peer that accepts connections and never answers, like a SIGSTOPped Redis."""
    silent = socket.socket()
    silent.bind(("127.0.0.1", 0))
    silent.listen(16)
    try:
        settings.FLAPPING_REDIS_URL = f"redis://127.0.0.1:{silent.getsockname()[1]}/0"
        started = time.monotonic()
        first = ingest(key, trigger("a"))
        first_took = time.monotonic() - started
        started = time.monotonic()
        for n in range(5):
            ingest(key, trigger(f"b{n}"))
        rest_took = time.monotonic() - started
    finally:
        silent.close()
    assert first.outcome == "created" and Incident.objects.count() == 6
    assert first_took < 2  # REDIS_SOCKET_TIMEOUT (0.2 s), no retries
    assert rest_took < first_took + 1  # skipped during the back-off, not one timeout each


def test_redis_back_after_the_back_off_is_used_again(key, settings):
    settings.FLAPPING_REDIS_URL = "redis://127.0.0.1:1/0"
    ingest(key, trigger("a"))
    settings.FLAPPING_REDIS_URL = settings.REDIS_URL
    flapping._skip_until = float("-inf")
    assert flapping.record_change(key.pk, "probe", "trigger") == 1


# --- stable again: clear the mark, one summary --------------------------------------------------


def test_stable_for_the_window_clears_the_mark_with_one_summary(key, django_capture_on_commit_callbacks):
    start = timezone.now()
    with time_machine.travel(start, tick=False):
        flap(key, times=4)  # incidents 3 and 4 are marked
        last = ingest(key, trigger("link-eth0"))  # incident 5, open and flapping
    flapping_ids = list(Incident.objects.filter(is_flapping=True).order_by("id").values_list("id", flat=True))
    assert len(flapping_ids) == 3 and flapping_ids[-1] == last.incident_id

    with time_machine.travel(start + timedelta(seconds=599), tick=False):
        assert flapping.clear_stable_flapping() == 0  # a change 599 s ago: not stable yet

    with time_machine.travel(start + timedelta(seconds=601), tick=False):
        with django_capture_on_commit_callbacks() as callbacks:
            assert flapping.clear_stable_flapping() == 3
    assert not Incident.objects.filter(is_flapping=True).exists()
    assert len(callbacks) == 1  # one summary for the whole episode, to its latest incident
    summary = TimelineEntry.objects.filter(incident_id=last.incident_id, kind="flapping").last()
    assert summary.data["stable"] and summary.data["summary_to"] == last.incident_id
    assert summary.data["opened"] == 5 and summary.data["resolved"] == 4
    assert "9 state changes (5 opened, 4 resolved)" in summary.message
    assert f"incident #{last.incident_id} is triggered" in summary.message
    assert summary.data["incidents"] == flapping_ids


def test_clearing_twice_sends_one_summary(key, django_capture_on_commit_callbacks):
    start = timezone.now()
    with time_machine.travel(start, tick=False):
        flap(key, times=3)
    with time_machine.travel(start + timedelta(minutes=11), tick=False):
        with django_capture_on_commit_callbacks() as callbacks:
            assert flapping.clear_stable_flapping() == 1
            assert flapping.clear_stable_flapping() == 0
    assert len(callbacks) == 1


def test_clearing_works_with_redis_down(key, settings):
    start = timezone.now()
    with time_machine.travel(start, tick=False):
        flap(key, times=3)
    settings.FLAPPING_REDIS_URL = "redis://127.0.0.1:1/0"  # the event log is the record
    with time_machine.travel(start + timedelta(minutes=11), tick=False):
        assert flapping.clear_stable_flapping() == 1


def test_the_periodic_task_is_registered():
    from django_celery_beat.models import PeriodicTask

    from config.periodic import PERIODIC_TASKS

    assert PERIODIC_TASKS["clear-stable-flapping"][0] == "incidents.noise.tasks.clear_stable_flapping_task"
    task = PeriodicTask.objects.get(name="clear-stable-flapping")
    assert task.enabled and task.interval.every == 60


# --- with the escalation engine ------------------------------------------------------------------


def test_pages_of_a_flapping_incident_are_held_then_one_summary_goes_out(team, django_capture_on_commit_callbacks):
    from escalation.models import Notification
    from tests.incidents.noise_helpers import paged_key, tasks_inline

    def committed(event):
        """One event and what its commit starts (escalation, recovery), as in production."""
        with tasks_inline(), django_capture_on_commit_callbacks(execute=True):
            return ingest(key, event)

    key = paged_key(team)
    start = timezone.now()
    with time_machine.travel(start, tick=False):
        for _ in range(3):
            committed(trigger("link-eth0", summary="Link eth0 down"))
            committed(closing("resolve", "link-eth0"))
        held_id = committed(trigger("link-eth0", summary="Link eth0 down")).incident_id
    pages = Notification.objects.filter(kind="page")
    assert pages.count() == 4
    assert list(pages.exclude(incident_id=held_id).values_list("status", flat=True)) == ["sent"] * 3
    assert pages.get(incident_id=held_id).status == "held"

    with time_machine.travel(start + timedelta(minutes=11), tick=False):
        with tasks_inline(), django_capture_on_commit_callbacks(execute=True):
            assert flapping.clear_stable_flapping() == 2  # the incident marked at the 6th change, and this one
    summaries = Notification.objects.filter(kind="summary")
    assert summaries.count() == 1 and summaries.get().incident_id == held_id
    assert pages.get(incident_id=held_id).status != "held"  # folded into the summary, never sent alone
