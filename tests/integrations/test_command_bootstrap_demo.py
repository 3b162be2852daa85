"""`manage.py bootstrap_demo` (run by `make run`): creates the demo once, prints secrets once."""

import io
import re

import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command

from integrations import keys
from integrations.models import IntegrationKey
from oncall.models import Team, TeamMembership

pytestmark = pytest.mark.django_db

RAW_KEY = re.compile(r"ik_[A-Za-z0-9]{29}")


@pytest.fixture(autouse=True)
def loopback_exempt_from_rate_limit(settings):
    settings.INBOUND_RATE_LIMIT_EXEMPT = ["127.0.0.0/8"]


def bootstrap() -> str:
    out = io.StringIO()
    call_command("bootstrap_demo", stdout=out)
    return out.getvalue()


def test_first_run_creates_team_admin_and_key_and_prints_them_once(monkeypatch, api):
    monkeypatch.delenv("VIGIL_DEMO_PASSWORD", raising=False)
    out = bootstrap()
    password = re.search(r"password: (\S+)", out).group(1)
    admin = get_user_model().objects.get(username="admin")
    assert admin.is_superuser and admin.check_password(password)
    team = Team.objects.get(slug="demo")
    assert TeamMembership.objects.get(team=team, user=admin).role == "admin"
    (raw,) = set(RAW_KEY.findall(out))
    key = IntegrationKey.objects.get(team=team)
    assert key.key_digest == keys.digest(raw)
    assert re.search(rf"curl -sS -X POST \S+/v2/enqueue .*{raw}", out)
    body = {"routing_key": raw, "event_action": "trigger",
            "payload": {"summary": "demo", "severity": "info", "source": "t"}}
    assert api.post("/v2/enqueue", body, format="json").status_code == 202


def test_second_run_creates_nothing_and_prints_no_secret(monkeypatch):
    monkeypatch.delenv("VIGIL_DEMO_PASSWORD", raising=False)
    bootstrap()
    counts = (get_user_model().objects.count(), Team.objects.count(), IntegrationKey.objects.count())
    again = bootstrap()
    assert (get_user_model().objects.count(), Team.objects.count(), IntegrationKey.objects.count()) == counts
    assert not RAW_KEY.search(again)
    assert "password:" not in again
    assert "exists" in again and "create_integration_key" in again


def test_password_comes_from_the_environment_when_set(monkeypatch):
    monkeypatch.setenv("VIGIL_DEMO_PASSWORD", "a-chosen-demo-password")
    out = bootstrap()
    assert "a-chosen-demo-password" not in out
    assert get_user_model().objects.get(username="admin").check_password("a-chosen-demo-password")


def test_an_existing_admin_is_left_alone(monkeypatch):
    monkeypatch.delenv("VIGIL_DEMO_PASSWORD", raising=False)
    get_user_model().objects.create_user("admin", password="kept-as-it-was")
    out = bootstrap()
    assert get_user_model().objects.get(username="admin").check_password("kept-as-it-was")
    assert "password:" not in out
    assert RAW_KEY.search(out)  # the key did not exist yet, so it is created and shown
