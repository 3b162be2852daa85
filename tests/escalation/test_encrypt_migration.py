"""The data migration (escalation 0004) encrypts the addresses and secrets already stored,
gives every existing outgoing webhook a signing secret, and is reversible."""

import pytest
from django.core.management import call_command
from django.db import connection

from escalation.models import ContactMethod
from tests.factories import make_user

SLACK_URL = "https://hooks.slack.com/services/T1/B2/plainsecret"


@pytest.mark.django_db(transaction=True)
def test_existing_rows_are_encrypted_and_still_usable():
    user = make_user("old")
    call_command("migrate", "escalation", "0003", verbosity=0)  # the text columns, still plain
    try:
        with connection.cursor() as cursor:
            cursor.execute(
                "INSERT INTO escalation_contactmethod (user_id, kind, address, address_digest, slack_format, enabled,"
                " verified, verification_digest, verification_attempts, created_at, disabled_reason, secrets)"
                " VALUES (%s, 'webhook', %s, '', true, true, true, '', 0, now(), '', '{}'),"
                " (%s, 'ntfy', 'https://ntfy.example.com/t', '', false, true, true, '', 0, now(), '',"
                " '{\"token\": \"tk_plain\"}')", [user.pk, SLACK_URL, user.pk])
    finally:
        call_command("migrate", "escalation", verbosity=0)
    with connection.cursor() as cursor:
        cursor.execute("SELECT address || secrets FROM escalation_contactmethod")
        stored = " ".join(row[0] for row in cursor.fetchall())
    assert "plainsecret" not in stored and "tk_plain" not in stored and stored.count("gAAAAA") == 4
    webhook = ContactMethod.objects.at_address("webhook", SLACK_URL).get()
    assert webhook.signing_secret.startswith("whsec_")
    assert ContactMethod.objects.get(kind="ntfy").secrets == {"token": "tk_plain"}

    call_command("migrate", "escalation", "0003", verbosity=0)  # and back: plain again
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT address FROM escalation_contactmethod ORDER BY id")
            assert [row[0] for row in cursor.fetchall()] == [SLACK_URL, "https://ntfy.example.com/t"]
    finally:
        call_command("migrate", "escalation", verbosity=0)
