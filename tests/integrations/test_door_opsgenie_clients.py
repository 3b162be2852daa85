"""Real Opsgenie senders against a live Vigil: Debian's Alertmanager with `opsgenie_configs`
(only `api_url` changed; `update_alerts: true`), and the official `opsgenie-sdk` client."""

from __future__ import annotations

import shutil
import socket
import subprocess
import time
from datetime import UTC, datetime, timedelta

import httpx
import opsgenie_sdk
import pytest

from incidents.models import Event, Incident, TimelineEntry

ALERTMANAGER = shutil.which("prometheus-alertmanager") or shutil.which("alertmanager")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_for(condition, timeout: float = 30.0, what: str = "condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = condition()
        if found:
            return found
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}")


@pytest.fixture
def alertmanager(live_server, raw_key, tmp_path):
    """Alertmanager whose one receiver is Opsgenie, pointed at this Vigil by `api_url`."""
    if ALERTMANAGER is None:
        pytest.fail("Alertmanager is not installed: `make test` installs Debian's prometheus-alertmanager")
    config = tmp_path / "alertmanager.yml"
    config.write_text(f"""
route:
  receiver: vigil
  group_by: [alertname]
  group_wait: 1s
  group_interval: 1s
  # Annotations are not part of what Alertmanager compares: the changed one is sent again
  # on the next repeat.
  repeat_interval: 2s
receivers:
  - name: vigil
    opsgenie_configs:
      - api_url: {live_server.url}/
        api_key: {raw_key}
        update_alerts: true
""")
    port = free_port()
    process = subprocess.Popen(
        [ALERTMANAGER, f"--config.file={config}", f"--storage.path={tmp_path / 'data'}",
         f"--web.listen-address=127.0.0.1:{port}", "--cluster.listen-address=", "--log.level=warn"],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
    )
    url = f"http://127.0.0.1:{port}"

    def ready():
        try:
            return httpx.get(f"{url}/-/ready", timeout=1).status_code == 200
        except httpx.HTTPError:
            return False

    try:
        wait_for(ready, what="alertmanager to start")
        yield url
    finally:
        process.terminate()
        process.wait(timeout=10)


def post_alert(alertmanager_url: str, summary: str, ends_at: datetime | None = None) -> None:
    alert = {"labels": {"alertname": "DiskFull", "instance": "srv01", "severity": "critical"},
             "annotations": {"summary": summary}}
    if ends_at is not None:
        alert["endsAt"] = ends_at.isoformat()
    response = httpx.post(f"{alertmanager_url}/api/v2/alerts", json=[alert], timeout=5)
    assert response.status_code == 200, response.text


@pytest.mark.django_db(transaction=True)
def test_alertmanager_opens_updates_and_closes_an_incident_through_vigil(alertmanager):
    post_alert(alertmanager, "Disk 90% full on srv01")
    incident = wait_for(lambda: Incident.objects.first(), what="the create")
    assert incident.summary.startswith("[FIRING:1] DiskFull") and len(incident.dedup_key) == 64
    assert incident.labels["instance"] == "srv01"
    # Its message and description updates arrive by PUT, and are answered 2xx.
    wait_for(lambda: Event.objects.filter(format="opsgenie", action="update").count() >= 2, what="the PUTs")

    post_alert(alertmanager, "Disk 95% full on srv01")  # the description changes

    def updated():
        latest = Incident.objects.get(pk=incident.pk).latest
        return "Disk 95% full" in str((latest.get("details") or {}).get("description", ""))

    wait_for(updated, what="the description update")

    post_alert(alertmanager, "Disk 95% full on srv01", ends_at=datetime.now(UTC) - timedelta(seconds=1))
    wait_for(lambda: Incident.objects.get(pk=incident.pk).status == "resolved", what="the close")
    assert Incident.objects.count() == 1
    assert not Event.objects.filter(outcome="rejected").exists()


@pytest.fixture
def alert_api(live_server, raw_key):
    configuration = opsgenie_sdk.Configuration()
    configuration.host = live_server.url
    configuration.api_key["Authorization"] = raw_key
    configuration.retry_enabled = False
    return opsgenie_sdk.AlertApi(opsgenie_sdk.ApiClient(configuration))


@pytest.mark.django_db(transaction=True)
def test_the_opsgenie_sdk_creates_acknowledges_notes_and_closes(alert_api):
    created = alert_api.create_alert(opsgenie_sdk.CreateAlertPayload(
        message="Checkout 5xx above 5%", alias="checkout-5xx", priority="P2", tags=["checkout"],
        details={"service": "checkout"}))
    assert created.result == "Request will be processed"
    status = alert_api.get_request_status(created.request_id).data
    incident = Incident.objects.get()
    assert (status.action, status.is_success, status.alert_id, status.alias) == (
        "Create", True, str(incident.pk), "checkout-5xx")
    assert (incident.summary, incident.severity) == ("Checkout 5xx above 5%", "error")

    alert_api.acknowledge_alert("checkout-5xx", identifier_type="alias",
                                acknowledge_alert_payload=opsgenie_sdk.AcknowledgeAlertPayload(user="ana"))
    assert Incident.objects.get().status == "acknowledged"
    alert_api.add_note("checkout-5xx", opsgenie_sdk.AddNoteToAlertPayload(note="rolling back"),
                       identifier_type="alias")
    assert "rolling back" in TimelineEntry.objects.get(kind="note").message
    closed = alert_api.close_alert(str(incident.pk), identifier_type="id",
                                   close_alert_payload=opsgenie_sdk.CloseAlertPayload(source="sdk"))
    assert alert_api.get_request_status(closed.request_id).data.status == "Closed alert"
    assert Incident.objects.get().status == "resolved"


@pytest.mark.django_db(transaction=True)
def test_the_opsgenie_sdk_sees_opsgenies_errors(alert_api):
    with pytest.raises(opsgenie_sdk.exceptions.OpenApiException) as raised:
        alert_api.get_request_status("0b7a3f1e-0000-4000-8000-000000000000")
    assert raised.value.status == 404
    with pytest.raises(opsgenie_sdk.exceptions.OpenApiException) as raised:
        alert_api.create_alert(opsgenie_sdk.CreateAlertPayload(message="m", priority="P1", alias="a" * 513))
    assert raised.value.status == 422
