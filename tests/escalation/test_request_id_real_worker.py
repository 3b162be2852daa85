"""The request id crosses the broker: a trigger sent with `X-Request-ID` to the live server
enqueues its escalation through Redis; a real `celery worker` child process with
LOG_FORMAT=json logs that task, and the page it sends, under the same request id."""

from __future__ import annotations

import json

import httpx
import pytest

from escalation.models import EscalationPolicy
from tests.escalation.conftest import add_step, responder
from tests.escalation.workers import child_env, start_worker, stop, wait_for_log
from tests.factories import make_key, make_team

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.timeout(180)]


def test_a_page_sent_by_the_worker_logs_the_request_id_of_the_trigger(smtp, live_server, tmp_path):
    team = make_team("Traced")
    alice = responder("alice", team=team)
    policy = EscalationPolicy.objects.create(name="traced", team=team)
    add_step(policy, 0, users=[alice])
    _key, raw_key = make_key(team=team, policy=policy)

    log = tmp_path / "worker.log"
    worker = start_worker(child_env(smtp.port, site_url=live_server.url, LOG_FORMAT="json"), log)
    try:
        wait_for_log(log, "ready.", timeout=90)
        with httpx.Client(base_url=live_server.url, timeout=10) as client:
            answer = client.post(f"/integration/{raw_key}", headers={"X-Request-ID": "trace-42"}, json={
                "event_type": "create", "Id": "traced-1", "Title": "Traced", "Meta": {"incident_severity": "SEV-1"},
            })
        assert answer.status_code == 200, answer.text
        assert answer.headers["X-Request-ID"] == "trace-42"
        assert smtp.wait_for(1, timeout=30)[0].to == "alice@example.com"
        # The task's own closing line (not the "Received task" one), so it has finished.
        wait_for_log(log, '"task_name": "escalation.tasks.send_notification_task"', timeout=30)
    finally:
        stop(worker)

    lines = [json.loads(line) for line in log.read_text().splitlines() if line.startswith("{")]
    tasks = {line["task_name"]: line for line in lines if line["name"] == "vigil.task"}
    assert {"escalation.tasks.kick_escalation_task", "escalation.tasks.send_notification_task"} <= set(tasks)
    for name in ("escalation.tasks.kick_escalation_task", "escalation.tasks.send_notification_task"):
        assert tasks[name]["request_id"] == "trace-42" and tasks[name]["outcome"] == "SUCCESS", (
            tasks[name], log.read_text()[-4000:])
    assert raw_key not in log.read_text()
