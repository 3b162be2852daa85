"""docs/operations.md's restore drill, run: pg_dump (custom format) of the test database with
an incident and a key in it, pg_restore into a fresh database, `manage.py migrate` against
the restore, then the restored rows are there and the old raw integration key authenticates
(keys are stored as digests, so a restore keeps them working)."""

from __future__ import annotations

import os
import subprocess
import sys
import time
import uuid
from pathlib import Path

import psycopg
import pytest
from django.db import connection

from tests.factories import make_incident, make_key, make_team

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.timeout(120)]
REPO = Path(__file__).resolve().parents[1]


def libpq_args(db: dict) -> list[str]:
    return ["-h", db["HOST"] or "127.0.0.1", "-p", str(db["PORT"] or 5432), "-U", db["USER"] or "postgres"]


def test_restore_drill_dump_restore_migrate_and_the_old_key_still_works(tmp_path):
    team = make_team("Restore drill")
    key, raw = make_key(team=team)
    incident = make_incident(key, dedup_key="restore-drill")
    db = connection.settings_dict
    dump = tmp_path / "vigil.dump"
    restored = f"vigil_restore_{uuid.uuid4().hex[:8]}"
    env = {**os.environ, "PGPASSWORD": db.get("PASSWORD") or ""}

    began = time.monotonic()
    subprocess.run(["pg_dump", *libpq_args(db), "-d", db["NAME"], "-Fc", "-f", str(dump)],
                   check=True, env=env, timeout=60)
    dumped = time.monotonic() - began
    subprocess.run(["createdb", *libpq_args(db), restored], check=True, env=env, timeout=30)
    try:
        subprocess.run(["pg_restore", *libpq_args(db), "--no-owner", "--no-privileges", "-d", restored,
                        str(dump)], check=True, env=env, timeout=60)
        url = (f"postgres://{db['USER'] or 'postgres'}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}"
               f"/{restored}")
        child_env = {k: v for k, v in os.environ.items() if not k.startswith("PYTEST_")}
        child_env.update(DATABASE_URL=url, SECRET_KEY="restore-drill-only", DJANGO_SETTINGS_MODULE="config.settings")
        migrate = subprocess.run([sys.executable, "manage.py", "migrate", "--noinput"], cwd=REPO, env=child_env,
                                 capture_output=True, text=True, timeout=60)
        assert migrate.returncode == 0, migrate.stderr
        assert "No migrations to apply" in migrate.stdout, migrate.stdout
        check = subprocess.run([sys.executable, "manage.py", "migrate", "--check"], cwd=REPO, env=child_env,
                               capture_output=True, text=True, timeout=60)
        assert check.returncode == 0, check.stdout + check.stderr

        with psycopg.connect(f"host={db['HOST'] or '127.0.0.1'} port={db['PORT'] or 5432} "
                             f"user={db['USER'] or 'postgres'} dbname={restored}") as restored_db:
            row = restored_db.execute("SELECT id, status FROM incidents_incident WHERE id = %s",
                                      [incident.pk]).fetchone()
            assert row == (incident.pk, incident.status)
        # The raw key from before the dump authenticates against the restore, by Vigil's own lookup.
        lookup = subprocess.run(
            [sys.executable, "manage.py", "shell", "-c",
             "import sys; from integrations.models import IntegrationKey as K; "
             "print(K.objects.authenticate(sys.stdin.read()).pk)"],
            cwd=REPO, env=child_env, input=raw, capture_output=True, text=True, timeout=60)
        assert lookup.returncode == 0, lookup.stderr
        assert lookup.stdout.strip().splitlines()[-1] == str(key.pk)
        took = time.monotonic() - began
        print(f"\nrestore drill: dump {dumped:.2f} s ({dump.stat().st_size} bytes), "
              f"dump + restore + migrate {took:.2f} s")
    finally:
        subprocess.run(["dropdb", *libpq_args(db), "--if-exists", restored], check=True, env=env, timeout=30)
