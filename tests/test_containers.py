"""The container files (issue 11 item 5): Dockerfile, compose.yaml, .dockerignore, and the
image's healthcheck script against a real gunicorn.

`docker compose config` is run when the docker CLI has the compose plugin
(`docker compose version` succeeds). Where it has not (this project's CI machine has the
docker client without the plugin and no engine), compose.yaml is checked structurally
instead: parsed as YAML and held to the same rules (every service has a healthcheck or waits
for healthy ones, volumes declared, settings from .env, no secret written in the file). Both
run the structural check; the plugin, when present, adds its own validation."""

from __future__ import annotations

import os
import re
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[1]
COMPOSE = REPO / "compose.yaml"
DOCKERFILE = REPO / "Dockerfile"
SERVICES = {"proxy", "web", "worker", "beat", "postgres", "redis", "migrate"}
WAITS = {"service_healthy", "service_completed_successfully"}
SECRET_NAMES = re.compile(r"SECRET|PASSWORD|TOKEN|PRIVATE_KEY|AUTH", re.I)


def compose() -> dict:
    return yaml.safe_load(COMPOSE.read_text())


def test_compose_file_is_valid_for_docker_compose_or_structurally(tmp_path):
    env_file = tmp_path / "compose.env"
    env_file.write_text("SECRET_KEY=test-only\nPOSTGRES_PASSWORD=test-only\n")
    docker = shutil.which("docker")
    has_plugin = bool(docker) and subprocess.run(
        [docker, "compose", "version"], capture_output=True, timeout=30).returncode == 0
    if has_plugin:
        result = subprocess.run(
            [docker, "compose", "--project-directory", str(REPO), "-f", str(COMPOSE),
             "--env-file", str(env_file), "config", "--quiet"],
            capture_output=True, text=True, timeout=60, env={**os.environ, "VIGIL_ENV_FILE": str(env_file)},
        )
        assert result.returncode == 0, result.stderr
    else:
        print("\nno `docker compose` plugin here: compose.yaml checked structurally only")
    check_compose_structure(compose())


def check_compose_structure(doc: dict) -> None:
    services = doc["services"]
    assert set(services) == SERVICES
    healthy = {name for name, svc in services.items() if svc.get("healthcheck", {}).get("test")}
    for name, svc in services.items():
        waits = svc.get("depends_on", {})
        assert isinstance(waits, dict), f"{name}: depends_on must name conditions"
        for dep, how in waits.items():
            assert dep in services, f"{name} depends on unknown {dep}"
            assert how.get("condition") in WAITS, f"{name} -> {dep}: {how}"
            if how["condition"] == "service_healthy":
                assert dep in healthy, f"{name} waits for {dep}, which has no healthcheck"
        if name not in healthy:
            # A one-shot (migrate): it must itself wait for healthy services.
            assert waits and all(w["condition"] == "service_healthy" for w in waits.values()), name
    for app in ("web", "worker", "beat"):
        waits = services[app]["depends_on"]
        assert waits["postgres"]["condition"] == "service_healthy"
        assert waits["redis"]["condition"] == "service_healthy"
        assert waits["migrate"]["condition"] == "service_completed_successfully"
    assert services["proxy"]["depends_on"]["web"]["condition"] == "service_healthy"
    assert services["proxy"]["image"].startswith("nginx:")
    assert any(v.startswith("./deploy/nginx.conf:") for v in services["proxy"]["volumes"])
    assert "deploy/gunicorn.conf.py" in services["web"]["command"]
    assert services["postgres"]["image"].startswith("postgres:")
    assert services["redis"]["image"].startswith("redis:")

    # Named volumes: declared at the top level; PostgreSQL's data is on one.
    declared = set(doc.get("volumes") or {})
    for name, svc in services.items():
        for mount in svc.get("volumes", []):
            source = mount.split(":", 1)[0]
            if not source.startswith((".", "/")):
                assert source in declared, f"{name}: volume {source} not declared"
    assert "pgdata:/var/lib/postgresql/data" in services["postgres"]["volumes"]

    # Settings from .env; secrets only as ${...} references, never a value in the file.
    for app in ("migrate", "web", "worker", "beat"):
        env_files = services[app]["env_file"]
        assert any(".env" in (e["path"] if isinstance(e, dict) else e) for e in env_files), app
    for name, svc in services.items():
        for key, value in (svc.get("environment") or {}).items():
            if SECRET_NAMES.search(key):
                assert re.fullmatch(r"\$\{[A-Z_]+:\?[^}]*\}", str(value)), f"{name}.{key} holds a value"
            if "://" in str(value) and "@" in str(value):
                assert re.search(r":\$\{[A-Z_]+:\?[^}]*\}@", str(value)), f"{name}.{key}: password in URL"
    assert "SECRET_KEY" not in COMPOSE.read_text().replace("set SECRET_KEY", "")


def test_dockerfile_is_slim_non_root_collects_static_and_checks_healthz():
    text = DOCKERFILE.read_text()
    stages = re.findall(r"^FROM (\S+)", text, re.M)
    assert stages[-1] == "python:3.11-slim"
    assert any(s.startswith("node:") for s in stages[:-1]), "htmx comes from a node build stage"
    assert "npm ci" in text
    assert "pip install -r requirements.txt" in text
    assert "COPY --from=static" in text and "node_modules" in text
    assert re.search(r"^RUN .*manage\.py collectstatic --noinput", text, re.M)
    users = re.findall(r"^USER (\S+)", text, re.M)
    assert users and users[-1] not in {"root", "0"}
    last_user = text.rindex("\nUSER ")
    assert last_user < text.index("\nHEALTHCHECK") < text.index("\nCMD ")
    assert "deploy/healthcheck.py" in text.split("HEALTHCHECK", 1)[1]
    assert "/healthz" in (REPO / "deploy" / "healthcheck.py").read_text()
    assert "deploy/gunicorn.conf.py" in re.search(r"^CMD .*$", text, re.M).group(0)
    # Nothing secret baked into the image's environment or build arguments.
    for line in re.findall(r"^(?:ENV|ARG)\b.*(?:\n\s+.*\\?)*", text, re.M):
        assert not SECRET_NAMES.search(line), line


def test_dockerignore_keeps_local_state_and_secrets_out_of_the_image():
    ignored = {line.strip() for line in (REPO / ".dockerignore").read_text().splitlines()}
    assert {".env", ".git", ".venv", "node_modules", "var"} <= ignored
    assert "!.env.example" in ignored


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def run_healthcheck(env: dict) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "deploy/healthcheck.py"], cwd=REPO, env=env,
                          capture_output=True, text=True, timeout=15)


@pytest.mark.timeout(60)
def test_image_healthcheck_script_passes_on_a_live_gunicorn_and_fails_without_one(tmp_path):
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTEST_")}
    # A production-like ALLOWED_HOSTS that does not include 127.0.0.1, and the SSL redirect on.
    env.update(DEBUG="false", SECRET_KEY="healthcheck-test-only", ALLOWED_HOSTS="vigil.example.com",
               SECURE_SSL_REDIRECT="true", INBOUND_TRUSTED_PROXIES="127.0.0.1/32",
               GUNICORN_BIND=f"127.0.0.1:{port}", DJANGO_SETTINGS_MODULE="config.settings")
    assert run_healthcheck(env).returncode == 1  # nothing listening yet

    log = (tmp_path / "gunicorn.log").open("w")
    server = subprocess.Popen(
        [str(Path(sys.executable).parent / "gunicorn"), "config.wsgi", "--bind", f"127.0.0.1:{port}",
         "--workers", "1"], cwd=REPO, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        deadline = time.monotonic() + 30
        while (result := run_healthcheck(env)).returncode != 0:
            assert server.poll() is None, (tmp_path / "gunicorn.log").read_text()
            assert time.monotonic() < deadline, result.stdout + result.stderr
            time.sleep(0.3)
        assert result.stdout.strip() == "healthz: 200"
    finally:
        server.terminate()
        server.wait(timeout=15)
        log.close()


@pytest.mark.timeout(120)
def test_the_dockerfile_collectstatic_step_collects_the_portal_css_and_htmx(tmp_path):
    """The image's build steps, run on a clean export of the repository (`git archive`, as
    .dockerignore leaves it: no var/, no node_modules): `npm ci`, then collectstatic."""
    build = tmp_path / "app"
    build.mkdir()
    archive = subprocess.run(["git", "archive", "HEAD"], cwd=REPO, capture_output=True, check=True, timeout=60)
    subprocess.run(["tar", "-x", "-C", str(build)], input=archive.stdout, check=True, timeout=60)
    # The node stage: `npm ci` from package-lock.json (htmx from the npm registry).
    npm = subprocess.run(["npm", "ci", "--no-audit", "--no-fund", "--loglevel=error"], cwd=build,
                         capture_output=True, text=True, timeout=90)
    assert npm.returncode == 0, npm.stderr
    step = re.search(r"^RUN (DEBUG=true python manage\.py collectstatic --noinput)", DOCKERFILE.read_text(), re.M)
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTEST_") and k != "SECRET_KEY"}
    env.update(DEBUG="true", DJANGO_SETTINGS_MODULE="config.settings")
    result = subprocess.run([sys.executable, "manage.py", "collectstatic", "--noinput"], cwd=build, env=env,
                            capture_output=True, text=True, timeout=90)
    assert step and result.returncode == 0, result.stderr
    collected = build / "var" / "staticfiles"
    for name in ("htmx/htmx.min.js", "vigil/app.css"):
        assert (collected / name).stat().st_size > 0, name
        assert (collected / f"{name}.gz").exists(), f"{name}: whitenoise's compressed copy"
