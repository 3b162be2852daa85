"""Alert grouping by time window (issue 5): new dedup keys within the window join the open
incident as new alerts, under a lock so a burst never opens two incidents."""

import threading
from datetime import timedelta

import pytest
import time_machine
from django.db import connection
from django.utils import timezone

from incidents import actions
from incidents.models import Alert, Event, Incident
from tests.factories import make_key
from tests.incidents.noise_helpers import closing, ingest, tasks_inline, trigger

WINDOW = 300


@pytest.fixture
def grouping_key(team):
    key, _ = make_key(team=team, grouping_type="time_window", grouping_window_seconds=WINDOW)
    return key


@pytest.fixture
def by_service_key(team):
    key, _ = make_key(team=team, grouping_type="time_window", grouping_window_seconds=WINDOW,
                      grouping_labels=["service"])
    return key


@pytest.mark.django_db
def test_a_new_dedup_key_within_the_window_joins_the_open_incident(grouping_key, django_capture_on_commit_callbacks):
    first = ingest(grouping_key, trigger("disk-srv01"))
    with django_capture_on_commit_callbacks() as callbacks:
        second = ingest(grouping_key, trigger("disk-srv02", summary="Disk usage > 90% on srv02"))
    assert second.outcome == "grouped"
    assert second.incident_id == first.incident_id
    incident = Incident.objects.get()
    assert incident.alert_count == 2
    assert incident.summary == "Disk usage > 90% on srv01"  # the title stays the first summary
    assert incident.latest["summary"] == "Disk usage > 90% on srv02"
    assert list(incident.alerts.values_list("dedup_key", "status")) == [("disk-srv01", "open"), ("disk-srv02", "open")]
    event = Event.objects.get(dedup_key="disk-srv02")
    assert event.outcome == "grouped" and event.incident_id == incident.pk
    assert f"grouped into incident #{incident.pk}" in event.reason and f"{WINDOW}s window" in event.reason
    assert callbacks == []  # joining pages nobody: the incident is already escalating


@pytest.mark.django_db
def test_after_the_window_a_new_dedup_key_opens_a_new_incident(grouping_key):
    start = timezone.now()
    with time_machine.travel(start, tick=False):
        first = ingest(grouping_key, trigger("a"))
    with time_machine.travel(start + timedelta(seconds=WINDOW - 1), tick=False):
        assert ingest(grouping_key, trigger("b")).incident_id == first.incident_id
    with time_machine.travel(start + timedelta(seconds=WINDOW + 1), tick=False):
        late = ingest(grouping_key, trigger("c"))
        # The new incident opens a new window: the next new key joins it, not the old one.
        after = ingest(grouping_key, trigger("d"))
    assert late.outcome == "created" and late.incident_id != first.incident_id
    assert after.outcome == "grouped" and after.incident_id == late.incident_id
    assert Incident.objects.get(pk=first.incident_id).alert_count == 2


@pytest.mark.django_db
def test_a_key_without_grouping_opens_one_incident_per_dedup_key(key):
    assert ingest(key, trigger("a")).incident_id != ingest(key, trigger("b")).incident_id


@pytest.mark.django_db
def test_grouping_labels_split_the_window_by_their_values(by_service_key):
    api_1 = ingest(by_service_key, trigger("a", labels={"service": "api", "host": "h1"}))
    api_2 = ingest(by_service_key, trigger("b", labels={"service": "api", "host": "h2"}))
    db_1 = ingest(by_service_key, trigger("c", labels={"service": "db"}))
    bare = ingest(by_service_key, trigger("d", labels={}))
    assert api_2.outcome == "grouped" and api_2.incident_id == api_1.incident_id
    assert db_1.outcome == "created" and bare.outcome == "created"
    assert len({api_1.incident_id, db_1.incident_id, bare.incident_id}) == 3
    assert Incident.objects.get(pk=api_1.incident_id).group_key == 'window:{"service":"api"}'
    assert "same labels" in Event.objects.get(dedup_key="b").reason


@pytest.mark.django_db
def test_a_repeat_of_a_grouped_alert_updates_that_alert(grouping_key):
    first = ingest(grouping_key, trigger("a"))
    ingest(grouping_key, trigger("b"))
    again = ingest(grouping_key, trigger("b"))
    assert again.outcome == "updated" and again.incident_id == first.incident_id
    assert Alert.objects.get(dedup_key="b").count == 2
    assert Incident.objects.get().alert_count == 3


@pytest.mark.django_db
def test_resolving_a_grouped_alert_closes_that_alert_and_the_last_one_closes_the_incident(grouping_key):
    incident_id = ingest(grouping_key, trigger("a")).incident_id
    ingest(grouping_key, trigger("b"))
    partial = ingest(grouping_key, closing("resolve", "b"))
    assert partial.outcome == "resolved" and "1 other alert(s) of the incident still open" in partial.reason
    assert Alert.objects.get(dedup_key="b").status == "resolved"
    assert Incident.objects.get().status == "triggered"
    assert ingest(grouping_key, closing("resolve", "a")).outcome == "resolved"
    assert Incident.objects.get(pk=incident_id).status == "resolved"


@pytest.mark.django_db
def test_acknowledging_a_grouped_alerts_dedup_key_acknowledges_its_incident(grouping_key):
    incident_id = ingest(grouping_key, trigger("a")).incident_id
    ingest(grouping_key, trigger("b"))
    ack = ingest(grouping_key, closing("acknowledge", "b"))
    assert ack.outcome == "acknowledged" and ack.incident_id == incident_id
    assert Incident.objects.get().status == "acknowledged"
    # An acknowledged incident keeps grouping (it is still open) and stays acknowledged.
    assert ingest(grouping_key, trigger("c")).outcome == "grouped"
    assert Incident.objects.get().status == "acknowledged"


@pytest.mark.django_db
def test_a_person_resolving_closes_every_alert_and_the_next_key_opens_a_new_incident(grouping_key):
    incident_id = ingest(grouping_key, trigger("a")).incident_id
    ingest(grouping_key, trigger("b"))
    actions.do_resolve_incident(incident_id, via="api")
    assert not Alert.objects.filter(status="open").exists()
    fresh = ingest(grouping_key, trigger("c"))
    assert fresh.outcome == "created" and fresh.incident_id != incident_id


@pytest.mark.django_db
def test_untitled_spike_alerts_are_never_grouped(grouping_key):
    one, two = trigger("x"), trigger("y")
    one.dedupable = two.dedupable = False
    assert ingest(grouping_key, one).incident_id != ingest(grouping_key, two).incident_id


@pytest.mark.django_db
def test_the_same_dedup_key_on_two_keys_never_groups_across_keys(grouping_key, team):
    sibling, _ = make_key(team=team, grouping_type="time_window", grouping_window_seconds=WINDOW)
    assert ingest(grouping_key, trigger("a")).incident_id != ingest(sibling, trigger("b")).incident_id


@pytest.mark.django_db(transaction=True)
def test_a_burst_of_new_dedup_keys_opens_exactly_one_incident(grouping_key):
    """Ten new dedup keys at the same instant: the group lock lets one open the incident;
    the nine others wait for its commit and join it."""
    threads_n = 10
    barrier = threading.Barrier(threads_n)
    outcomes, errors = [], []

    def send(n):
        try:
            barrier.wait()
            outcomes.append(ingest(grouping_key, trigger(f"burst-{n}")))
        except Exception as error:  # noqa: BLE001 (reported below)
            errors.append(error)
        finally:
            connection.close()

    threads = [threading.Thread(target=send, args=(n,)) for n in range(threads_n)]
    with tasks_inline():  # the committed incident's escalation runs here, not on a broker
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(30)
    assert errors == []
    assert Incident.objects.count() == 1
    incident = Incident.objects.get()
    assert incident.alert_count == threads_n and incident.alerts.count() == threads_n
    assert sorted(o.outcome for o in outcomes) == ["created"] + ["grouped"] * (threads_n - 1)
    assert {o.incident_id for o in outcomes} == {incident.pk}


@pytest.mark.django_db
def test_joining_a_group_costs_a_bounded_number_of_queries(grouping_key, django_assert_max_num_queries):
    ingest(grouping_key, trigger("a"))
    # Inside the test's transaction (apply_event's block is a savepoint pair here): the open
    # alert SELECT, the inner savepoint pair, the group lock, the incident SELECT ... FOR
    # UPDATE, the alert INSERT, the incident UPDATE, the event INSERT.
    with django_assert_max_num_queries(10):
        assert ingest(grouping_key, trigger("b")).outcome == "grouped"
