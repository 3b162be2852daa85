"""DRF's authtoken kept each REST token raw (`authtoken_token.key`). Each one becomes an
ApiToken holding only knox's digest (SHA-512 of the token) and its first 15 characters, so
every script keeps working with the token it has; then the raw table is dropped, with
authtoken's rows in django_migrations (the app is no longer installed).

A moved token expires API_TOKEN_TTL_DAYS after this migration runs (it had no expiry
before). knox 5 checks no token length, so DRF's 40-character tokens authenticate as they
are (tests/oncall/test_api_tokens.py proves it)."""

import hashlib
from datetime import timedelta

from django.conf import settings
from django.db import migrations
from django.utils import timezone

DRF_TABLE = "authtoken_token"
MOVED_NAME = "Token from before per-device tokens"
KNOX_TOKEN_KEY_LENGTH = 15  # knox.settings.CONSTANTS.TOKEN_KEY_LENGTH, frozen here


def knox_digest(raw: str) -> str:
    # knox.crypto.hash_token with its default SECURE_HASH_ALGORITHM (sha512), frozen here.
    return hashlib.sha512(raw.encode("utf-8")).hexdigest()


def move_drf_tokens(apps, schema_editor):
    connection = schema_editor.connection
    if DRF_TABLE not in connection.introspection.table_names():
        return
    ApiToken = apps.get_model("oncall", "ApiToken")
    expiry = timezone.now() + timedelta(days=getattr(settings, "API_TOKEN_TTL_DAYS", 90))
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT key, user_id, created FROM {DRF_TABLE}")  # noqa: S608 (a constant)
        rows = cursor.fetchall()
    # bulk_create: knox's manager's create() makes a new token; this keeps the old one.
    ApiToken.objects.bulk_create(
        ApiToken(digest=knox_digest(raw), token_key=raw[:KNOX_TOKEN_KEY_LENGTH], user_id=user_id,
                 expiry=expiry, name=MOVED_NAME)
        for raw, user_id, _ in rows
    )
    for raw, _, created in rows:  # auto_now_add ignored the old creation time
        ApiToken.objects.filter(digest=knox_digest(raw)).update(created=created)
    schema_editor.execute(f"DROP TABLE {DRF_TABLE}")
    schema_editor.execute("DELETE FROM django_migrations WHERE app = %s", ["authtoken"])


class Migration(migrations.Migration):
    dependencies = [("oncall", "0003_invitations_and_api_tokens")]

    operations = [migrations.RunPython(move_drf_tokens, migrations.RunPython.noop, elidable=False)]
