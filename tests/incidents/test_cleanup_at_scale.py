"""Retention at scale (issue 11, item 8): the cleanup deletes a history written by SQL
(20,000 old resolved incidents and their rows) in set-based batches of a constant number of
statements, each statement along an index, while triggers keep committing beside an open
batch; every table that points at an incident is in the plan, derived from the models."""

import threading
import time

import pytest
from django.apps import apps
from django.core.exceptions import ImproperlyConfigured
from django.db import connection, models, transaction
from django.test import Client
from django.test.utils import CaptureQueriesContext, isolate_apps

from escalation.models import Notification, SlackMessage, SmsReplyCode
from incidents import cleanup, cleanup_plan
from incidents.cleanup_plan import incident_plan, referencing_fields
from incidents.models import Alert, ChangeEvent, Event, Incident, TimelineEntry
from tests.factories import make_key, make_team, make_user
from tests.incidents.retention_history import kept_incidents, write_history

pytestmark = pytest.mark.django_db(transaction=True)

OLD = 20_000
BATCH = 2_000
EXPLAIN_IDS = 100
BIG_TABLES = {m._meta.db_table for m in (Incident, Alert, Event, TimelineEntry, Notification)}
SCANS = {"Index Scan", "Index Only Scan", "Bitmap Index Scan"}


@pytest.fixture
def key_and_raw():
    return make_key(team=make_team("Storage"))


@pytest.fixture
def history(key_and_raw):
    """The SQL-written history, analysed as autovacuum would have by the time it is old."""
    with connection.cursor() as cursor:
        write_history(cursor.execute, OLD, key_and_raw[0].pk)
        for model in (Incident, Alert, Event, TimelineEntry, Notification, ChangeEvent):
            cursor.execute(f"ANALYZE {model._meta.db_table}")
    return key_and_raw


def plan_nodes(plan: dict):
    yield plan
    for child in plan.get("Plans", []):
        yield from plan_nodes(child)


def explain(sql: str, params) -> list[dict]:
    with connection.cursor() as cursor:
        cursor.execute(f"EXPLAIN (FORMAT JSON) {sql}", params)
        document = cursor.fetchone()[0]
    return list(plan_nodes(document[0]["Plan"]))


def test_every_foreign_key_to_an_incident_is_in_the_plan():
    """Scanned two ways (every model's fields, and Incident's reverse relations, hidden ones
    with `related_name="+"` included): a new table pointing at Incident, or at a table
    deleted with it, is either in the plan or makes incident_plan() raise for an on_delete
    the cleanup cannot do in SQL."""
    plan = incident_plan()
    planned = {(step.model, step.path[0].name) for step in plan}
    direct = {(rel.related_model, rel.field.name) for rel in Incident._meta.get_fields(include_hidden=True)
              if rel.auto_created and not rel.concrete}
    # `related_objects` leaves out the hidden ones: SmsReplyCode would be missed by it alone.
    assert {rel.related_model for rel in Incident._meta.related_objects} < {model for model, _ in direct}
    assert direct == {(f.model, f.name) for f in referencing_fields(Incident)}
    assert direct <= planned
    deleted = {step.model for step in plan if step.action == "delete"}
    for model in apps.get_models(include_auto_created=True):
        for field in model._meta.local_concrete_fields:
            if field.is_relation and field.remote_field.model in deleted | {Incident}:
                assert (model, field.name) in planned, f"{model._meta.label}.{field.name} is not in the cleanup plan"
    # Today's tables, so a change to the list is seen in review.
    assert [(s.label, s.action, s.lookup) for s in plan] == [
        ("incidents.Event", "delete", "incident"),
        ("escalation.SlackMessage", "delete", "notification__incident"),
        ("escalation.Notification", "delete", "incident"),
        ("escalation.SmsReplyCode", "delete", "incident"),
        ("incidents.Event", "set_null", "alert__incident"),
        ("incidents.Alert", "delete", "incident"),
        ("incidents.TimelineEntry", "delete", "incident"),
    ]
    assert all(step.path[-1].remote_field.model is Incident for step in plan)
    assert not referencing_fields(Event) and not referencing_fields(ChangeEvent)  # deleted by age alone


def test_the_cleanup_deletes_every_old_resolved_incident_with_its_rows_and_keeps_the_rest(history):
    old_ids = set(Incident.objects.filter(dedup_key__startswith="old-").values_list("pk", flat=True))
    kept_ids = set(Incident.objects.exclude(dedup_key__startswith="old-").values_list("pk", flat=True))
    assert len(old_ids) == OLD and len(kept_ids) == kept_incidents(OLD)
    # Rows of the other tables that hang off an incident: a Slack message, a reply code, and
    # an event of a kept incident that points at an old alert (its FK is SET_NULL).
    old, kept = Incident.objects.get(dedup_key="old-1"), Incident.objects.get(dedup_key="kept-resolved-1")
    SlackMessage.objects.create(notification=old.notifications.get(), channel="C1", ts="1.2")
    SmsReplyCode.objects.create(user=make_user("pager"), number=1, incident=old)
    straddler = Event.objects.create(incident=kept, alert=old.alerts.get(), format="events_v2",
                                     action="trigger", outcome="updated")
    kept_rows = {m: m.objects.filter(incident_id__in=kept_ids).count()
                 for m in (Alert, Event, TimelineEntry, Notification)}

    report = cleanup.cleanup_old_inbound_events(batch_size=BATCH)

    assert (report.incidents, report.alerts, report.events, report.timeline_entries, report.notifications) == (
        OLD, OLD, 3 * OLD, 3 * OLD, OLD)
    assert report.other_rows == {"escalation.SlackMessage": 1, "escalation.SmsReplyCode": 1}
    assert (report.orphan_events, report.change_events) == (OLD // 10, OLD // 100)
    assert report.batches == OLD // BATCH + 2 and report.timeouts == 0
    assert not Incident.objects.filter(pk__in=old_ids).exists()
    for model in (Alert, Event, TimelineEntry, Notification, SmsReplyCode):
        assert not model.objects.filter(incident_id__in=old_ids).exists()
    assert not SlackMessage.objects.exists() and not ChangeEvent.objects.exists()
    assert not Event.objects.filter(incident__isnull=True).exists()
    # The rest is untouched: triggered, acknowledged and recently resolved, with their rows.
    assert set(Incident.objects.values_list("pk", flat=True)) == kept_ids
    assert sorted(set(Incident.objects.values_list("status", flat=True))) == ["acknowledged", "resolved", "triggered"]
    assert {m: m.objects.filter(incident_id__in=kept_ids).count() for m in kept_rows} == kept_rows
    straddler.refresh_from_db()
    assert straddler.incident_id == kept.pk and straddler.alert_id is None


def test_each_statement_of_a_batch_runs_along_an_index(history):
    """EXPLAIN of the batch's select and of every statement of the plan, over the ids of a
    real batch: no sequential scan of any table, the select walks the resolved_at index and
    the stray events' DELETE the partial index made for it."""
    cutoff = cleanup.cutoff_for()
    with transaction.atomic():
        select, params = cleanup.IncidentSweep(cutoff, BATCH).select()
        select_plan = explain(select, params)
        with connection.cursor() as cursor:
            cursor.execute(select, params)
            ids = [row[0] for row in cursor.fetchall()]
    assert len(ids) == BATCH
    # The statements' plans over a share of the table a production batch is: 2,000 of a few
    # hundred thousand incidents (over 10% of this small table, a sequential scan is cheaper).
    ids = ids[:EXPLAIN_IDS]
    resolved_at_index = next(i.name for i in Incident._meta.indexes if i.fields == ["resolved_at"])
    assert [n["Index Name"] for n in select_plan if n["Node Type"] in SCANS] == [resolved_at_index]
    assert not [n for n in select_plan if n["Node Type"] == "Seq Scan"]
    statements = [(s.model._meta.db_table, s.sql()) for s in incident_plan()]
    statements.append((Incident._meta.db_table, cleanup.DELETE_INCIDENTS_SQL))
    for table, sql in statements:
        nodes = explain(sql, {"ids": ids})
        # Empty here (Slack messages, reply codes): a sequential scan of nothing is right.
        assert not [n for n in nodes if n["Node Type"] == "Seq Scan" and n["Relation Name"] in BIG_TABLES], nodes
        if table not in BIG_TABLES:
            continue
        # The rows to change are found by an index (a Bitmap Heap Scan is fed by one).
        assert any(n.get("Relation Name") == table and n["Node Type"] in SCANS | {"Bitmap Heap Scan"}
                   for n in nodes), (sql, nodes)
    with transaction.atomic():  # Django compiles FOR UPDATE only inside a transaction
        orphans = explain(*cleanup.by_age_sql(cleanup.old_orphan_events(cutoff), BATCH))
    # event_orphan_received, or here (few stray events) the incident_id index's IS NULL range.
    assert {n.get("Index Name") for n in orphans} & {"event_orphan_received", "incidents_event_incident_id_6e955528"}
    assert not [n for n in orphans if n["Node Type"] == "Seq Scan"]


def test_a_batch_is_a_constant_number_of_statements_whatever_its_size(history):
    """A batch is set_config, the select, one statement per plan step and the incidents'
    DELETE: the same for 2,000 incidents as for 500 (no per-row queries)."""
    per_batch = len(incident_plan()) + 3
    for batch_size in (500, BATCH):
        with transaction.atomic(), CaptureQueriesContext(connection) as captured:
            with connection.cursor() as cursor:
                deleted = cleanup.IncidentSweep(cleanup.cutoff_for(), batch_size).delete_batch(cursor)
        assert deleted["incidents.Incident"] == batch_size
        assert len(captured.captured_queries) == per_batch, [q["sql"][:60] for q in captured.captured_queries]


def test_a_trigger_commits_while_a_batch_transaction_is_open(history):
    """The batch holds its incidents and their rows locked until it commits; a trigger that
    arrives meanwhile (new dedup key, and the dedup key of an incident being deleted) goes
    through the real door on its own connection and commits without waiting for it."""
    raw_key = history[1]
    client = Client()

    def trigger(dedup_key: str):
        return client.post("/v2/enqueue", {"routing_key": raw_key, "event_action": "trigger", "dedup_key": dedup_key,
                                           "payload": {"summary": "Latency high", "severity": "error",
                                                       "source": "api-1"}}, content_type="application/json")

    assert trigger("warm-up").status_code == 202  # the first request imports half of Django
    batch_open, release = threading.Event(), threading.Event()
    outcome: dict = {}

    def batch():
        try:
            with transaction.atomic(), connection.cursor() as cursor:
                outcome["deleted"] = cleanup.IncidentSweep(cleanup.cutoff_for(), BATCH).delete_batch(cursor)
                batch_open.set()
                release.wait(30)
        finally:
            connection.close()

    holder = threading.Thread(target=batch)
    holder.start()
    try:
        assert batch_open.wait(30)
        for dedup_key in ("unrelated-new-key", f"old-{OLD}"):  # old-20000: the oldest, in this batch
            began = time.monotonic()
            response = trigger(dedup_key)
            seconds = time.monotonic() - began
            assert response.status_code == 202, response.content
            assert seconds < 1.0, f"trigger {dedup_key} took {seconds:.2f} s behind the open batch"
            # Committed: this connection is in autocommit, outside the batch's transaction.
            assert Incident.objects.filter(dedup_key=dedup_key, status="triggered").exists()
        assert holder.is_alive() and not release.is_set()
    finally:
        release.set()
        holder.join(30)
    assert outcome["deleted"]["incidents.Incident"] == BATCH
    assert Incident.objects.get(dedup_key=f"old-{OLD}").status == "triggered"  # the new one; the old one went


def test_a_batch_that_waits_for_a_lock_gives_up_and_the_next_run_finishes(history):
    """Someone holds a row lock on an old alert: the batch waits BATCH_LOCK_TIMEOUT_MS at
    most, rolls back, and the run reports a timeout instead of failing; the next run,
    after the lock is gone, deletes everything."""
    import psycopg

    db = connection.settings_dict
    with psycopg.connect(dbname=db["NAME"], user=db["USER"], host=db["HOST"], port=db["PORT"],
                         password=db["PASSWORD"] or None) as other:
        other.execute("SELECT id FROM incidents_alert WHERE dedup_key = 'old-1' FOR UPDATE")
        began = time.monotonic()
        report = cleanup.cleanup_old_inbound_events(batch_size=OLD)
        assert time.monotonic() - began < 5
        assert report.timeouts == 1 and report.incidents == 0
        assert Incident.objects.filter(dedup_key__startswith="old-").count() == OLD
        other.rollback()
    report = cleanup.cleanup_old_inbound_events(batch_size=BATCH)
    assert report.incidents == OLD and report.timeouts == 0
    assert not Incident.objects.filter(dedup_key__startswith="old-").exists()


@pytest.mark.parametrize("on_delete", [models.PROTECT, models.DO_NOTHING, models.SET_DEFAULT])
@isolate_apps("incidents")
def test_the_plan_refuses_an_on_delete_it_cannot_do_in_sql(on_delete):
    """A foreign key to Incident whose on_delete the cleanup cannot do in SQL is refused by
    name (shown on a model declared in an isolated registry, so the real one is untouched)."""

    class Postmortem(models.Model):
        incident = models.ForeignKey(Incident, on_delete=on_delete, default=1)

        class Meta:
            app_label = "incidents"

    with pytest.raises(ImproperlyConfigured, match=f"incidents.Postmortem.incident .* on_delete={on_delete.__name__}"):
        cleanup_plan.plan_step(Postmortem._meta.get_field("incident"), Incident, ())
