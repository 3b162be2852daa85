"""Issue 2, "done means": a grep of a database dump for a raw key finds nothing.

Keys are issued through every path people use (REST API, admin, command line, bootstrap),
used at the door, rotated; then pg_dump of the committed test database is searched."""

import io
import os
import re
import subprocess

import pytest
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.core.management import call_command
from django.db import connection
from rest_framework.test import APIClient

from integrations import keys
from integrations.models import IntegrationKey
from oncall.models import TeamMembership
from tests.factories import api_client_for, make_policy, make_team, make_user

RAW_KEY = re.compile(r"ik_[A-Za-z0-9]{29}")


@pytest.fixture(autouse=True)
def loopback_exempt_from_rate_limit(settings):
    settings.INBOUND_RATE_LIMIT_EXEMPT = ["127.0.0.0/8"]


def pg_dump() -> str:
    db = connection.settings_dict
    command = ["pg_dump", "--no-owner", "--host", db["HOST"] or "127.0.0.1", "--port", str(db["PORT"] or 5432),
               "--username", db["USER"] or "postgres", db["NAME"]]
    env = dict(os.environ, PGPASSWORD=db["PASSWORD"] or "")
    done = subprocess.run(command, capture_output=True, text=True, env=env, timeout=120)
    assert done.returncode == 0, done.stderr
    return done.stdout


def only_key_in(html: str, key: IntegrationKey) -> str:
    (raw,) = {word for word in RAW_KEY.findall(html) if keys.digest(word) == key.key_digest}
    return raw


@pytest.mark.django_db(transaction=True)
def test_a_database_dump_holds_no_raw_key():
    team = make_team("SRE")
    policy = make_policy("Primary", team=team)
    ada = make_user("ada", team=team, role=TeamMembership.Role.ADMIN)
    root = make_user("root", is_superuser=True, is_staff=True)
    issued: list[str] = []

    # 1. REST API: create, then rotate.
    rest = api_client_for(ada)
    created = rest.post("/api/v1/integration-keys/", {"name": "api", "escalation_policy": policy.pk, "team": "sre"},
                        format="json").json()
    issued.append(created["key"])
    issued.append(rest.post(f"/api/v1/integration-keys/{created['id']}/rotate/").json()["key"])

    # 2. Admin: add, then the rotate action; each shown once on the new-key page.
    from django.test import Client

    browser = Client()
    browser.force_login(root)
    browser.post("/admin/integrations/integrationkey/add/", {
        "name": "admin", "escalation_policy": policy.pk, "team": team.pk, "grouping_type": "none",
        "grouping_window_seconds": 300, "grouping_labels": "[]",
    })
    admin_key = IntegrationKey.objects.get(name="admin")
    issued.append(only_key_in(browser.get("/admin/integrations/integrationkey/new-key/").content.decode(), admin_key))
    browser.post("/admin/integrations/integrationkey/", {"action": "rotate_keys", ACTION_CHECKBOX_NAME: [admin_key.pk]})
    rotated = IntegrationKey.objects.get(rotated_from=admin_key)
    issued.append(only_key_in(browser.get("/admin/integrations/integrationkey/new-key/").content.decode(), rotated))

    # 3. Command line, and the demo bootstrap.
    out = io.StringIO()
    call_command("create_integration_key", name="cli", policy="Primary", team="sre", stdout=out, stderr=io.StringIO())
    issued.append(out.getvalue().strip())
    out = io.StringIO()
    call_command("bootstrap_demo", stdout=out)
    issued.append(only_key_in(out.getvalue(), IntegrationKey.objects.get(name="Demo key")))

    # 4. Use every key at the door, in the body and in the header, and with a bad body.
    sender = APIClient()
    for n, raw in enumerate(issued):
        body = {"routing_key": raw, "event_action": "trigger", "dedup_key": f"dump-{n}",
                "payload": {"summary": f"dump test {n}", "severity": "critical", "source": "dump-test"}}
        assert sender.post("/v2/enqueue", body, format="json").status_code == 202
        del body["routing_key"]
        assert sender.post("/api/events/ingest", body, format="json", HTTP_X_ROUTING_KEY=raw).status_code == 202
        assert sender.post("/v2/enqueue", {"routing_key": raw, "event_action": "trigger"},
                           format="json").status_code == 400

    assert len(set(issued)) == 6
    dump = pg_dump()
    assert "dump-test" in dump, "the dump holds the events that were sent"
    for raw in issued:
        assert raw not in dump
        assert keys.digest(raw) in dump
