"""`apply_events`: the events of one request (an Alertmanager POST of 100 alerts) in one
transaction, against real PostgreSQL: stored all or none, in the request's order, at a
fixed number of statements per event."""

import pytest
from django.db import DataError

from incidents.models import Alert, Event, Incident
from incidents.pipeline import apply_events
from tests.incidents.noise_helpers import closing, trigger

pytestmark = pytest.mark.django_db

# Per event inside the one transaction: a new alert costs the repeat probe (which also reads
# the maintenance window) and the statement that writes incident, alert and log line; a
# repeat costs the probe alone. Plus the transaction's own savepoint pair in a test.
NEW_PER_EVENT, REPEAT_PER_EVENT, PER_REQUEST = 2, 1, 2


def apply(key, events):
    return apply_events(key, events, format="alertmanager")


def test_one_request_of_100_new_alerts_costs_two_statements_an_alert(key, django_assert_num_queries):
    apply(key, [trigger("warm-up")])  # the suppression rules are read once, then cached
    events = [trigger(f"disk-{n}") for n in range(100)]
    with django_assert_num_queries(100 * NEW_PER_EVENT + PER_REQUEST):
        outcomes = apply(key, events)
    assert [o.outcome for o in outcomes] == ["created"] * 100
    assert [o.dedup_key for o in outcomes] == [f"disk-{n}" for n in range(100)]
    assert Incident.objects.filter(dedup_key__startswith="disk-").count() == 100
    logged = Event.objects.filter(pk__in=[o.event_id for o in outcomes])
    assert {(e.incident_id, e.outcome) for e in logged} == {(o.incident_id, "created") for o in outcomes}


def test_the_same_100_alerts_again_cost_one_statement_each(key, django_assert_num_queries):
    apply(key, [trigger(f"disk-{n}") for n in range(100)])
    with django_assert_num_queries(100 * REPEAT_PER_EVENT + PER_REQUEST):
        outcomes = apply(key, [trigger(f"disk-{n}") for n in range(100)])
    assert {o.outcome for o in outcomes} == {"updated"}
    assert set(Alert.objects.values_list("count", flat=True)) == {2}
    assert Event.objects.filter(outcome="updated").count() == 100


def test_a_request_whose_third_event_fails_stores_none_of_its_events(key):
    # PostgreSQL refuses NUL in text: a real failure in the middle of the request.
    events = [trigger("first"), trigger("second"), trigger("third", summary="broken \x00 text")]
    with pytest.raises(DataError):
        apply(key, events)
    assert not Incident.objects.exists() and not Alert.objects.exists() and not Event.objects.exists()


def test_events_are_applied_in_the_request_s_order(key):
    outcomes = apply(key, [trigger("a"), closing("resolve", "a"), trigger("a")])
    assert [o.outcome for o in outcomes] == ["created", "resolved", "created"]
    assert outcomes[0].incident_id == outcomes[1].incident_id != outcomes[2].incident_id
