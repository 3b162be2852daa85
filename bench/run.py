"""`make bench`: Vigil as production runs it against the floor (../shared/perf), same machine,
same PostgreSQL, same load (wrk), interleaved, then the time from a trigger to its first email.

    .venv/bin/python bench/run.py            # the full run (about 10 minutes)
    .venv/bin/python bench/run.py --quick    # new and dup at 8 clients, two rounds (about 2 minutes)
    .venv/bin/python bench/run.py --only page  # time to page alone: no floor, no load table (about 1 minute)
    .venv/bin/python bench/run.py --only soak  # worker memory over 100,000 requests (bench/soak.py)

What it starts (all stopped at the end): a fresh database (BENCH_DATABASE_URL, default
vigil_bench on 127.0.0.1) and one for the floor beside it, a redis-server child, Vigil's
nginx (deploy/nginx.conf) + gunicorn (deploy/gunicorn.conf.py, DEBUG off, rate limit raised to
100000/m, the proxy trusted), the floor's gunicorn (5 sync workers, our .venv), and for the
time-to-page part a celery worker and beat and an aiosmtpd server.

Scenarios: new (a new dedup key per request), dup (one dedup key), mixed (trigger /
acknowledge / resolve cycles), alertmanager (100 new alerts per POST) and alertmanager-dup
(the same 100 alerts again); new and dup also run on the floor, right after Vigil, each
round. One table (requests/s, p50/p99, errors, CPU ms per request in gunicorn and in
PostgreSQL, ratio to the floor) on stdout, JSON lines in bench/results/. If
bench/escalation.py exists it runs last, with the same database and Redis.

`--only <scenario>` runs one scenario alone: `soak` (bench/soak.py) samples the memory of
every gunicorn and celery process over 100,000 mixed requests; no floor is started."""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import uuid
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
# The harness reads settings (the field key its children share) with DEBUG off: a secret of
# the benchmark's own, so `make bench` runs from a shell that sets none.
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
os.environ.setdefault("SECRET_KEY", "bench-run-secret-key-not-for-production-0123456789abcdef")

from bench.stack import (  # noqa: E402
    FLOOR_KEY,
    CpuMeter,
    FloorApp,
    VigilStack,
    admin_url,
    floor_dir,
    recreate_database,
    run_wrk,
)
from tests.reliability.harness import RedisServer, django_env, manage  # noqa: E402

DEFAULT_DATABASE_URL = "postgres://postgres@127.0.0.1:5432/vigil_bench"
LUA = REPO / "bench" / "lua"
RESULTS = REPO / "bench" / "results"
WARM_UP_SECONDS = 3


def scenarios(vigil_key: str, run: str) -> dict:
    """name -> (path, script, wrk args for Vigil, wrk args for the floor or None)."""
    ingest = floor_dir() / "ingest.lua"
    return {
        "new": ("/v2/enqueue", ingest, ["pd", "new", vigil_key, run], ["pd", "new", FLOOR_KEY, run]),
        "dup": ("/v2/enqueue", ingest, ["pd", "dup", vigil_key, run], ["pd", "dup", FLOOR_KEY, run]),
        "mixed": ("/v2/enqueue", LUA / "mixed.lua", [vigil_key, run], None),
        "alertmanager": ("/api/integrations/alertmanager", LUA / "alertmanager.lua", [vigil_key, "new", run], None),
        "alertmanager-dup": ("/api/integrations/alertmanager", LUA / "alertmanager.lua",
                             [vigil_key, "dup", run], None),
    }


def measure(target: str, base_url: str, meter: CpuMeter, path: str, script: Path, args: list[str], *,
            clients: int, seconds: float) -> dict:
    before = meter.read()
    result = run_wrk(base_url + path, script, args, clients=clients, seconds=seconds)
    app, pg = CpuMeter.spent(before, meter.read())
    requests = max(result["requests"], 1)
    errors = result["non2xx"] + sum(result[k] for k in ("sock_connect", "sock_read", "sock_write", "sock_timeout"))
    return {
        "target": target, "rps": result["ok_rps"], "p50_ms": result["p50_ms"], "p99_ms": result["p99_ms"],
        "max_ms": result["max_ms"], "requests": result["requests"], "errors": errors,
        "last_bad_status": result["last_bad_status"],
        "app_cpu_ms": round(app * 1000 / requests, 2), "pg_cpu_ms": round(pg * 1000 / requests, 2),
    }


def print_table(rows: list[dict]) -> None:
    head = (f"{'scenario':17} {'c':>3} {'rnd':>3} {'target':6} {'req/s':>8} {'p50 ms':>8} {'p99 ms':>8} "
            f"{'errors':>6} {'app ms':>7} {'pg ms':>6} {'ratio':>6}")
    print("\n" + head + "\n" + "-" * len(head))
    for r in rows:
        ratio = f"{r['ratio']:.2f}" if r.get("ratio") is not None else "-"
        print(f"{r['scenario']:17} {r['clients']:>3} {r['round']:>3} {r['target']:6} {r['rps']:>8.1f} "
              f"{r['p50_ms']:>8.1f} {r['p99_ms']:>8.1f} {r['errors']:>6} {r['app_cpu_ms']:>7.2f} "
              f"{r['pg_cpu_ms']:>6.2f} {ratio:>6}")


def versions(database_url: str) -> dict:
    import django
    import psycopg
    # The server's maintenance database: the benchmark's own may not exist yet.
    with psycopg.connect(admin_url(database_url), connect_timeout=5) as conn:
        pg = conn.execute("SHOW server_version").fetchone()[0]
    wrk = subprocess.run(["wrk", "--version"], capture_output=True, text=True, check=False).stdout.split("\n")[0]
    nginx = subprocess.run([shutil.which("nginx") or "/usr/sbin/nginx", "-v"], capture_output=True, text=True,
                           check=False).stderr.strip()
    model = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                  if line.startswith("model name")), platform.machine())
    return {"python": platform.python_version(), "django": django.get_version(), "postgresql": pg,
            "wrk": wrk.strip(), "nginx": nginx, "cpus": os.cpu_count(), "cpu": model,
            "load_average_before": os.getloadavg()[0]}


def start_vigil(database_url: str, redis: RedisServer, workdir: Path) -> tuple[dict, str, VigilStack]:
    """A fresh database, migrated, one integration key, Vigil served: (env, raw key, stack)."""
    recreate_database(database_url)
    env = django_env(database_url=database_url, redis_url=redis.url(0), INBOUND_TRUSTED_PROXIES="127.0.0.1/32")
    manage("migrate", "--noinput", env=env)
    manage("collectstatic", "--noinput", env=env)
    vigil_key = manage("create_integration_key", "--name", "bench", "--policy", "bench", env=env).strip()
    return env, vigil_key, VigilStack(env, workdir).start()


def write_results(name: str, machine: dict | None, stamp: str, rows: list[dict], **extra) -> Path:
    """bench/results/<stamp><name>.jsonl: the machine, versions and commit, then one line a row."""
    RESULTS.mkdir(exist_ok=True)
    out = RESULTS / f"{stamp}{name}.jsonl"
    with out.open("w") as f:
        f.write(json.dumps({"machine": machine, "started": stamp, **extra,
                            "commit": subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=REPO,
                                                     capture_output=True, text=True).stdout.strip()}) + "\n")
        for row in rows:
            f.write(json.dumps(row) + "\n")
    print(f"\nresults: {out.relative_to(REPO)}")
    return out


def only_soak(args: argparse.Namespace) -> int:
    """`--only soak`: Vigil and a celery worker and beat, no floor; bench/soak.py's table."""
    from bench.soak import print_soak, soak
    workdir = Path(tempfile.mkdtemp(prefix="vigil-soak-"))
    redis = RedisServer(workdir / "redis").start()
    vigil = None
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    try:
        machine = versions(args.database_url)
        env, vigil_key, vigil = start_vigil(args.database_url, redis, workdir)
        print(f"soak: Vigil {vigil.url} (nginx -> gunicorn -c deploy/gunicorn.conf.py), celery worker and beat; "
              f"{args.soak_requests:,} requests after {args.soak_warm_up:,}; load average "
              f"{os.getloadavg()[0]:.1f}", flush=True)
        result = soak(env, vigil.url, vigil.pid, vigil_key, workdir, run=uuid.uuid4().hex[:6],
                      requests=args.soak_requests, warm_up=args.soak_warm_up, max_seconds=args.soak_max_seconds)
    finally:
        if vigil is not None:
            vigil.stop()
        redis.stop()
        shutil.rmtree(workdir, ignore_errors=True)
    print_soak(result)
    write_results("-soak", machine, stamp, [{"scenario": "soak", **result}])
    return 1 if result["errors"] or result["grows"] or not result["complete"] else 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--soak-requests", type=int, default=100_000, help="measured requests of the soak")
    parser.add_argument("--soak-warm-up", type=int, default=5_000, help="requests before the first sample")
    parser.add_argument("--soak-max-seconds", type=float, default=900, help="stop the soak short after this")
    parser.add_argument("--quick", action="store_true", help="new and dup at 8 clients only")
    parser.add_argument("--seconds", type=float, default=10, help="length of each measured run")
    parser.add_argument("--rounds", type=int, default=None, help="rounds of every scenario (default 2 quick, 1 full)")
    parser.add_argument("--clients", default=None, help="comma-separated client counts (default 1,8,32; quick 8)")
    parser.add_argument("--scenarios", default=None, help="comma-separated scenario names")
    parser.add_argument("--no-page", action="store_true", help="skip the time-to-page part")
    parser.add_argument("--only", choices=["page", "soak"], default=None,
                        help="run one part alone: page = time to page (idle and under new load at 8 clients); "
                             "soak = worker memory over 100,000 requests")
    parser.add_argument("--database-url", default=os.environ.get("BENCH_DATABASE_URL", DEFAULT_DATABASE_URL))
    args = parser.parse_args()
    if args.only == "soak":
        return only_soak(args)
    clients_list = [int(c) for c in (args.clients or ("8" if args.quick else "1,8,32")).split(",")]
    rounds = args.rounds or (2 if args.quick else 1)
    names = (args.scenarios or ("new,dup" if args.quick else "new,dup,mixed,alertmanager,alertmanager-dup")).split(",")

    database_url = args.database_url
    dbname = urlsplit(database_url).path.lstrip("/")
    floor_db = dbname + "_floor"
    floor_url = urlunsplit(urlsplit(database_url)._replace(path="/" + floor_db))
    machine = None
    workdir = Path(tempfile.mkdtemp(prefix="vigil-bench-"))
    redis = RedisServer(workdir / "redis").start()
    vigil = floor = None
    rows: list[dict] = []
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    run = uuid.uuid4().hex[:6]
    try:
        recreate_database(floor_url)
        machine = versions(database_url)
        env, vigil_key, vigil = start_vigil(database_url, redis, workdir)
        if args.only == "page":
            names, rounds = [], 0  # the page part's own load runs inside it; no floor needed
        else:
            floor = FloorApp(database_url, floor_db, workdir).start()
        vigil_meter = CpuMeter(vigil.pid, database_url, dbname)
        floor_meter = CpuMeter(floor.pid, database_url, floor_db) if floor is not None else None
        plan = scenarios(vigil_key, run)
        print(f"Vigil {vigil.url} (nginx -> gunicorn -c deploy/gunicorn.conf.py), floor {floor.url if floor else None} "
              f"(gunicorn -w 5 sync); {args.seconds:g} s per run, clients {clients_list}, {rounds} round(s); "
              f"load average {os.getloadavg()[0]:.1f}", flush=True)
        for name in names:
            path, script, vigil_args, floor_args = plan[name]
            for _target, base, fargs in (("vigil", vigil.url, vigil_args), ("floor", floor.url, floor_args)):
                if fargs is not None:  # warm-up: connections, caches, the first plans
                    run_wrk(base + path, script, [*fargs[:-1], fargs[-1] + "w"], clients=8, seconds=WARM_UP_SECONDS)
        for round_no in range(1, rounds + 1):
            for clients in clients_list:
                for name in names:
                    path, script, vigil_args, floor_args = plan[name]
                    tag = f"{run}r{round_no}c{clients}"
                    pair = [("vigil", vigil.url, vigil_meter, [*vigil_args[:-1], tag])]
                    if floor_args is not None:
                        pair.append(("floor", floor.url, floor_meter, [*floor_args[:-1], tag]))
                    measured = {}
                    for target, base, meter, wrk_args in pair:
                        row = measure(target, base, meter, path, script, wrk_args, clients=clients,
                                      seconds=args.seconds)
                        row.update(scenario=name, clients=clients, round=round_no)
                        measured[target] = row
                    if "floor" in measured:
                        measured["vigil"]["ratio"] = round(measured["vigil"]["rps"] / max(measured["floor"]["rps"], 0.1), 3)
                    for row in measured.values():
                        rows.append(row)
                        r = row
                        print(f"  {name:17} c={clients:<3} {r['target']:6} {r['rps']:8.1f} req/s  p50 {r['p50_ms']:.1f}"
                              f"  p99 {r['p99_ms']:.1f} ms  errors {r['errors']}  app {r['app_cpu_ms']:.2f} ms"
                              f"  pg {r['pg_cpu_ms']:.2f} ms" + (f"  ratio {r['ratio']:.2f}" if "ratio" in r else ""),
                              flush=True)
        if (not args.quick and not args.no_page) or args.only == "page":
            from bench.page import time_to_page
            try:
                page = time_to_page(env, vigil.url, vigil_key, workdir, run=run)
            except RuntimeError as exc:  # recorded as a failure; the load figures are kept
                page = {"idle_s": None, "loaded_s": None, "errors": 1, "failure": str(exc)[:300]}
            rows.append({"scenario": "time-to-page", **page})
            print(f"  time to page: idle {page['idle_s']} s, under new load at 8 clients {page['loaded_s']} s "
                  f"(load average {os.getloadavg()[0]:.1f})", flush=True)
        escalation = REPO / "bench" / "escalation.py"
        if escalation.exists() and not args.quick and args.only is None:
            subprocess.run([sys.executable, str(escalation)], env={**env, "BENCH_RESULTS": str(RESULTS / stamp)},
                           cwd=REPO, check=False, timeout=900)
    finally:
        for process in (floor, vigil):
            if process is not None:
                process.stop()
        redis.stop()
        shutil.rmtree(workdir, ignore_errors=True)

    print_table([r for r in rows if r.get("scenario") != "time-to-page"])
    suffix = f"-{args.only}" if args.only else ("-quick" if args.quick else "")
    write_results(suffix, machine, stamp, rows, seconds=args.seconds)
    return 1 if any(r.get("errors") for r in rows) else 0


if __name__ == "__main__":
    sys.exit(main())
