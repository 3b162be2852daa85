"""A page copies its contact method's address, encrypted (escalation/fields.py). The tick
encrypts each method's address once for all the page rows of that method in a batch
(`fields.Sealed`), instead of once per row: every token still opens with the field key to
the method's address, rows share a token only where they share the method, and a plain
value given to the field is still encrypted afresh on every write."""

import pytest
from django.db import connection

from escalation.engine import SealedAddresses, run_escalation_tick
from escalation.fields import Sealed, decrypt, seal
from escalation.models import ContactMethod, EscalationPolicy, Notification, NotificationRule
from tests.escalation.conftest import add_step, due_incidents, responder
from tests.factories import make_key

pytestmark = pytest.mark.django_db


def stored_addresses() -> list[tuple[int, str]]:
    with connection.cursor() as cursor:
        cursor.execute("SELECT contact_method_id, address FROM escalation_notification ORDER BY id")
        return cursor.fetchall()


def test_a_sealed_value_is_stored_as_given_and_a_plain_one_encrypted_on_every_write(sre):
    alice = responder("alice", team=sre)
    method = alice.contact_methods.get()
    incident = due_incidents(make_key(team=sre)[0], 1, label="sealed")[0]
    token = seal("alice@example.com")
    assert isinstance(token, Sealed) and decrypt(token) == "alice@example.com"
    for n, address in enumerate([token, "alice@example.com", "alice@example.com"]):
        Notification.objects.create(incident=incident, user=alice, contact_method=method, channel="email",
                                    address=address, dedupe_key=f"sealed-{n}", due_at=incident.created_at)
    (_, first), (_, second), (_, third) = stored_addresses()
    assert first == token  # not encrypted a second time
    assert len({first, second, third}) == 3  # a plain value gets a fresh token each write
    assert {decrypt(raw) for raw in (first, second, third)} == {"alice@example.com"}
    assert {n.address for n in Notification.objects.all()} == {"alice@example.com"}


def test_sealed_addresses_are_made_once_per_method_and_address():
    addresses = SealedAddresses()
    one = addresses[1, "ops@example.com"]
    assert addresses[1, "ops@example.com"] is one
    assert addresses[2, "ops@example.com"] != one  # another method: its own token, same address
    assert addresses[1, "new@example.com"] != one  # the method's address changed: a new token
    assert decrypt(addresses[2, "ops@example.com"]) == "ops@example.com"


def test_a_tick_writes_one_token_per_contact_method_of_a_batch_each_opening_to_its_address(sre):
    dana, erin = responder("dana", team=sre), responder("erin", team=sre)
    hook = ContactMethod.objects.create(user=dana, kind="webhook", address="https://hooks.example.com/dana")
    NotificationRule.objects.create(user=dana, contact_method=hook, delay_minutes=0)
    NotificationRule.objects.create(user=dana, contact_method=dana.contact_methods.get(kind="email"),
                                    delay_minutes=0)
    policy = EscalationPolicy.objects.create(name="sealed", team=sre)
    add_step(policy, 0, users=[dana, erin])
    due_incidents(make_key(team=sre, policy=policy)[0], 5, label="sealed")

    report = run_escalation_tick()

    assert report.steps == 5 and report.errors == 0
    rows = stored_addresses()
    assert len(rows) == 15  # 5 incidents x (dana's email and webhook, erin's email)
    tokens: dict[int, set[str]] = {}
    for method_id, raw in rows:
        tokens.setdefault(method_id, set()).add(raw)
    methods = ContactMethod.objects.in_bulk(list(tokens))
    assert len(methods) == 3
    for method_id, raws in tokens.items():
        assert len(raws) == 1
        assert decrypt(next(iter(raws))) == methods[method_id].address
    assert len(set().union(*tokens.values())) == 3
