import copy

import pytest

from incidents.models import Event, Incident
from integrations.formats.base import fingerprint
from tests.conftest import load_payload
from tests.integrations.doorkit import DOORS

pytestmark = pytest.mark.django_db

PATH = "/api/integrations/alertmanager"


def post(api, raw_key, body, *, in_path=False):
    if in_path:
        return api.post(f"{PATH}/{raw_key}", body, format="json")
    return api.post(PATH, body, format="json", HTTP_AUTHORIZATION=f"Bearer {raw_key}")


def notification(*statuses_and_fingerprints, **fields):
    body = copy.deepcopy(next(d for d in DOORS if d.name == "alertmanager").trigger)
    template = body["alerts"][0]
    body["alerts"] = [
        {**copy.deepcopy(template), "status": status, "fingerprint": fp,
         "labels": {**template["labels"], "instance": fp}}
        for status, fp in statuses_and_fingerprints
    ]
    body.update(fields)
    return body


@pytest.mark.parametrize("in_path", [False, True], ids=["bearer", "key-in-path"])
def test_kubejobcompletion_envelope_opens_an_incident(api, raw_key, in_path):
    body = load_payload("alertmanager/kubejobcompletion_v4_envelope.json")
    response = post(api, raw_key, body, in_path=in_path)
    assert response.status_code == 200
    incident = Incident.objects.get()
    dedup_key = fingerprint(body["alerts"][0]["labels"])
    assert response.json() == {"status": "success",
                               "events": [{"dedup_key": dedup_key, "incident_id": incident.pk,
                                           "outcome": "created"}]}
    assert incident.summary == "KubeJobCompletion"
    assert incident.severity == "warning"
    assert incident.labels["job_name"] == "email-tracking-perform-initialization-1.0.50"
    assert incident.links[0]["text"] == "Source"
    assert incident.runbook.endswith("#alert-name-kubejobcompletion")
    assert incident.details["commonLabels"]["alertname"] == "KubeJobCompletion"


def test_each_alert_gets_its_own_outcome(api, raw_key):
    response = post(api, raw_key, notification(("firing", "a"), ("firing", "b"), ("resolved", "c")))
    outcomes = [(e["dedup_key"], e["outcome"]) for e in response.json()["events"]]
    assert outcomes == [("a", "created"), ("b", "created"), ("c", "ignored")]
    assert Incident.objects.count() == 2


def test_repeat_notification_dedups_by_fingerprint_and_resolved_closes(api, raw_key):
    first = post(api, raw_key, notification(("firing", "a"))).json()["events"][0]
    again = post(api, raw_key, notification(("firing", "a"))).json()["events"][0]
    assert (again["incident_id"], again["outcome"]) == (first["incident_id"], "updated")
    assert Incident.objects.get().alert_count == 2
    closed = post(api, raw_key, notification(("resolved", "a"), status="resolved")).json()["events"][0]
    assert closed["outcome"] == "resolved"
    assert Incident.objects.get().status == "resolved"


def test_community_resolved_alert_without_open_incident_is_ignored(api, raw_key):
    response = post(api, raw_key, load_payload("alertmanager/community_k8s_resolved.json"))
    assert response.json()["events"] == [{"dedup_key": "fbab788ec4c1018b", "incident_id": None,
                                          "outcome": "ignored"}]


def test_grafana_oncall_example_keeps_its_extra_field_on_the_incident(api, raw_key):
    post(api, raw_key, load_payload("alertmanager/grafana_oncall_example_payload.json"))
    assert Incident.objects.get().details["amixr_demo"] is True


def test_one_bad_alert_never_fails_the_batch(api, raw_key):
    body = notification(("firing", "a"), ("exploded", "b"), ("firing", "c"))
    body["alerts"].append("not an alert")
    response = post(api, raw_key, body)
    assert response.status_code == 200
    outcomes = [e["outcome"] for e in response.json()["events"]]
    assert outcomes == ["created", "rejected", "created", "rejected"]
    assert Incident.objects.count() == 2
    rejected = Event.objects.filter(outcome="rejected").order_by("id")
    assert "alerts[1]: 'status'" in rejected[0].reason
    assert rejected[1].reason == "alerts[3]: is not an object"


def test_empty_alerts_is_200_with_no_events(api, raw_key):
    response = post(api, raw_key, notification())
    assert response.status_code == 200
    assert response.json() == {"status": "success", "events": []}


def test_missing_alerts_is_a_400_naming_it(api, raw_key):
    response = post(api, raw_key, {"version": "4", "status": "firing"})
    assert response.status_code == 400
    assert response.json()["errors"] == ["'alerts' is missing or not a list"]


def test_truncated_alerts_are_recorded_in_details_and_event_log(api, raw_key):
    post(api, raw_key, notification(("firing", "a"), truncatedAlerts=5))
    assert Incident.objects.get().details["truncatedAlerts"] == 5
    assert "5 alert(s)" in Event.objects.get().reason


@pytest.mark.parametrize("value,expected", [
    ("critical", "critical"), ("page", "critical"), ("p1", "critical"), ("error", "error"), ("high", "error"),
    ("major", "error"), ("p2", "error"), ("warning", "warning"), ("warn", "warning"), ("medium", "warning"),
    ("p3", "warning"), ("info", "info"), ("low", "info"), ("none", "info"), ("p4", "info"), ("p5", "info"),
    ("nonsense", "warning")])
def test_severity_table(api, raw_key, value, expected):
    body = notification(("firing", "a"))
    body["alerts"][0]["labels"]["severity"] = value
    assert post(api, raw_key, body).status_code == 200
    incident = Incident.objects.get()
    assert (incident.severity, incident.original_severity) == (expected, value)


@pytest.mark.parametrize("alertname", ["Watchdog", "DeadMansSwitch", "MyAlwaysFiring"])
def test_watchdog_alert_feeds_the_heartbeat_and_opens_nothing(api, raw_key, key, alertname):
    key.watchdog_alertnames = ["MyAlwaysFiring"]
    key.save()
    body = notification(("firing", "w"))
    body["alerts"][0]["labels"]["alertname"] = alertname
    response = post(api, raw_key, body)
    assert response.json()["events"][0]["outcome"] == "heartbeat"
    key.refresh_from_db()
    assert key.last_heartbeat_at is not None
    assert not Incident.objects.exists()


@pytest.mark.usefixtures("grouping_key")
class TestGroupByGroupKey:
    @pytest.fixture
    def grouping_key(self, key):
        key.group_by_alertmanager_group_key = True
        key.save()

    def test_one_incident_per_group_resolved_with_the_group(self, api, raw_key):
        body = notification(("firing", "a"), ("firing", "b"))
        [event] = post(api, raw_key, body).json()["events"]
        assert (event["dedup_key"], event["outcome"]) == (body["groupKey"], "created")
        incident = Incident.objects.get()
        assert [a["dedup_key"] for a in incident.details["alerts"]] == ["a", "b"]
        # One alert resolved, the group still firing: the incident stays open.
        [event] = post(api, raw_key, notification(("firing", "a"), ("resolved", "b"))).json()["events"]
        assert event["outcome"] == "updated"
        [event] = post(api, raw_key, notification(("resolved", "a"), ("resolved", "b"),
                                                  status="resolved")).json()["events"]
        assert event["outcome"] == "resolved"
        assert Incident.objects.get().status == "resolved"



def test_a_batch_costs_a_fixed_number_of_queries_per_alert(api, raw_key, django_assert_max_num_queries):
    body = notification(*[("firing", f"fp-{i}") for i in range(10)])
    # Per new alert: lock, savepoint, incident, alert, event log and escalation hand-off.
    with django_assert_max_num_queries(10 * 9 + 5):
        assert post(api, raw_key, body).status_code == 200
    with django_assert_max_num_queries(10 * 6 + 5):
        post(api, raw_key, body)
    assert Incident.objects.get(dedup_key="fp-3").alert_count == 2
