"""Retention benchmark: the daily cleanup over N old resolved incidents while triggers keep
arriving through the real door.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/vigil_bench_retention \\
        .venv/bin/python bench/retention.py --incidents 1000000 --reset

1. Migrates DATABASE_URL and writes the history with `INSERT ... SELECT generate_series`:
   N incidents resolved 100 days ago, each with 1 alert, 3 events, 3 timeline entries and
   1 notification; beside them rows the cleanup must keep (incidents resolved 10 days ago,
   old triggered and acknowledged ones, with the same children) and N/10 old stray events,
   N/100 old change events. Then VACUUM ANALYZE, as autovacuum would have by then.
2. Starts a redis-server of its own and gunicorn with deploy/gunicorn.conf.py on loopback,
   and sends triggers (a new dedup key each: incident, alert and event INSERTs) to
   /v2/enqueue at --rate per second: --baseline seconds before the cleanup, all through it,
   and --baseline seconds after it.
3. Runs `cleanup_old_inbound_events` in this process and prints: total time, rows deleted
   per second, batches and the longest batch transaction (the longest any lock was held),
   and the trigger latency p50/p99/max before, during and after.
4. Checks that every old resolved incident and its rows are gone and the rest are intact,
   and appends the figures as one JSON line to bench/results/retention.jsonl.

The cleanup deletes every old resolved incident in the database, so the script refuses a
database that already holds incidents unless --reset (which TRUNCATEs the incident tables)
is given: point it at a database of its own, never at a real one. Exit status 1 when a
check fails or a trigger was not answered 202."""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import sys
import tempfile
import threading
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import urlsplit

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

import httpx  # noqa: E402
import psycopg  # noqa: E402

from tests.incidents.retention_history import history_steps, kept_incidents  # noqa: E402
from tests.reliability.harness import Gunicorn, RedisServer, django_env, manage  # noqa: E402
from tests.reliability.load import percentile  # noqa: E402

RESULTS = REPO / "bench" / "results" / "retention.jsonl"
SLOW_MS = 200  # the target: no trigger slower than this because of the cleanup
INCIDENT_TABLES = (
    "incidents_incident", "incidents_alert", "incidents_event", "incidents_timelineentry",
    "incidents_changeevent", "escalation_notification", "escalation_slackmessage", "escalation_smsreplycode",
)

def log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", flush=True)


def psycopg_url(database_url: str) -> str:
    return urlsplit(database_url)._replace(scheme="postgresql").geturl()


def generate(conn: psycopg.Connection, incidents: int, key_id: int) -> dict:
    """Write the history, one transaction per step (its deferred foreign-key checks
    included); return the seconds each step took."""
    timings = {}
    for label, sql, params in history_steps(incidents, key_id):
        began = time.monotonic()
        with conn.transaction():
            conn.execute(sql, params)
        timings[label] = round(time.monotonic() - began, 1)
        log(f"  {label}: {timings[label]} s")
    began = time.monotonic()
    for table in INCIDENT_TABLES:
        conn.execute(f"VACUUM (ANALYZE) {table}")
    conn.execute("CHECKPOINT")
    timings["vacuum analyze"] = round(time.monotonic() - began, 1)
    log(f"  vacuum analyze + checkpoint: {timings['vacuum analyze']} s")
    return timings


def table_counts(conn: psycopg.Connection) -> dict[str, int]:
    return {t: conn.execute(f"SELECT count(*) FROM {t}").fetchone()[0] for t in INCIDENT_TABLES}


class TriggerStream:
    """`rate` triggers per second (request i due at i / rate) from a few connections, each
    answer stamped with the phase it was sent in, until stop()."""

    def __init__(self, base_url: str, raw_key: str, rate: float, connections: int = 4):
        self.base_url, self.raw_key, self.rate = base_url, raw_key, rate
        self.phase = "before"
        self.answers: list[tuple[str, float, int]] = []  # (phase, seconds, status)
        self._next = 0
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._run = uuid.uuid4().hex[:6]
        self._threads = [threading.Thread(target=self._worker, daemon=True) for _ in range(connections)]

    def start(self) -> TriggerStream:
        self._started = time.monotonic()
        for thread in self._threads:
            thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout=15)

    def _worker(self) -> None:
        with httpx.Client(base_url=self.base_url, timeout=10) as client:
            while not self._stop.is_set():
                with self._lock:
                    i, self._next = self._next, self._next + 1
                delay = self._started + i / self.rate - time.monotonic()
                if delay > 0 and self._stop.wait(delay):
                    return
                phase = self.phase
                body = {"routing_key": self.raw_key, "event_action": "trigger",
                        "dedup_key": f"live-{self._run}-{i}",
                        "payload": {"summary": f"Queue depth high on worker {i}", "severity": "error",
                                    "source": "bench"}}
                began = time.monotonic()
                try:
                    status = client.post("/v2/enqueue", json=body).status_code
                except httpx.HTTPError:
                    status = 0
                with self._lock:
                    self.answers.append((phase, time.monotonic() - began, status))

    def summary(self, phase: str) -> dict:
        seconds = [s for p, s, _ in self.answers if p == phase]
        statuses = [st for p, _, st in self.answers if p == phase]
        if not seconds:
            return {"requests": 0}
        return {
            "requests": len(seconds),
            "non_202": sum(1 for st in statuses if st != 202),
            "p50_ms": round(percentile(seconds, 50) * 1000, 1),
            "p99_ms": round(percentile(seconds, 99) * 1000, 1),
            "max_ms": round(max(seconds) * 1000, 1),
            f"over_{SLOW_MS}ms": sum(1 for s in seconds if s * 1000 > SLOW_MS),
        }


def machine() -> dict:
    mem_kb = int(Path("/proc/meminfo").read_text().split()[1])
    cpuinfo = Path("/proc/cpuinfo").read_text().splitlines()
    cpu = next((line.split(":", 1)[1].strip() for line in cpuinfo if line.startswith("model name")), "")
    return {"cpus": os.cpu_count(), "cpu": cpu, "ram_gb": round(mem_kb / 2**20), "load_avg_1m": os.getloadavg()[0],
            "python": platform.python_version()}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--incidents", type=int, default=100_000, help="old resolved incidents to delete")
    parser.add_argument("--batch-size", type=int, default=None, help="default: CLEANUP_BATCH_SIZE")
    parser.add_argument("--rate", type=float, default=20, help="triggers per second during the run")
    parser.add_argument("--baseline", type=float, default=20, help="seconds of triggers before and after")
    parser.add_argument("--database-url", default=os.environ.get("DATABASE_URL"))
    parser.add_argument("--reset", action="store_true", help="TRUNCATE the incident tables first")
    parser.add_argument("--no-results", action="store_true", help=f"do not append to {RESULTS.relative_to(REPO)}")
    args = parser.parse_args()
    if not args.database_url or not args.database_url.startswith("postgres"):
        parser.error("DATABASE_URL (or --database-url) must name a PostgreSQL database")

    machine_at_start = machine()  # the load average before this script adds its own
    workdir = Path(tempfile.mkdtemp(prefix="vigil-retention-"))
    redis = RedisServer(workdir / "redis").start()
    server = stream = None
    failures: list[str] = []
    try:
        env = django_env(database_url=args.database_url, redis_url=redis.url(0), LOG_LEVEL="WARNING")
        manage("migrate", "--noinput", env=env)
        conn = psycopg.connect(psycopg_url(args.database_url), connect_timeout=5, autocommit=True)
        if args.reset:
            conn.execute(f"TRUNCATE {', '.join(INCIDENT_TABLES)}")
        elif conn.execute("SELECT EXISTS (SELECT 1 FROM incidents_incident)").fetchone()[0]:
            log("the database already holds incidents, which the cleanup would delete: use a database "
                "of its own, with --reset")
            return 2
        raw_key = manage("create_integration_key", "--name", f"retention bench {uuid.uuid4().hex[:6]}",
                         "--policy", "retention bench", env=env).strip()
        key_id = conn.execute("SELECT max(id) FROM integrations_integrationkey").fetchone()[0]

        log(f"writing {args.incidents:,} old resolved incidents and their rows")
        generation = generate(conn, args.incidents, key_id)
        before_counts = table_counts(conn)
        kept = kept_incidents(args.incidents)

        server = Gunicorn(env, workdir / "gunicorn.log", config_file=REPO / "deploy" / "gunicorn.conf.py").start()
        os.environ.update(env)
        import django

        django.setup()
        from django.conf import settings

        from incidents.cleanup import cleanup_old_inbound_events

        batch_size = args.batch_size or settings.CLEANUP_BATCH_SIZE
        log(f"gunicorn (deploy/gunicorn.conf.py) on {server.base_url}; {args.rate:g} triggers/s, "
            f"{args.baseline:g} s before the cleanup")
        stream = TriggerStream(server.base_url, raw_key, args.rate).start()
        time.sleep(args.baseline)
        stream.phase = "during"
        log(f"cleanup, batches of {batch_size}")
        began = time.monotonic()
        report = cleanup_old_inbound_events(batch_size=batch_size)
        cleanup_seconds = time.monotonic() - began
        stream.phase = "after"
        log(f"cleanup done in {cleanup_seconds:.1f} s; {args.baseline:g} s of triggers after it")
        time.sleep(args.baseline)
        stream.stop()

        after_counts = table_counts(conn)
        deleted_rows = (report.incidents + report.alerts + report.events + report.timeline_entries
                        + report.notifications + sum(report.other_rows.values()) + report.orphan_events
                        + report.change_events)
        live = sum(stream.summary(p)["requests"] for p in ("before", "during", "after"))
        # Every live trigger added an incident, an alert and an event; none may have been lost.
        expected_incidents = kept + live
        if report.incidents != args.incidents:
            failures.append(f"deleted {report.incidents} incidents, expected {args.incidents}")
        if after_counts["incidents_incident"] != expected_incidents:
            failures.append(f"{after_counts['incidents_incident']} incidents left, expected {expected_incidents}")
        for table in ("incidents_alert", "escalation_notification"):
            rows = conn.execute(f"SELECT count(*) FROM {table} t JOIN incidents_incident i ON i.id = t.incident_id "
                                "WHERE i.dedup_key LIKE 'kept-%'").fetchone()[0]
            if rows != kept:
                failures.append(f"{table}: {rows} rows of kept incidents, expected {kept}")
        old_left = conn.execute("SELECT count(*) FROM incidents_incident WHERE dedup_key LIKE 'old-%'").fetchone()[0]
        if old_left:
            failures.append(f"{old_left} old incidents left")
        phases = {p: stream.summary(p) for p in ("before", "during", "after")}
        if any(s.get("non_202") for s in phases.values()):
            failures.append(f"triggers not answered 202: {[s.get('non_202') for s in phases.values()]}")

        result = {
            "at": datetime.now(UTC).isoformat(timespec="seconds"),
            "commit": os.popen(f"git -C {REPO} rev-parse --short HEAD").read().strip(),
            "machine": machine_at_start,
            "postgres": conn.execute("SHOW server_version").fetchone()[0],
            "incidents": args.incidents,
            "batch_size": batch_size,
            "rows_before": before_counts,
            "rows_deleted": deleted_rows,
            "generation_seconds": generation,
            "cleanup_seconds": round(cleanup_seconds, 1),
            "rows_deleted_per_s": round(deleted_rows / cleanup_seconds),
            "incidents_deleted_per_s": round(report.incidents / cleanup_seconds),
            "batches": report.batches,
            "timeouts": report.timeouts,
            "longest_batch_ms": report.longest_batch_ms,
            "mean_batch_ms": round(cleanup_seconds * 1000 / max(1, report.batches), 1),
            "report": report.as_dict(),
            "triggers_per_s": args.rate,
            "triggers": phases,
            "failures": failures,
        }
        conn.close()
    finally:
        if stream is not None:
            stream.stop()
        if server is not None:
            server.stop()
        redis.stop()
        shutil.rmtree(workdir, ignore_errors=True)

    print(f"\n{args.incidents:,} old resolved incidents, {deleted_rows:,} rows, batches of {batch_size}, "
          f"{result['machine']['cpus']} CPUs (load {result['machine']['load_avg_1m']:.1f} before)")
    print(f"cleanup {result['cleanup_seconds']} s: {result['rows_deleted_per_s']:,} rows/s, "
          f"{result['incidents_deleted_per_s']:,} incidents/s; {report.batches} batches, "
          f"longest {report.longest_batch_ms} ms, mean {result['mean_batch_ms']} ms, {report.timeouts} timed out")
    print(f"\n{'triggers':8} {'sent':>6} {'p50 ms':>8} {'p99 ms':>8} {'max ms':>8} {f'>{SLOW_MS} ms':>8} non-202")
    for phase, s in phases.items():
        print(f"{phase:8} {s['requests']:>6} {s.get('p50_ms', '-'):>8} {s.get('p99_ms', '-'):>8} "
              f"{s.get('max_ms', '-'):>8} {s.get(f'over_{SLOW_MS}ms', '-'):>8} {s.get('non_202', '-')}")
    for failure in failures:
        print(f"FAILED: {failure}")
    if not args.no_results:
        RESULTS.parent.mkdir(exist_ok=True)
        with RESULTS.open("a") as out:
            out.write(json.dumps(result) + "\n")
        print(f"\nappended to {RESULTS.relative_to(REPO)}")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
