"""The processes `bench/run.py` measures, each on a random loopback port and stopped at the end:
Vigil as production runs it (nginx from deploy/nginx.conf in front of gunicorn with
deploy/gunicorn.conf.py), the floor from ../shared/perf/ (gunicorn, 5 sync workers) on the
same PostgreSQL, and `wrk`. CPU is read from /proc/<pid>/stat (utime + stime) of the
gunicorn workers and of the PostgreSQL backends serving each database."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import psycopg

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from tests.reliability.harness import (  # noqa: E402
    VENV_BIN,
    Gunicorn,
    Nginx,
    _die_with_parent,
    _stop_process,
    free_port,
    wait_until,
)

CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
FLOOR_KEY = "ik_UnYBnh10fCxVC7G7INxgmHyfvb-YzCOHI72YESNlJNk"


def floor_dir() -> Path:
    """../shared/perf beside the clone (FLOOR_DIR overrides)."""
    for candidate in (os.environ.get("FLOOR_DIR"), REPO.parent / "shared" / "perf", Path("/work/shared/perf")):
        if candidate and (Path(candidate) / "floorapp.py").exists():
            return Path(candidate)
    raise RuntimeError("floorapp.py not found: set FLOOR_DIR to the directory holding ../shared/perf")


def admin_url(database_url: str) -> str:
    parts = urlsplit(database_url)
    return urlunsplit(parts._replace(scheme="postgresql", path="/postgres"))


def recreate_database(database_url: str) -> None:
    name = urlsplit(database_url).path.lstrip("/")
    with psycopg.connect(admin_url(database_url), autocommit=True, connect_timeout=5) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')


def cpu_seconds(pid: int) -> float:
    """utime + stime of one process (0 when it is gone)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS


def children(pid: int) -> set[int]:
    path = Path(f"/proc/{pid}/task/{pid}/children")
    return {int(p) for p in path.read_text().split()} if path.exists() else set()


def backend_pids(database_url: str, dbname: str) -> set[int]:
    with psycopg.connect(admin_url(database_url), autocommit=True, connect_timeout=5) as conn:
        rows = conn.execute("SELECT pid FROM pg_stat_activity WHERE datname = %s", [dbname]).fetchall()
    return {row[0] for row in rows}


@dataclass
class CpuMeter:
    """CPU seconds of a server's processes and of its database's backends between two reads.
    Backends that appear during the interval count whole (they started inside it)."""

    server_pid: int
    database_url: str
    dbname: str

    def read(self) -> dict[int, float]:
        app = {pid: cpu_seconds(pid) for pid in children(self.server_pid) | {self.server_pid}}
        pg = {-pid: cpu_seconds(pid) for pid in backend_pids(self.database_url, self.dbname)}
        return {**app, **pg}

    @staticmethod
    def spent(before: dict[int, float], after: dict[int, float]) -> tuple[float, float]:
        app = pg = 0.0
        for pid, seconds in after.items():
            delta = seconds - before.get(pid, 0.0)
            if pid < 0:
                pg += delta
            else:
                app += delta
        return app, pg


class VigilStack:
    """nginx (deploy/nginx.conf) -> gunicorn (deploy/gunicorn.conf.py) on `env`."""

    def __init__(self, env: dict[str, str], workdir: Path):
        self.gunicorn = Gunicorn(env, workdir / "gunicorn.log", config_file=REPO / "deploy" / "gunicorn.conf.py",
                                 workers=int(env.get("GUNICORN_WORKERS", "2")))
        self.nginx: Nginx | None = None

    def start(self) -> VigilStack:
        self.gunicorn.start()
        self.nginx = Nginx(REPO / "deploy" / "nginx.conf", self.gunicorn.port).start()
        return self

    @property
    def url(self) -> str:
        return self.nginx.base_url

    @property
    def pid(self) -> int:
        return self.gunicorn.pid

    def stop(self) -> None:
        if self.nginx is not None:
            self.nginx.stop()
        self.gunicorn.stop()


class FloorApp:
    """../shared/perf/floorapp.py under gunicorn with 5 sync workers, run by our own .venv
    (the same Django, psycopg and gunicorn), on database `dbname` of the same server."""

    def __init__(self, database_url: str, dbname: str, workdir: Path):
        parts = urlsplit(database_url)
        self.dir = floor_dir()
        self.port = free_port()
        self.log_path = workdir / "floor.log"
        self.env = {
            **os.environ,
            "FLOOR_DB_NAME": dbname, "FLOOR_DB_USER": parts.username or "postgres",
            "FLOOR_DB_PASSWORD": parts.password or "", "FLOOR_DB_HOST": parts.hostname or "127.0.0.1",
            "FLOOR_DB_PORT": str(parts.port or 5432), "FLOOR_ROUTING_KEY": FLOOR_KEY,
        }
        self.proc: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def pid(self) -> int:
        return self.proc.pid

    def start(self) -> FloorApp:
        subprocess.run([str(VENV_BIN / "python"), "floorapp.py", "setup"], cwd=self.dir, env=self.env,
                       check=True, capture_output=True, timeout=60)
        log = open(self.log_path, "ab")  # noqa: SIM115 - the child keeps writing to it
        self.proc = subprocess.Popen(
            [str(VENV_BIN / "gunicorn"), "floorapp:application", "-b", f"127.0.0.1:{self.port}", "-w", "5"],
            cwd=self.dir, env=self.env, stdout=log, stderr=subprocess.STDOUT, preexec_fn=_die_with_parent,
        )
        log.close()

        def up() -> bool:
            if self.proc.poll() is not None:
                raise RuntimeError(f"floor gunicorn exited early:\n{self.log_path.read_text()[-3000:]}")
            return len(children(self.pid)) >= 5 and self._answers()

        wait_until(up, timeout=30, what="floor gunicorn", interval=0.2)
        return self

    def _answers(self) -> bool:
        import httpx
        try:
            return httpx.post(self.url + "/v2/enqueue", content=b"{}", timeout=1).status_code < 500
        except httpx.HTTPError:
            return False

    def stop(self) -> None:
        _stop_process(self.proc)


def wrk_binary() -> str:
    found = shutil.which("wrk")
    if found is None:
        raise RuntimeError("wrk is not installed: `make wrk` (Debian's package)")
    return found


def run_wrk(url: str, script: Path, args: list[str], *, clients: int, seconds: float) -> dict:
    """One wrk run; its script's last line is `RESULT {json}`."""
    command = [wrk_binary(), "-t1", f"-c{clients}", f"-d{seconds:g}s", "--timeout", "10s", "-s", str(script),
               url, "--", *args]
    result = subprocess.run(command, capture_output=True, text=True, timeout=seconds + 60, check=False)
    for line in reversed(result.stdout.splitlines()):
        if line.startswith("RESULT "):
            return json.loads(line[len("RESULT "):])
    raise RuntimeError(f"wrk printed no RESULT line:\n{result.stdout[-2000:]}\n{result.stderr[-2000:]}")
