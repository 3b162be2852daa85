"""`make run` on a machine without Redis (issue 11, item 7): web, worker and beat as the
Procfile starts them, on SQLite, with WITHOUT_REDIS (as the Makefile sets it when REDIS_URL
is unset and nothing answers on 127.0.0.1:6379). The portal answers, a trigger is accepted,
and the worker pages the demo user by email to the console (its stdout)."""

import json
import os
import re
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
RAW_KEY = re.compile(r"ik_[A-Za-z0-9]{29}")
SUMMARY = "Disk full on trial-host-01"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def trial_env(tmp_path):
    # What `make run` gives the processes: DEBUG on, no REDIS_URL, nothing from pytest.
    keep = {"PATH", "LANG", "LC_ALL", "TZ"}
    env = {name: value for name, value in os.environ.items() if name in keep}
    env.update(
        HOME=str(tmp_path),
        DJANGO_SETTINGS_MODULE="config.settings",
        DEBUG="true",
        WITHOUT_REDIS="true",
        DATABASE_URL=f"sqlite:///{tmp_path / 'vigil.sqlite3'}",
        BROKER_FILES_DIR=str(tmp_path / "celery"),
        VIGIL_DEMO_PASSWORD="trial-password-1",
        PYTHONUNBUFFERED="1",
    )
    assert "REDIS_URL" not in env and "PYTEST_VERSION" not in env
    return env


def manage(env, *args) -> str:
    done = subprocess.run(
        [sys.executable, "manage.py", *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


def start(env, log: Path, *argv) -> subprocess.Popen:
    out = open(log, "w")  # noqa: SIM115 - closed with the process below
    proc = subprocess.Popen(argv, cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT)
    proc.log_file = out
    return proc


def wait_for(predicate, timeout: float, what: str):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        result = predicate()
        if result:
            return result
        time.sleep(0.25)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}")


def get(url: str):
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            return response.status, response.read().decode()
    except OSError:  # not listening yet, or busy starting (URLError is an OSError)
        return None


def test_make_run_without_redis_serves_the_portal_and_pages_the_demo_user(trial_env, tmp_path):
    manage(trial_env, "migrate", "--noinput")
    manage(trial_env, "createcachetable")
    (raw_key,) = set(RAW_KEY.findall(manage(trial_env, "bootstrap_demo")))

    port = free_port()
    procs = {
        "web": start(trial_env, tmp_path / "web.log", str(BIN / "gunicorn"), "config.wsgi",
                     "--bind", f"127.0.0.1:{port}", "--workers", "1", "--threads", "2"),
        "worker": start(trial_env, tmp_path / "worker.log", sys.executable, "-m", "celery", "-A", "config",
                        "worker", "--loglevel=INFO", "--concurrency=1"),
        "beat": start(trial_env, tmp_path / "beat.log", sys.executable, "-m", "celery", "-A", "config",
                      "beat", "--loglevel=INFO"),
    }
    try:
        base = f"http://127.0.0.1:{port}"
        status, page = wait_for(lambda: get(f"{base}/login/"), 30, "the login page")
        assert status == 200
        assert "Flapping detection is off: no Redis configured." in page

        body = {"routing_key": raw_key, "event_action": "trigger", "dedup_key": "trial-disk",
                "payload": {"summary": SUMMARY, "severity": "critical", "source": "trial"}}
        request = urllib.request.Request(f"{base}/v2/enqueue", data=json.dumps(body).encode(),
                                         headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(request, timeout=5) as response:
            assert response.status == 202
            assert json.loads(response.read())["status"] == "success"

        worker_log = tmp_path / "worker.log"

        def paged():
            text = worker_log.read_text()
            return "To: admin@example.com" in text and SUMMARY in text

        wait_for(paged, 30, "the page on the worker's console")
        for name, proc in procs.items():
            assert proc.poll() is None, f"{name} exited: {(tmp_path / f'{name}.log').read_text()[-2000:]}"
        assert "beat: Starting" in (tmp_path / "beat.log").read_text()
    finally:
        for proc in procs.values():
            proc.terminate()
        for proc in procs.values():
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
            proc.log_file.close()


def test_without_redis_is_refused_outside_debug(trial_env):
    trial_env["DEBUG"] = "false"
    trial_env["SECRET_KEY"] = "x" * 50
    done = subprocess.run([sys.executable, "manage.py", "check"], cwd=ROOT, env=trial_env,
                          capture_output=True, text=True, timeout=60)
    assert done.returncode != 0
    assert "WITHOUT_REDIS is for `make run` only" in done.stderr


def test_without_redis_is_refused_when_redis_url_is_set(trial_env):
    trial_env["REDIS_URL"] = "redis://127.0.0.1:6379/7"
    done = subprocess.run([sys.executable, "manage.py", "check"], cwd=ROOT, env=trial_env,
                          capture_output=True, text=True, timeout=60)
    assert done.returncode != 0
    assert "WITHOUT_REDIS is for `make run` only" in done.stderr
