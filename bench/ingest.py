"""Ingest benchmark: a real gunicorn (2 workers x 4 threads) on PostgreSQL and its own
redis-server, loaded by a bounded asyncio/httpx client on loopback.

    make bench                      # or: .venv/bin/python bench/ingest.py --seconds 20 --clients 20

Phases (each `--seconds` long, after a short warm-up):
  new     every request a new dedup key: creates an incident, an alert, an event row, and
          hands the escalation task to the broker after the commit;
  repeat  triggers for 100 open alerts, round-robin: the dedup path (alert_count + 1);
  hot     every client on one open alert: the dedup path serialised on one row lock.
Then the per-request query counts of a new and a repeat trigger, measured in this process
against the same database. Results go to stdout (and to --json when given); README.md
records a run."""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import sys
import tempfile
import time
import uuid
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

import httpx  # noqa: E402
import psycopg  # noqa: E402

from tests.reliability.harness import Gunicorn, RedisServer, django_env, manage  # noqa: E402
from tests.reliability.load import percentile  # noqa: E402

DEFAULT_DATABASE_URL = "postgres://postgres@127.0.0.1:5432/vigil_bench"
HOT_KEYS = 100


def recreate_database(database_url: str) -> None:
    parts = urlsplit(database_url)
    name = parts.path.lstrip("/")
    admin = urlunsplit(parts._replace(scheme="postgresql", path="/postgres"))
    with psycopg.connect(admin, autocommit=True, connect_timeout=5) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')


def trigger(raw_key: str, dedup_key: str) -> dict:
    return {
        "routing_key": raw_key, "event_action": "trigger", "dedup_key": dedup_key,
        "payload": {"summary": f"Disk usage > 90% on {dedup_key}", "severity": "critical",
                    "source": "bench", "custom_details": {"used": "93%"}},
    }


async def run_phase(base_url: str, raw_key: str, *, clients: int, seconds: float, dedup_key_of) -> dict:
    """`clients` connections, each sending back to back until `seconds` have passed."""
    latencies: list[float] = []
    statuses: dict[int, int] = {}
    counter = iter(range(10**9))
    limits = httpx.Limits(max_connections=clients, max_keepalive_connections=clients)
    async with httpx.AsyncClient(base_url=base_url, timeout=10, limits=limits) as client:
        deadline = time.monotonic() + seconds

        async def worker() -> None:
            while time.monotonic() < deadline:
                body = trigger(raw_key, dedup_key_of(next(counter)))
                began = time.monotonic()
                try:
                    status = (await client.post("/v2/enqueue", json=body)).status_code
                except httpx.HTTPError:
                    status = 0
                latencies.append(time.monotonic() - began)
                statuses[status] = statuses.get(status, 0) + 1

        started = time.monotonic()
        await asyncio.gather(*(worker() for _ in range(clients)))
        elapsed = time.monotonic() - started
    ok = statuses.get(202, 0)
    return {
        "requests": len(latencies),
        "accepted": ok,
        "other_statuses": {str(k): v for k, v in statuses.items() if k != 202},
        "req_per_s": round(ok / elapsed, 1),
        "p50_ms": round(percentile(latencies, 50) * 1000, 1),
        "p95_ms": round(percentile(latencies, 95) * 1000, 1),
        "p99_ms": round(percentile(latencies, 99) * 1000, 1),
        "max_ms": round(max(latencies) * 1000, 1),
    }


def query_counts(env: dict[str, str], raw_key: str) -> dict:
    """Queries per request on the same database, through Django's test client (no test
    transaction: what production runs). `last_used_at` is written at most once a minute per
    key, so it is already fresh here and not counted."""
    os.environ.update(env)
    import django

    django.setup()
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext

    client = Client(HTTP_HOST="127.0.0.1")
    dedup_key = f"queries-{uuid.uuid4().hex[:8]}"
    client.post("/v2/enqueue", trigger(raw_key, "queries-warm-up"), content_type="application/json")
    counts = {}
    for label in ("new_trigger", "repeat_trigger"):
        with CaptureQueriesContext(connection) as captured:
            response = client.post("/v2/enqueue", trigger(raw_key, dedup_key), content_type="application/json")
        assert response.status_code == 202, response.content
        counts[label] = len(captured.captured_queries)
        counts[label + "_sql"] = [q["sql"].split(" ")[0] + " " + q["sql"][:70] for q in captured.captured_queries]
    return counts


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=20, help="length of each phase")
    parser.add_argument("--clients", type=int, default=20, help="concurrent connections")
    parser.add_argument("--database-url", default=os.environ.get("BENCH_DATABASE_URL", DEFAULT_DATABASE_URL))
    parser.add_argument("--json", type=Path, help="also write the results here")
    args = parser.parse_args()

    workdir = Path(tempfile.mkdtemp(prefix="vigil-bench-"))
    redis = RedisServer(workdir / "redis").start()
    server = None
    try:
        recreate_database(args.database_url)
        env = django_env(database_url=args.database_url, redis_url=redis.url(0), LOG_LEVEL="WARNING")
        manage("migrate", "--noinput", env=env)
        raw_key = manage("create_integration_key", "--name", "bench", "--policy", "bench", env=env).strip()
        server = Gunicorn(env, workdir / "gunicorn.log").start()
        run = uuid.uuid4().hex[:6]
        print(f"gunicorn -w 2 --threads 4 on {server.base_url}, {args.clients} clients, "
              f"{args.seconds:.0f} s per phase, database {urlsplit(args.database_url).path.lstrip('/')}")

        phases = {
            "warm-up": (min(3.0, args.seconds), lambda i: f"warm-{run}-{i}"),
            "new": (args.seconds, lambda i: f"new-{run}-{i}"),
            "repeat": (args.seconds, lambda i: f"warm-{run}-{i % HOT_KEYS}"),
            "hot": (args.seconds, lambda i: f"warm-{run}-0"),
        }
        results = {}
        for name, (seconds, dedup_key_of) in phases.items():
            results[name] = asyncio.run(run_phase(server.base_url, raw_key, clients=args.clients,
                                                  seconds=seconds, dedup_key_of=dedup_key_of))
        del results["warm-up"]
        results["queries"] = query_counts(env, raw_key)
    finally:
        if server is not None:
            server.stop()
        redis.stop()
        shutil.rmtree(workdir, ignore_errors=True)

    print(f"\n{'phase':8} {'req/s':>8} {'p50 ms':>8} {'p95 ms':>8} {'p99 ms':>8} {'max ms':>8}  non-202")
    for name in ("new", "repeat", "hot"):
        r = results[name]
        print(f"{name:8} {r['req_per_s']:>8} {r['p50_ms']:>8} {r['p95_ms']:>8} {r['p99_ms']:>8} "
              f"{r['max_ms']:>8}  {r['other_statuses'] or '-'}")
    q = results["queries"]
    print(f"\nqueries per request: new trigger {q['new_trigger']}, repeat trigger {q['repeat_trigger']}")
    for label in ("new_trigger", "repeat_trigger"):
        print(f"  {label}: " + " | ".join(sql.split(" ")[0] for sql in q[label + "_sql"]))
    if args.json:
        args.json.write_text(json.dumps(results, indent=2))
    failed = any(results[name]["other_statuses"] for name in ("new", "repeat", "hot"))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
