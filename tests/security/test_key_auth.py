"""T35 and T36: integration key authentication, rotation and revocation.

A key that is unknown, revoked or malformed is refused before anything is written; rotation
gives a second working key; revocation takes effect on the very next request; and the raw
key is never shown again (API, admin) nor logged."""

import io
import logging
import re

import pytest
from django.apps import apps
from django.core.management import call_command

from integrations import keys
from integrations.models import IntegrationKey
from oncall.models import TeamMembership
from tests.factories import api_client_for, make_user

pytestmark = pytest.mark.django_db

DOORS = ["/v2/enqueue", "/api/events/ingest"]
RAW_KEY = re.compile(r"ik_[A-Za-z0-9]{29}")


@pytest.fixture(autouse=True)
def loopback_exempt_from_rate_limit(settings):
    settings.INBOUND_RATE_LIMIT_EXEMPT = ["127.0.0.0/8"]


def row_counts() -> dict[str, int]:
    """Rows in every table Django knows, ours and the framework's."""
    return {model._meta.label: model._default_manager.count() for model in apps.get_models()}


def trigger(raw_key=None, **extra):
    body = {"event_action": "trigger", "dedup_key": "disk-full",
            "payload": {"summary": "Disk full", "severity": "critical", "source": "srv01"}}
    if raw_key is not None:
        body["routing_key"] = raw_key
    body.update(extra)
    return body


def assert_invalid_key(response):
    assert response.status_code == 400
    assert response.json()["errors"] == ["Invalid routing key"]


@pytest.fixture
def admin_user(team):
    return make_user("ada", team=team, role=TeamMembership.Role.ADMIN)


@pytest.fixture
def admin_api(admin_user):
    return api_client_for(admin_user)


BAD_KEYS = {
    "unknown": keys.generate_raw_key(),
    "malformed_long": "ik_" + "A" * 42,
    "not_ours": "R0ABC123DEF456GHI789JKL012MNO345",
    "empty": "",
    "whitespace": "   ",
    "number": 12345,
    "object": {"key": "ik_x"},
    "huge": "ik_" + "x" * 5000,
}


@pytest.mark.parametrize("door", DOORS)
@pytest.mark.parametrize("case", sorted(BAD_KEYS))
def test_bad_key_in_body_is_refused_and_writes_nothing(api, key, door, case):
    before = row_counts()
    assert_invalid_key(api.post(door, trigger(BAD_KEYS[case]), format="json"))
    assert row_counts() == before


@pytest.mark.parametrize("door", DOORS)
def test_bad_key_in_header_is_refused_and_writes_nothing(api, key, door):
    before = row_counts()
    assert_invalid_key(api.post(door, trigger(), format="json", HTTP_X_ROUTING_KEY=keys.generate_raw_key()))
    assert row_counts() == before


@pytest.mark.parametrize("door", DOORS)
def test_missing_key_is_refused_and_writes_nothing(api, key, door):
    before = row_counts()
    assert_invalid_key(api.post(door, trigger(), format="json"))
    assert row_counts() == before


@pytest.mark.parametrize("door", DOORS)
def test_revoked_key_is_refused_and_writes_nothing(api, key, raw_key, door):
    key.revoke()
    before = row_counts()
    assert_invalid_key(api.post(door, trigger(raw_key), format="json"))
    assert_invalid_key(api.post(door, trigger(), format="json", HTTP_X_ROUTING_KEY=raw_key))
    assert row_counts() == before


def test_good_key_works_in_body_and_in_header(api, raw_key):
    assert api.post("/v2/enqueue", trigger(raw_key), format="json").status_code == 202
    assert api.post("/v2/enqueue", trigger(dedup_key="other"), format="json",
                    HTTP_X_ROUTING_KEY=raw_key).status_code == 202


def test_lookup_is_one_indexed_equality_on_the_digest(key, raw_key, django_assert_num_queries):
    field = IntegrationKey._meta.get_field("key_digest")
    assert field.unique and field.max_length == 64
    with django_assert_num_queries(1) as captured:
        assert IntegrationKey.objects.authenticate(raw_key) == key
    sql = captured.captured_queries[0]["sql"]
    assert f"\"key_digest\" = '{keys.digest(raw_key)}'" in sql
    assert raw_key not in sql


def test_rotation_gives_two_working_keys_then_revoking_the_first_stops_it_at_once(api, admin_api, key, raw_key):
    rotated = admin_api.post(f"/api/v1/integration-keys/{key.pk}/rotate/")
    assert rotated.status_code == 201
    second_raw = rotated.json()["key"]
    assert second_raw != raw_key

    assert api.post("/v2/enqueue", trigger(raw_key, dedup_key="one"), format="json").status_code == 202
    assert api.post("/v2/enqueue", trigger(second_raw, dedup_key="two"), format="json").status_code == 202

    assert admin_api.post(f"/api/v1/integration-keys/{key.pk}/revoke/").status_code == 200
    # The very next request: no cache stands between revocation and the door.
    assert_invalid_key(api.post("/v2/enqueue", trigger(raw_key, dedup_key="three"), format="json"))
    assert api.post("/v2/enqueue", trigger(second_raw, dedup_key="four"), format="json").status_code == 202


def test_create_answers_the_raw_key_once_and_never_again(admin_api, team, key):
    created = admin_api.post(
        "/api/v1/integration-keys/",
        {"name": "Grafana", "escalation_policy": key.escalation_policy_id, "team": "sre"},
        format="json",
    )
    assert created.status_code == 201
    raw = created.json()["key"]
    assert raw.startswith("ik_") and len(raw) == 32
    new_id = created.json()["id"]
    for path in ["/api/v1/integration-keys/", f"/api/v1/integration-keys/{new_id}/",
                 "/api/v1/integration-keys/?state=active"]:
        text = admin_api.get(path).content.decode()
        assert raw not in text
        assert keys.digest(raw) not in text
        assert raw[:8] in text  # the display prefix is what people see


def test_incident_api_shows_the_prefix_not_the_key(api, admin_api, raw_key):
    incident_id = api.post("/v2/enqueue", trigger(raw_key), format="json").json()["incident_id"]
    for path in ["/api/v1/incidents/", f"/api/v1/incidents/{incident_id}/"]:
        text = admin_api.get(path).content.decode()
        assert raw_key not in text and keys.digest(raw_key) not in text
        assert raw_key[:8] in text


def test_the_event_log_keeps_the_body_but_not_the_key(api, raw_key):
    from incidents.models import Event

    api.post("/v2/enqueue", trigger(raw_key, client="Prometheus"), format="json")
    stored = Event.objects.get().raw
    assert raw_key not in stored
    assert '"client": "Prometheus"' in stored or '"client":"Prometheus"' in stored
    assert raw_key[:8] + "…" in stored


@pytest.fixture
def every_log(caplog):
    """caplog, also fed by the loggers that do not propagate to the root (django.request)."""
    names = ("django.request", "django.server")
    quiet = [logging.getLogger(name) for name in names]
    for logger in quiet:
        logger.addHandler(caplog.handler)
    caplog.set_level(logging.DEBUG)
    for name in names:
        caplog.set_level(logging.DEBUG, logger=name)
    yield caplog
    for logger in quiet:
        logger.removeHandler(caplog.handler)


def test_raw_keys_never_reach_the_logs(every_log, api, client, admin_api, admin_user, key, raw_key):
    shown = [raw_key]
    api.post("/v2/enqueue", trigger(raw_key), format="json")
    api.post("/v2/enqueue", {"routing_key": raw_key, "event_action": "trigger", "payload": {}}, format="json")
    created = admin_api.post(
        "/api/v1/integration-keys/",
        {"name": "Logs", "escalation_policy": key.escalation_policy_id, "team": "sre"},
        format="json",
    ).json()
    shown.append(created["key"])
    shown.append(admin_api.post(f"/api/v1/integration-keys/{created['id']}/rotate/").json()["key"])
    out = io.StringIO()
    call_command("create_integration_key", name="cli", policy="Logs policy", team="sre", stdout=out,
                 stderr=io.StringIO())
    shown.append(out.getvalue().strip())
    root = make_user("root", is_superuser=True, is_staff=True)
    client.force_login(root)
    client.post("/admin/integrations/integrationkey/add/", {
        "name": "admin-made", "escalation_policy": key.escalation_policy_id, "team": key.team_id,
        "grouping_type": "none", "grouping_window_seconds": 300, "grouping_labels": "[]",
    })
    page = client.get("/admin/integrations/integrationkey/new-key/").content.decode()
    admin_raw = IntegrationKey.objects.get(name="admin-made")
    shown.extend(word for word in set(RAW_KEY.findall(page)) if keys.digest(word) == admin_raw.key_digest)
    assert len(shown) == 5, "every path issued a key"
    for raw in shown:
        api.post("/v2/enqueue", trigger(raw, dedup_key="log-check"), format="json")
        assert raw not in every_log.text
    assert "Bad Request: /v2/enqueue" in every_log.text, "the requests above did log"


def test_a_responder_cannot_rotate_or_revoke(team, key, raw_key, api):
    responder = api_client_for(make_user("rita", team=team))
    assert responder.post(f"/api/v1/integration-keys/{key.pk}/rotate/").status_code == 403
    assert responder.post(f"/api/v1/integration-keys/{key.pk}/revoke/").status_code == 403
    key.refresh_from_db()
    assert key.is_active and not key.rotations.exists()
    assert api.post("/v2/enqueue", trigger(raw_key), format="json").status_code == 202
