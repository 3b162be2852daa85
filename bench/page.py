"""Time to page: a trigger through nginx -> gunicorn until its first email arrives at a local
SMTP server (aiosmtpd), with a real celery worker and beat started as the Procfile starts
them. Measured idle, then while `new` load runs at 8 clients on another key (whose policy has
no steps, so the load pages nobody but still hands every new incident to the same worker)."""

from __future__ import annotations

import os
import statistics
import subprocess
import threading
import time
import uuid
from pathlib import Path

import httpx
from aiosmtpd.controller import Controller

from bench.stack import floor_dir, run_wrk
from tests.reliability.harness import REPO, VENV_BIN, _die_with_parent, _stop_process, free_port, manage

TRIGGERS = 5
SETUP = """
from escalation.models import ContactMethod, EscalationPolicy, EscalationStep
from integrations.models import IntegrationKey
from oncall.models import Team, TeamMembership
from django.contrib.auth import get_user_model
team = Team.objects.create(name="Bench pager", slug="bench-pager")
user = get_user_model().objects.create_user(username="bench-oncall", password="bench-oncall-pw-0123", email="oncall@example.com")
TeamMembership.objects.create(team=team, user=user, role=TeamMembership.Role.RESPONDER)
ContactMethod.objects.create(user=user, kind=ContactMethod.Kind.EMAIL, address="oncall@example.com")
policy = EscalationPolicy.objects.create(name="bench pager", team=team)
EscalationStep.objects.create(policy=policy, order=0, delay_minutes=0).users.set([user])
key, raw = IntegrationKey.create_with_raw_key(name="bench pager", escalation_policy=policy, team=team)
print(raw)
"""


class Inbox:
    """aiosmtpd handler: the arrival time of each message, by the dedup key in its text."""

    def __init__(self):
        self.arrived: dict[str, float] = {}
        self.lock = threading.Lock()

    async def handle_DATA(self, server, session, envelope):  # noqa: N802 - aiosmtpd's hook name
        now = time.monotonic()
        text = envelope.content.decode("utf-8", errors="replace")
        with self.lock:
            for token in text.split():
                if token.startswith("ttp-") and token not in self.arrived:
                    self.arrived[token] = now
        return "250 OK"

    def wait(self, dedup_key: str, timeout: float) -> float | None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self.lock:
                if dedup_key in self.arrived:
                    return self.arrived[dedup_key]
            time.sleep(0.01)
        return None


def _celery(args: list[str], env: dict, log: Path) -> subprocess.Popen:
    return subprocess.Popen([str(VENV_BIN / "celery"), "-A", "config", *args], cwd=REPO, env=env,
                            stdout=log.open("w"), stderr=subprocess.STDOUT, preexec_fn=_die_with_parent)


def _page_once(client: httpx.Client, inbox: Inbox, raw_key: str, run: str) -> float | None:
    dedup_key = f"ttp-{run}-{uuid.uuid4().hex[:8]}"
    sent = time.monotonic()
    response = client.post("/v2/enqueue", json={
        "routing_key": raw_key, "event_action": "trigger", "dedup_key": dedup_key,
        "payload": {"summary": f"Page me {dedup_key}", "severity": "critical", "source": "bench"},
    })
    if response.status_code != 202:
        return None
    arrived = inbox.wait(dedup_key, timeout=30)
    return None if arrived is None else round(arrived - sent, 3)


def time_to_page(env: dict, base_url: str, load_key: str, workdir: Path, *, run: str) -> dict:
    inbox = Inbox()
    port = free_port()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    celery_env = {**env, "EMAIL_BACKEND": "django.core.mail.backends.smtp.EmailBackend",
                  "EMAIL_HOST": "127.0.0.1", "EMAIL_PORT": str(port), "SITE_URL": base_url}
    raw_key = manage("shell", "-c", SETUP, env=env).strip().splitlines()[-1]
    # The load scenarios before this queued one escalation task per new incident, with no
    # worker running: drop them (their policy has no steps; the tick would find any due
    # incident in the database anyway), or the first page waits behind thousands.
    subprocess.run([str(VENV_BIN / "celery"), "-A", "config", "purge", "-f"], cwd=REPO, env=celery_env,
                   check=True, capture_output=True, timeout=60)
    # As the Procfile runs them.
    worker = _celery(["worker", "--loglevel=INFO", "--concurrency=2"], celery_env, workdir / "worker.log")
    beat = _celery(["beat", "--loglevel=INFO", "--schedule", str(workdir / "beat-schedule")], celery_env,
                   workdir / "beat.log")
    try:
        with httpx.Client(base_url=base_url, timeout=10) as client:
            first = _page_once(client, inbox, raw_key, run)  # the worker's first task imports everything
            if first is None:
                raise RuntimeError(f"no page arrived:\n{(workdir / 'worker.log').read_text()[-3000:]}")
            idle = []
            for _ in range(TRIGGERS):
                idle.append(_page_once(client, inbox, raw_key, run))
                time.sleep(0.5)
            loaded: list[float | None] = []
            load = threading.Thread(target=run_wrk, args=(
                base_url + "/v2/enqueue", floor_dir() / "ingest.lua", ["pd", "new", load_key, run + "ttp"]),
                kwargs={"clients": 8, "seconds": 4 + 3 * TRIGGERS})
            load.start()
            time.sleep(3)
            for _ in range(TRIGGERS):
                loaded.append(_page_once(client, inbox, raw_key, run))
                time.sleep(1.0)
            load.join()
    finally:
        _stop_process(beat)
        _stop_process(worker)
        controller.stop()

    def summary(values: list[float | None]) -> dict:
        got = [v for v in values if v is not None]
        return {"median": round(statistics.median(got), 3) if got else None,
                "max": max(got) if got else None, "missing": len(values) - len(got), "all": values}

    idle_s, loaded_s = summary(idle), summary(loaded)
    return {"idle_s": idle_s["max"], "loaded_s": loaded_s["max"], "idle": idle_s, "loaded": loaded_s,
            "errors": idle_s["missing"] + loaded_s["missing"], "load_average": os.getloadavg()}
