"""REST API tokens at rest and in use (RELIABILITY T47, the REST token part): made on the
Profile page, over REST and by the commands, a `pg_dump` holds none of them; an expired or
revoked token is a 401; DRF's old raw tokens move into digests and keep working."""

from __future__ import annotations

import importlib
import io
import os
import subprocess
from datetime import timedelta

import pytest
from django.core.management import CommandError, call_command
from django.db import connection
from django.utils import timezone
from knox.crypto import hash_token
from rest_framework.test import APIClient

from oncall.models import ApiToken
from tests.factories import api_client_for, make_user

pytestmark = pytest.mark.django_db


def client_with(raw: str) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {raw}")
    return client


def works(raw: str) -> int:
    return client_with(raw).get("/api/v1/incidents/").status_code


def command_token(*args) -> str:
    out = io.StringIO()
    call_command("api_token", *args, stdout=out, stderr=io.StringIO())
    return out.getvalue().strip()


@pytest.mark.django_db(transaction=True)
@pytest.mark.timeout(120)
def test_t47_a_database_dump_holds_no_raw_rest_token(client_of, tmp_path):
    """T47: tokens from the Profile page, REST, `api_token create` and `drf_create_token`;
    then pg_dump of the whole database: 0 hits for any of them (nor their secret part)."""
    rita = make_user("rita")
    raws = [client_of(rita).post("/profile/token/new/", {"name": "laptop", "expires_in_days": "90"})
            .context["raw_token"]]
    made = client_with(raws[0]).post("/api/v1/api-tokens/", {"name": "ci"}, format="json")
    assert made.status_code == 201
    raws.append(made.json()["token"])
    raws.append(command_token("create", "--user", "rita", "--name", "cron", "--never-expires"))
    out = io.StringIO()
    call_command("drf_create_token", "rita", stdout=out)
    raws.append(out.getvalue().split()[2])
    assert all(works(raw) == 200 for raw in raws) and len(set(raws)) == 4

    db = connection.settings_dict
    dump = tmp_path / "vigil.sql"
    subprocess.run(["pg_dump", "-h", db["HOST"] or "127.0.0.1", "-p", str(db["PORT"] or 5432),
                    "-U", db["USER"] or "postgres", "-d", db["NAME"], "-f", str(dump)],
                   check=True, env={**os.environ, "PGPASSWORD": db.get("PASSWORD") or ""}, timeout=60)
    text = dump.read_text()
    assert "oncall_apitoken" in text and hash_token(raws[0]) in text  # the digests are there
    hits = [raw for raw in raws if raw in text or raw[15:] in text]
    print(f"\nT47: {len(raws)} tokens, dump {len(text)} bytes, raw hits {len(hits)}")
    assert hits == []


def test_t47_an_expired_token_is_401_and_is_deleted():
    rita = make_user("rita")
    raw = command_token("create", "--user", "rita", "--days", "1")
    assert works(raw) == 200
    ApiToken.objects.filter(user=rita).update(expiry=timezone.now() - timedelta(seconds=1))
    assert works(raw) == 401
    assert not ApiToken.objects.filter(user=rita).exists()


def test_t47_tokens_expire_after_the_setting_by_default(settings):
    settings.API_TOKEN_TTL_DAYS = 30
    rita = make_user("rita")
    body = api_client_for(rita).post("/api/v1/api-tokens/", {"name": "ci"}, format="json").json()
    token = ApiToken.objects.get(pk=body["id"])
    assert timedelta(days=29, hours=23) < token.expiry - timezone.now() <= timedelta(days=30)


def test_t47_a_revoked_token_is_401_by_rest_command_and_profile(client_of):
    rita = make_user("rita")
    by_rest, by_command, by_profile = (command_token("create", "--user", "rita", "--name", n)
                                       for n in ("rest", "command", "profile"))
    ids = {t.name: t.pk for t in ApiToken.objects.filter(user=rita)}
    assert client_with(by_command).delete(f"/api/v1/api-tokens/{ids['rest']}/").status_code == 204
    call_command("api_token", "revoke", "--user", "rita", "--id", str(ids["command"]), stderr=io.StringIO())
    client_of(rita).post(f"/profile/token/{ids['profile']}/revoke/")
    assert [works(raw) for raw in (by_rest, by_command, by_profile)] == [401, 401, 401]


def test_the_rest_endpoint_lists_my_tokens_without_the_secret_and_hides_others():
    rita, sam = make_user("rita"), make_user("sam")
    api = api_client_for(rita)
    created = api.post("/api/v1/api-tokens/", {"name": "ci", "expires_in_days": 7}, format="json").json()
    assert set(created) == {"id", "name", "prefix", "created", "expiry", "token"}
    listed = api.get("/api/v1/api-tokens/").json()
    names = {row["name"] for row in listed["results"]}
    assert names == {"tests", "ci"} and created["token"] not in str(listed)
    theirs, _ = ApiToken.objects.create(user=sam, name="sam's")
    assert api.delete(f"/api/v1/api-tokens/{theirs.pk}/").status_code == 404
    assert ApiToken.objects.filter(pk=theirs.pk).exists()


@pytest.mark.parametrize("body", [{"name": "x", "expires_in_days": 0}, {"name": "x", "expires_in_days": 99999},
                                  {"expires_in_days": 5}, {"name": ""}])
def test_rest_refuses_a_token_without_expiry_or_name(body):
    response = api_client_for(make_user("rita")).post("/api/v1/api-tokens/", body, format="json")
    assert response.status_code == 400
    assert ApiToken.objects.filter(name="x").count() == 0


def test_the_command_lists_and_revokes_without_showing_a_token():
    make_user("rita")
    raw = command_token("create", "--user", "rita", "--name", "laptop")
    listing = command_token("list", "--user", "rita")
    assert "laptop" in listing and raw[:8] in listing and raw not in listing
    call_command("api_token", "revoke", "--user", "rita", "--all", stderr=io.StringIO())
    assert works(raw) == 401
    with pytest.raises(CommandError, match="No user"):
        command_token("create", "--user", "ghost")
    with pytest.raises(CommandError, match="needs --id"):
        command_token("revoke", "--user", "rita")


def test_drf_create_token_keeps_working_as_api_md_says():
    make_user("rita")
    out = io.StringIO()
    call_command("drf_create_token", "rita", stdout=out)
    first = out.getvalue().split()[2]
    out = io.StringIO()
    call_command("drf_create_token", "rita", "-r", stdout=out)
    second = out.getvalue().split()[2]
    assert (works(first), works(second)) == (401, 200)


DRF_TABLE_SQL = """
CREATE TABLE authtoken_token (
    key varchar(40) PRIMARY KEY,
    created timestamp with time zone NOT NULL,
    user_id integer NOT NULL UNIQUE REFERENCES auth_user (id) DEFERRABLE INITIALLY DEFERRED
)"""


def test_the_migration_moves_drf_raw_tokens_into_digests_and_they_keep_working():
    """knox 5 checks no token length: DRF's 40-character token authenticates as it is."""
    rita = make_user("rita")
    old = "0123456789abcdef0123456789abcdef01234567"
    migration = importlib.import_module("oncall.migrations.0004_move_drf_tokens_to_digests")
    with connection.cursor() as cursor:
        cursor.execute(DRF_TABLE_SQL)
        cursor.execute("INSERT INTO authtoken_token (key, created, user_id) VALUES (%s, now() - interval '1 year', %s)",
                       [old, rita.pk])
        cursor.execute("INSERT INTO django_migrations (app, name, applied) VALUES ('authtoken', '0001_initial', now())")
        # The rows of a real install were committed long ago: no deferred check is pending.
        cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
    from django.apps import apps

    with connection.schema_editor() as editor:
        migration.move_drf_tokens(apps, editor)
    assert "authtoken_token" not in connection.introspection.table_names()
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM django_migrations WHERE app = 'authtoken'")
        assert cursor.fetchone() == (0,)
    moved = ApiToken.objects.get(user=rita)
    assert moved.digest == hash_token(old) and old not in str(vars(moved)).replace(old[:15], "")
    assert moved.created < timezone.now() - timedelta(days=300) and moved.expiry > timezone.now()
    assert works(old) == 200


@pytest.mark.parametrize("header", ["Token \xff\xfe", "Token " + "a" * 10_000, "Token", "Token a b", "Token \u00e9t\u00e9"])
def test_a_malformed_token_header_is_401_never_500(db, header):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=header)
    assert client.get("/api/v1/incidents/").status_code == 401
