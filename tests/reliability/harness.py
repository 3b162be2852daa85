"""Child processes the reliability tests and the benchmark own: a redis-server, a PostgreSQL
cluster and gunicorn, each on a random loopback port.

Faults are injected on these processes only, by PID (SIGKILL, SIGSTOP/SIGCONT,
`pg_ctl stop -m fast`), so nobody else's Redis or database is touched. Every wait is
bounded: a helper that cannot reach its goal in time raises instead of hanging the run."""

from __future__ import annotations

import ctypes
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
from django.conf import settings

REPO = Path(__file__).resolve().parents[2]
VENV_BIN = Path(sys.executable).parent
LOOPBACK = "127.0.0.1"
# Environment variables of the test process that must not leak into a child Django:
# PYTEST_VERSION switches settings into test mode.
TEST_ONLY_ENV = ("PYTEST_VERSION", "PYTEST_CURRENT_TEST", "PYTEST_XDIST_WORKER")
PR_SET_PDEATHSIG = 1


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((LOOPBACK, 0))
        return sock.getsockname()[1]


def wait_until(predicate: Callable[[], bool], *, timeout: float, what: str, interval: float = 0.05) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(interval)
    raise TimeoutError(f"gave up after {timeout:.0f} s waiting for {what}")


def _die_with_parent() -> None:
    """Runs in the child before exec: if the test process dies without its teardown (a hard
    kill), the kernel sends this child SIGTERM instead of leaving it running."""
    try:
        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGTERM)
    except (OSError, AttributeError):  # not Linux: teardown still stops the child
        pass


def _stop_process(proc: subprocess.Popen | None, *, grace: float = 10.0) -> None:
    """SIGTERM our child, then SIGKILL it if it does not exit within `grace` seconds."""
    if proc is None or proc.poll() is not None:
        return
    proc.send_signal(signal.SIGCONT)  # a stopped process cannot act on SIGTERM
    proc.terminate()
    try:
        proc.wait(timeout=grace)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(timeout=grace)


class RedisServer:
    """`redis-server --port P --save '' --appendonly no --bind 127.0.0.1`, owned by us."""

    def __init__(self, workdir: Path):
        self.workdir = workdir
        self.port = free_port()
        self.proc: subprocess.Popen | None = None
        self.log_path = workdir / "redis.log"

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    def url(self, db: int = 0) -> str:
        return f"redis://{LOOPBACK}:{self.port}/{db}"

    def ping(self, timeout: float = 0.2) -> bool:
        try:
            with socket.create_connection((LOOPBACK, self.port), timeout=timeout) as sock:
                sock.sendall(b"PING\r\n")
                return sock.recv(16).startswith(b"+PONG")
        except OSError:
            return False

    def start(self) -> RedisServer:
        self.workdir.mkdir(parents=True, exist_ok=True)
        log = open(self.log_path, "ab")  # noqa: SIM115 - the child keeps writing to it
        self.proc = subprocess.Popen(
            [
                shutil.which("redis-server") or "redis-server",
                "--port", str(self.port), "--bind", LOOPBACK,
                "--save", "", "--appendonly", "no", "--dir", str(self.workdir),
            ],
            stdout=log, stderr=subprocess.STDOUT, preexec_fn=_die_with_parent,
        )
        log.close()
        wait_until(self.ping, timeout=10, what=f"redis-server on port {self.port}")
        return self

    def kill(self) -> None:
        """Redis dies abruptly (SIGKILL), as in a crash or an OOM kill."""
        assert self.proc is not None
        self.proc.kill()
        self.proc.wait(timeout=10)

    def hang(self) -> None:
        """Redis stops answering but keeps its sockets open (SIGSTOP)."""
        os.kill(self.pid, signal.SIGSTOP)

    def resume(self) -> None:
        os.kill(self.pid, signal.SIGCONT)

    def flushall(self) -> None:
        with socket.create_connection((LOOPBACK, self.port), timeout=2) as sock:
            sock.sendall(b"FLUSHALL\r\n")
            sock.recv(16)

    def stop(self) -> None:
        _stop_process(self.proc)


def postgres_bin_dir() -> Path:
    """The newest PostgreSQL server binaries Debian installed."""
    candidates = sorted(
        Path("/usr/lib/postgresql").glob("*/bin/initdb"), key=lambda p: int(p.parent.parent.name)
    )
    if not candidates:
        raise RuntimeError("no PostgreSQL server binaries under /usr/lib/postgresql/*/bin")
    return candidates[-1].parent


class PostgresCluster:
    """A throw-away PostgreSQL cluster (`initdb` into a temporary directory).

    initdb refuses to run as root, so as root the cluster belongs to the `postgres` user and
    its commands run through `runuser`."""

    def __init__(self):
        # Not under pytest's temporary directory: its parents are private to root, and the
        # `postgres` user must be able to reach the data directory.
        self.workdir = Path(tempfile.mkdtemp(prefix="vigil-reliability-pg-"))
        self.datadir = self.workdir / "data"
        self.port = free_port()
        self.bin = postgres_bin_dir()
        self.log_path = self.workdir / "postgres.log"

    def _run(self, *args: str, timeout: float = 60) -> None:
        command = [str(self.bin / args[0]), *args[1:]]
        if os.geteuid() == 0:
            command = ["runuser", "-u", "postgres", "--", *command]
        subprocess.run(command, check=True, timeout=timeout, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)

    def init(self) -> PostgresCluster:
        if os.geteuid() == 0:
            shutil.chown(self.workdir, "postgres")
        self._run("initdb", "-D", str(self.datadir), "-A", "trust", "-U", "postgres",
                  "-E", "UTF8", "--no-sync")
        return self

    def start(self) -> None:
        options = (
            f"-c listen_addresses={LOOPBACK} -p {self.port} -k {self.workdir} "
            "-c fsync=off -c synchronous_commit=off -c full_page_writes=off"
        )
        self._run("pg_ctl", "-D", str(self.datadir), "-l", str(self.log_path), "-w", "-t", "30",
                  "-o", options, "start")

    def stop(self) -> None:
        """`pg_ctl stop -m fast`: open connections are cut, as in a database crash or failover."""
        self._run("pg_ctl", "-D", str(self.datadir), "-m", "fast", "-w", "-t", "30", "stop")

    def is_running(self) -> bool:
        return (self.datadir / "postmaster.pid").exists()

    def remove(self) -> None:
        """Stop the cluster if it runs, and delete its directory."""
        if self.is_running():
            self.stop()
        shutil.rmtree(self.workdir, ignore_errors=True)

    def url(self, dbname: str) -> str:
        return f"postgres://postgres@{LOOPBACK}:{self.port}/{dbname}"

    def create_database(self, dbname: str) -> None:
        import psycopg

        with psycopg.connect(self.url("postgres"), autocommit=True, connect_timeout=5) as conn:
            conn.execute(f'CREATE DATABASE "{dbname}"')


@contextmanager
def tables_locked(database_url: str, *tables: str, wait: float = 10.0) -> Iterator[None]:
    """Another session holds `LOCK TABLE ... IN ACCESS EXCLUSIVE MODE` on `tables` until the
    block ends (T11: a migration or a VACUUM FULL gone long). Taking the locks waits at most
    `wait` seconds; leaving the block always rolls back, which releases them."""
    import psycopg

    with psycopg.connect(database_url, connect_timeout=5) as conn:
        try:
            conn.execute(f"SET LOCAL lock_timeout = '{int(wait * 1000)}ms'")
            for table in tables:
                conn.execute(f'LOCK TABLE "{table}" IN ACCESS EXCLUSIVE MODE')
            yield
        finally:
            conn.rollback()


def django_env(*, database_url: str, redis_url: str, **overrides: str) -> dict[str, str]:
    """The environment of a production-like Django child: DEBUG off, our services only."""
    env = {k: v for k, v in os.environ.items() if k not in TEST_ONLY_ENV}
    env.update(
        DJANGO_SETTINGS_MODULE="config.settings",
        DATABASE_URL=database_url,
        REDIS_URL=redis_url,
        CELERY_BROKER_URL=redis_url,
        SECRET_KEY="reliability-harness-secret-key-not-for-production-0123456789",
        # The child reads contact methods this test process encrypted: the same field key.
        FIELD_ENCRYPTION_KEY=",".join(settings.FIELD_ENCRYPTION_KEY or [settings.SECRET_KEY]),
        DEBUG="false",
        ALLOWED_HOSTS="127.0.0.1,localhost",
        INBOUND_RATE_LIMIT="100000/m",
        # Tests send wrong keys on purpose from one address; T51's own test sets its limit.
        INBOUND_FAILED_AUTH_LIMIT="100000/m",
        LOG_LEVEL="INFO",
        PYTHONUNBUFFERED="1",
    )
    env.update(overrides)
    return env


def manage(*args: str, env: dict[str, str], timeout: float = 120) -> str:
    """Run `manage.py` in a child process with `env`; return its stdout."""
    result = subprocess.run(
        [sys.executable, str(REPO / "manage.py"), *args],
        cwd=REPO, env=env, check=False, timeout=timeout, capture_output=True, text=True,
    )
    if result.returncode != 0:
        raise RuntimeError(f"manage.py {' '.join(args)} failed:\n{result.stderr[-3000:]}")
    return result.stdout


class Gunicorn:
    """`gunicorn config.wsgi -w 2 --threads 4` on a random loopback port, logging to a file."""

    def __init__(self, env: dict[str, str], log_path: Path, *, workers: int = 2, threads: int = 4,
                 config_file: Path | None = None):
        self.env = env
        self.config_file = config_file
        self.log_path = log_path
        self.workers = workers
        self.threads = threads
        self.port = free_port()
        self.proc: subprocess.Popen | None = None

    @property
    def base_url(self) -> str:
        return f"http://{LOOPBACK}:{self.port}"

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    def worker_pids(self) -> set[int]:
        children = Path(f"/proc/{self.pid}/task/{self.pid}/children")
        return {int(p) for p in children.read_text().split()} if children.exists() else set()

    def healthy(self) -> bool:
        try:
            return httpx.get(self.base_url + "/healthz", timeout=1).status_code == 200
        except httpx.HTTPError:
            return False

    def start(self, timeout: float = 45) -> Gunicorn:
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        log = open(self.log_path, "ab")  # noqa: SIM115 - the child keeps writing to it
        if self.config_file is None:
            options = ["-w", str(self.workers), "--threads", str(self.threads),
                       "--timeout", "30", "--graceful-timeout", "5"]
        else:  # the repository's production settings; only the port is ours
            options = ["-c", str(self.config_file)]
        self.proc = subprocess.Popen(
            [str(VENV_BIN / "gunicorn"), "config.wsgi", *options, "-b", f"{LOOPBACK}:{self.port}"],
            cwd=REPO, env=self.env, stdout=log, stderr=subprocess.STDOUT, preexec_fn=_die_with_parent,
        )
        log.close()

        def up() -> bool:
            if self.proc.poll() is not None:
                raise RuntimeError(f"gunicorn exited early:\n{self.log_text()[-3000:]}")
            # Both workers must be serving, or the first requests measure a boot.
            return self.healthy() and len(self.worker_pids()) >= self.workers

        wait_until(up, timeout=timeout, what="gunicorn /healthz", interval=0.2)
        # Let every worker finish importing Django: a few warm-up requests.
        for _ in range(4 * self.workers):
            self.healthy()
        return self

    def log_text(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def stop(self) -> None:
        _stop_process(self.proc)


class Nginx:
    """Debian's nginx running `deploy/nginx.conf` rendered with our ports and a private run
    directory, as a non-daemon child (never the system service)."""

    def __init__(self, template: Path, upstream_port: int):
        self.template = template
        self.upstream_port = upstream_port
        self.port = free_port()
        # Not under pytest's temporary directory: as root, nginx's workers run as `nobody`
        # and must reach their temporary directories.
        self.run_dir = Path(tempfile.mkdtemp(prefix="vigil-nginx-"))
        self.conf_path = self.run_dir / "nginx.conf"
        self.proc: subprocess.Popen | None = None

    @property
    def base_url(self) -> str:
        return f"http://{LOOPBACK}:{self.port}"

    def render(self) -> str:
        return (self.template.read_text()
                .replace("@@LISTEN@@", f"{LOOPBACK}:{self.port}")
                .replace("@@UPSTREAM@@", f"{LOOPBACK}:{self.upstream_port}")
                .replace("@@RUN_DIR@@", str(self.run_dir)))

    def healthy(self) -> bool:
        try:
            return httpx.get(self.base_url + "/healthz", timeout=1).status_code == 200
        except httpx.HTTPError:
            return False

    def start(self, timeout: float = 20) -> Nginx:
        binary = shutil.which("nginx") or "/usr/sbin/nginx"
        self.conf_path.write_text(self.render())
        for name in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi"):
            (self.run_dir / name).mkdir()
            if os.geteuid() == 0:
                shutil.chown(self.run_dir / name, "nobody")
        os.chmod(self.run_dir, 0o755)
        log = open(self.run_dir / "stderr.log", "ab")  # noqa: SIM115 - the child keeps writing to it
        self.proc = subprocess.Popen(
            [binary, "-c", str(self.conf_path), "-p", str(self.run_dir), "-e", str(self.run_dir / "error.log"),
             "-g", "daemon off;"],
            stdout=log, stderr=subprocess.STDOUT, preexec_fn=_die_with_parent,
        )
        log.close()

        def up() -> bool:
            if self.proc.poll() is not None:
                raise RuntimeError(f"nginx exited early:\n{self.log_text()[-3000:]}")
            return self.healthy()

        wait_until(up, timeout=timeout, what="nginx /healthz", interval=0.1)
        return self

    def log_text(self) -> str:
        return "".join(p.read_text(errors="replace") for p in (self.run_dir / "stderr.log", self.run_dir / "error.log")
                       if p.exists())

    def stop(self) -> None:
        # SIGQUIT is nginx's graceful stop; SIGTERM (from _stop_process) its fast one.
        _stop_process(self.proc)
        shutil.rmtree(self.run_dir, ignore_errors=True)


class OutageStack:
    """Our own PostgreSQL cluster with a migrated database, a key made by the management
    command, and a gunicorn serving them: the database can be stopped under it."""

    DBNAME = "vigil_outage"

    def __init__(self, redis_url: str, log_path: Path):
        self.cluster = PostgresCluster()
        self.redis_url = redis_url
        self.log_path = log_path
        self.server: Gunicorn | None = None
        self.raw_key = ""

    @property
    def database_url(self) -> str:
        return self.cluster.url(self.DBNAME)

    def start(self) -> OutageStack:
        self.cluster.init().start()
        self.cluster.create_database(self.DBNAME)
        env = django_env(database_url=self.database_url, redis_url=self.redis_url)
        manage("migrate", "--noinput", env=env)
        self.raw_key = manage("create_integration_key", "--name", "outage", "--policy", "outage", env=env).strip()
        self.server = Gunicorn(env, self.log_path).start()
        return self

    def ensure_database_running(self) -> None:
        if not self.cluster.is_running():
            self.cluster.start()

    def stored_events(self, dedup_key_prefix: str) -> list[tuple[str, int | None]]:
        """(dedup_key, incident_id) of every event-log row whose dedup key has the prefix."""
        import psycopg

        with psycopg.connect(self.database_url, connect_timeout=5) as conn:
            return conn.execute(
                "SELECT dedup_key, incident_id FROM incidents_event WHERE dedup_key LIKE %s",
                [dedup_key_prefix.replace("%", r"\%").replace("_", r"\_") + "%"],
            ).fetchall()

    def incident_ids(self, ids: set[int]) -> set[int]:
        import psycopg

        with psycopg.connect(self.database_url, connect_timeout=5) as conn:
            rows = conn.execute("SELECT id FROM incidents_incident WHERE id = ANY(%s)", [list(ids)]).fetchall()
        return {row[0] for row in rows}

    def stop(self) -> None:
        if self.server is not None:
            self.server.stop()
        self.cluster.remove()
