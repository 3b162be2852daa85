"""`manage.py create_integration_key`: the raw key alone on stdout, for scripts."""

import io
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command

from escalation.models import EscalationPolicy
from integrations import keys
from integrations.models import IntegrationKey
from tests.factories import make_policy, make_team

pytestmark = pytest.mark.django_db

RAW_KEY_LINE = re.compile(r"ik_[A-Za-z0-9]{29}\n")


@pytest.fixture(autouse=True)
def loopback_exempt_from_rate_limit(settings):
    settings.INBOUND_RATE_LIMIT_EXEMPT = ["127.0.0.0/8"]


def create(**options) -> tuple[str, str]:
    out, err = io.StringIO(), io.StringIO()
    call_command("create_integration_key", stdout=out, stderr=err, **options)
    return out.getvalue(), err.getvalue()


def test_prints_the_raw_key_alone_on_stdout(team, api):
    out, err = create(name="Prometheus", policy="Primary", team="sre")
    assert RAW_KEY_LINE.fullmatch(out)
    raw = out.strip()
    key = IntegrationKey.objects.get(name="Prometheus")
    assert key.key_digest == keys.digest(raw) and key.key_prefix == raw[:8]
    assert raw not in err  # the chatter on stderr names only the prefix
    body = {"routing_key": raw, "event_action": "trigger",
            "payload": {"summary": "x", "severity": "info", "source": "t"}}
    assert api.post("/v2/enqueue", body, format="json").status_code == 202


def test_creates_a_policy_with_no_steps_when_none_exists(team):
    _, err = create(name="k", policy="Brand new", team="sre")
    policy = EscalationPolicy.objects.get(name="Brand new")
    assert policy.team == team and not policy.steps.exists()
    assert IntegrationKey.objects.get().escalation_policy == policy
    assert "Brand new" in err


def test_reuses_the_teams_policy_of_that_name(team):
    existing = make_policy("Primary", team=team)
    make_policy("Primary", team=make_team("Payments"))
    create(name="k", policy="Primary", team="sre")
    assert IntegrationKey.objects.get().escalation_policy == existing
    assert EscalationPolicy.objects.filter(name="Primary").count() == 2


def test_reuses_a_shared_policy_of_that_name(team):
    shared = make_policy("Company-wide", team=None)
    create(name="k", policy="Company-wide", team="sre")
    assert IntegrationKey.objects.get().escalation_policy == shared


def test_team_by_name_as_well_as_slug():
    payments = make_team("Payments Team")
    create(name="k", policy="p", team="Payments Team")
    create(name="k2", policy="p", team="payments-team")
    assert set(IntegrationKey.objects.values_list("team", flat=True)) == {payments.pk}


def test_without_team_the_key_belongs_to_no_team(db):
    create(name="global", policy="Global")
    assert IntegrationKey.objects.get().team is None


def test_unknown_team_is_an_error_and_writes_nothing(team):
    with pytest.raises(CommandError, match="No team"):
        create(name="k", policy="Fresh policy", team="nope")
    assert not IntegrationKey.objects.exists()
    assert not EscalationPolicy.objects.filter(name="Fresh policy").exists()


def test_blank_name_is_an_error(team):
    with pytest.raises(CommandError):
        create(name="  ", policy="p", team="sre")
    assert not IntegrationKey.objects.exists()


def test_name_and_policy_are_required():
    with pytest.raises(CommandError):
        call_command("create_integration_key", "--name", "only-name")


@pytest.mark.django_db(transaction=True)
def test_a_shell_script_can_capture_the_key():
    """What README users do: KEY=$(python manage.py create_integration_key ...)."""
    make_team("SRE")
    from django.db import connection

    settings_dict = connection.settings_dict
    env = dict(os.environ, DATABASE_URL=(
        f"postgres://{settings_dict['USER']}@{settings_dict['HOST'] or '127.0.0.1'}:{settings_dict['PORT'] or 5432}"
        f"/{settings_dict['NAME']}"
    ))
    root = Path(__file__).resolve().parents[2]
    done = subprocess.run(
        [sys.executable, "manage.py", "create_integration_key", "--name", "scripted", "--policy", "p", "--team", "sre"],
        cwd=root, env=env, capture_output=True, text=True, timeout=60,
    )
    assert done.returncode == 0, done.stderr
    assert RAW_KEY_LINE.fullmatch(done.stdout)
    assert IntegrationKey.objects.get(name="scripted").key_digest == keys.digest(done.stdout.strip())
