"""`incidents.rows.insert_many`: many rows of one model in one statement with one JSON
parameter, stored as the ORM would store them, their ids handed back in input order."""

from datetime import timedelta

import pytest
from django.contrib.auth import get_user_model
from django.db import DataError, connection, transaction
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from escalation.fields import is_encrypted
from escalation.models import ContactMethod, Notification
from incidents import rows
from incidents.models import Incident, TimelineEntry

pytestmark = pytest.mark.django_db


@pytest.fixture
def incident():
    return Incident.objects.create(summary="Disk full on db-1", dedup_key="disk-db-1")


@pytest.fixture
def method():
    user = get_user_model().objects.create(username="rows-alice", password="!")
    return ContactMethod.objects.create(user=user, kind="email", address="alice@example.com")


def page(incident, method, n: int, address: str = "alice@example.com") -> Notification:
    return Notification(incident=incident, user=method.user, contact_method=method, channel="email",
                        address=address, dedupe_key=f"rows-test:{incident.pk}:{n}", due_at=timezone.now())


def test_ids_in_input_order_one_statement_one_parameter(incident):
    entries = [TimelineEntry(incident=incident, kind=TimelineEntry.Kind.NOTE, message=f"line {n}")
               for n in range(250)]
    with CaptureQueriesContext(connection) as queries:
        ids = rows.insert_many(entries)
    assert len(queries) == 1
    assert queries[0]["sql"].count("jsonb_populate_recordset") == 1
    assert ids == [entry.pk for entry in entries]
    assert len(set(ids)) == 250
    stored = dict(TimelineEntry.objects.filter(pk__in=ids).values_list("pk", "message"))
    assert [stored[pk] for pk in ids] == [f"line {n}" for n in range(250)]
    assert all(not entry._state.adding for entry in entries)


def test_empty_list_writes_nothing():
    with CaptureQueriesContext(connection) as queries:
        assert rows.insert_many([]) == []
    assert len(queries) == 0


def test_defaults_and_auto_now_add_applied(incident, method):
    before = timezone.now()
    row = page(incident, method, 1)
    rows.insert_many([row])
    stored = Notification.objects.get(pk=row.pk)
    assert (stored.kind, stored.status, stored.attempts, stored.step_index, stored.last_error) == (
        "page", "pending", 0, 0, "")
    assert stored.enqueued_at is None and stored.sent_at is None
    # auto_now_add: set on the object and stored the same, to the microsecond.
    assert before <= row.created_at <= timezone.now()
    assert stored.created_at == row.created_at
    assert stored.due_at == row.due_at


def test_encrypted_field_stored_as_a_token_that_decrypts(incident, method):
    row = page(incident, method, 1, address="+15550001234")
    rows.insert_many([row, page(incident, method, 2, address="bob@example.com")])
    with connection.cursor() as cursor:
        cursor.execute("SELECT address FROM escalation_notification WHERE id = %s", [row.pk])
        raw = cursor.fetchone()[0]
    assert raw != "+15550001234" and is_encrypted(raw)
    assert Notification.objects.get(pk=row.pk).address == "+15550001234"
    assert Notification.objects.get(dedupe_key=f"rows-test:{incident.pk}:2").address == "bob@example.com"


def test_json_columns(incident):
    data = {"step": 2, "user_ids": [3, 1], "note": "ünïcode \"quoted\" \\ back", "nested": {"ok": None}}
    entries = [TimelineEntry(incident=incident, kind=TimelineEntry.Kind.ESCALATION, message="m", data=data),
               TimelineEntry(incident=incident, kind=TimelineEntry.Kind.NOTE, message="defaults")]
    rows.insert_many(entries)
    assert TimelineEntry.objects.get(pk=entries[0].pk).data == data
    assert TimelineEntry.objects.get(pk=entries[1].pk).data == {}  # the field's default


def test_timestamps_keep_offset_and_microseconds(incident):
    at = timezone.now().replace(microsecond=123456) - timedelta(days=3)
    entry = TimelineEntry(incident=incident, kind=TimelineEntry.Kind.NOTE, message="then", created_at=at)
    rows.insert_many([entry])
    assert TimelineEntry.objects.get(pk=entry.pk).created_at == at


def test_nul_in_text_refused_and_nothing_written(incident):
    entries = [TimelineEntry(incident=incident, kind=TimelineEntry.Kind.NOTE, message="fine"),
               TimelineEntry(incident=incident, kind=TimelineEntry.Kind.NOTE, message="bad\x00byte")]
    with pytest.raises(DataError), transaction.atomic():
        rows.insert_many(entries)
    assert not TimelineEntry.objects.filter(incident=incident).exists()
    assert entries[0].pk is None
