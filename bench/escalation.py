"""Escalation tick benchmark: one beat tick over 10,000 open incidents of which 1,000 are due.

    .venv/bin/python bench/escalation.py --database-url postgres://postgres@127.0.0.1:5432/vigil_bench_escalation \
        --redis-url redis://127.0.0.1:6379/15

The database is dropped and created afresh, migrated, and filled in bulk: 60 people (one
email; email and webhook with urgency rules; a rule on an unverified method; a few inactive
or unreachable), 10 teams, 12 schedules (daily, weekly and 8-hour rotations, some overrides),
25 policies (user, schedule and team targets, repeats), then 10,000 open incidents:
7,000 triggered and not yet due, 1,950 acknowledged, 50 held by maintenance and overdue,
and 1,000 due ones (fresh ones whose policy is frozen by this tick, mid-escalation ones, 100
overdue by 40 minutes that catch up several steps, a few flapping, a few without a policy).

One tick runs with the clock fixed (`run_escalation_tick(now)`); the send tasks go to the
Redis broker given (its database is flushed afterwards). Printed and written as one JSON
line to bench/results/escalation.jsonl: seconds (and this process's CPU seconds with the load
average, since a shared machine's wall clock varies), queries, the EXPLAIN of the claim query,
and the exactly-once checks: each due incident's fired (step, repeat) list equals the one a
plain simulation of the policy gives, each fired step has as many page rows as its people's
delivery plans, nothing else was written, and a second tick fires nothing. `outcome_digest`
hashes every page row and timeline line (times relative to the tick's clock), so runs of
two engine versions on the same fixture can be compared."""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import random
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

DUE = 1000
OPEN = 10_000
SECRET_KEY = "escalation-bench-secret-key-not-for-production-0123456789"


def recreate_database(database_url: str) -> None:
    import psycopg

    parts = urlsplit(database_url)
    name = parts.path.lstrip("/")
    admin = urlunsplit(parts._replace(scheme="postgresql", path="/postgres"))
    with psycopg.connect(admin, autocommit=True, connect_timeout=5) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')


def setup_django(database_url: str, redis_url: str) -> None:
    os.environ.update(
        DJANGO_SETTINGS_MODULE="config.settings", DATABASE_URL=database_url, REDIS_URL=redis_url,
        CELERY_BROKER_URL=redis_url, SECRET_KEY=os.environ.get("SECRET_KEY", SECRET_KEY),
        LOG_LEVEL="WARNING",
    )
    os.environ.pop("DEBUG", None)
    import django

    django.setup()


# --- the fixture -------------------------------------------------------------------------


def build_people(rng: random.Random):
    from django.contrib.auth import get_user_model

    from escalation.models import ContactMethod, NotificationRule, Urgency

    User = get_user_model()
    users = User.objects.bulk_create([
        User(username=f"bench{i:02d}", email=f"bench{i:02d}@example.com", is_active=i % 20 != 19,
             password="!")
        for i in range(60)
    ])
    for i, user in enumerate(users):
        if i == 7:
            continue  # nobody can reach this one
        email = ContactMethod.objects.create(user=user, kind="email", address=f"{user.username}@example.com")
        if i % 3 == 1:
            hook = ContactMethod.objects.create(user=user, kind="webhook",
                                                address=f"https://hooks.example.com/{user.username}")
            NotificationRule.objects.create(user=user, contact_method=email, delay_minutes=0)
            NotificationRule.objects.create(user=user, contact_method=hook, delay_minutes=5, urgency=Urgency.HIGH)
            NotificationRule.objects.create(user=user, contact_method=hook, delay_minutes=0, urgency=Urgency.LOW)
        elif i % 3 == 2:
            sms = ContactMethod.objects.create(user=user, kind="sms", address=f"+1555000{i:04d}", verified=False)
            NotificationRule.objects.create(user=user, contact_method=sms, delay_minutes=0)
    return users


def build_teams(users):
    from oncall.models import Team, TeamMembership

    teams = Team.objects.bulk_create([Team(name=f"Bench team {t}", slug=f"bench-team-{t}") for t in range(10)])
    TeamMembership.objects.bulk_create([
        TeamMembership(team=team, user=users[(t * 6 + k) % len(users)], role="responder")
        for t, team in enumerate(teams) for k in range(6)
    ])
    return teams


def build_schedules(users, teams, now: datetime):
    from oncall.models import Rotation, RotationParticipant, Schedule, ScheduleOverride

    schedules = []
    for s in range(12):
        schedule = Schedule.objects.create(name=f"Bench schedule {s}", team=teams[s % len(teams)],
                                           time_zone=["UTC", "Europe/Berlin", "America/New_York"][s % 3])
        kinds = [("daily", 24), ("weekly", 168), ("custom", 8)]
        for layer in range(1 + s % 2):
            kind, hours = kinds[(s + layer) % 3]
            rotation = Rotation.objects.create(schedule=schedule, shift_kind=kind, shift_hours=hours, order=layer,
                                               start=datetime(2024, 1, 1, tzinfo=UTC))
            RotationParticipant.objects.bulk_create([
                RotationParticipant(rotation=rotation, user=users[(s * 5 + layer * 3 + p) % len(users)], position=p)
                for p in range(3 + s % 2)
            ])
        if s % 4 == 0:
            ScheduleOverride.objects.create(schedule=schedule, user=users[(s * 7 + 1) % len(users)],
                                    start=now - timedelta(hours=2), end=now + timedelta(hours=2))
        schedules.append(schedule)
    return schedules


def build_policies(rng: random.Random, users, teams, schedules):
    from escalation.models import EscalationPolicy, EscalationStep

    policies = []
    for p in range(25):
        policy = EscalationPolicy.objects.create(name=f"Bench policy {p}", team=teams[p % len(teams)],
                                                 repeat_count=p % 3, repeat_delay_minutes=10 + p % 4)
        for order in range(1 + p % 4):
            step = EscalationStep.objects.create(
                policy=policy, order=order,
                delay_minutes=(2 if p % 12 == 11 else 0) if order == 0 else 5 + (p + order) % 10,
            )
            shape = (p + order) % 5
            if shape in (0, 3):
                step.users.set(rng.sample(users, 1 + (p + order) % 3))
            if shape in (1, 3, 4):
                step.schedules.set(rng.sample(schedules, 1 + p % 2))
            if shape in (2, 4):
                step.teams.set(rng.sample(teams, 1 + order % 2))
        policies.append(policy)
    return policies


def build_incidents(rng: random.Random, policies, now: datetime) -> dict[str, list[int]]:
    """10,000 open incidents in one bulk insert; returns the ids of the due and not-due ones."""
    from escalation.engine import snapshot_policy
    from incidents.models import Incident

    snapshots = {policy.pk: snapshot_policy(policy) for policy in policies}
    severities = ["critical", "error", "warning", "info"]
    rows, kinds = [], []
    for i in range(OPEN):
        policy = policies[i % len(policies)]
        snapshot = snapshots[policy.pk]
        row = Incident(team_id=policy.team_id, summary=f"Bench incident {i}", dedup_key=f"bench-{i}",
                       severity=severities[i % 4], escalation_policy=policy, first_seen_at=now, last_seen_at=now)
        if i < DUE:
            if i < 400:  # fresh: the tick freezes the policy and fires its first step
                kind = "fresh"
                row.next_escalation_at = now - timedelta(seconds=30)
                if i % 97 == 0:
                    row.escalation_policy = None
            elif i < 900:  # mid-escalation: the next step (or a repeat's first) is due
                kind = "mid"
                row.escalation_snapshot = snapshot
                row.escalation_repeat = rng.randint(0, snapshot["repeat_count"])
                row.escalation_step = rng.randrange(len(snapshot["steps"]))
                row.next_escalation_at = now - timedelta(seconds=rng.randint(1, 50))
            else:  # the beat was down: several steps are overdue
                kind = "late"
                row.escalation_snapshot = snapshot
                row.next_escalation_at = now - timedelta(minutes=40)
            row.is_flapping = i % 50 == 3
        elif i < DUE + 7000:
            kind = "waiting"
            row.escalation_snapshot = snapshot
            row.escalation_step = min(1, len(snapshot["steps"]) - 1)
            row.next_escalation_at = now + timedelta(minutes=rng.randint(1, 60))
        elif i < DUE + 7050:
            kind = "held"
            row.escalation_snapshot = snapshot
            row.next_escalation_at = now - timedelta(minutes=5)
            row.escalation_held_reason = "maintenance window #1"
        else:
            kind = "acknowledged"
            row.status = Incident.Status.ACKNOWLEDGED
            row.escalation_snapshot = snapshot
            row.acknowledged_at = now
        rows.append(row)
        kinds.append(kind)
    created = Incident.objects.bulk_create(rows, batch_size=2000)
    ids: dict[str, list[int]] = {}
    for row, kind in zip(created, kinds, strict=True):
        ids.setdefault(kind, []).append(row.pk)
    return ids


# --- the checks --------------------------------------------------------------------------


def expected_firings(incident, policy_snapshots: dict, now: datetime) -> list[tuple[int, int]]:
    """The (step, repeat) pairs the policy makes due by `now`: a plain walk of the policy."""
    snapshot = incident.escalation_snapshot
    at = incident.next_escalation_at
    if snapshot is None:
        snapshot = policy_snapshots.get(incident.escalation_policy_id)
        if snapshot is None or not snapshot["steps"]:
            return []
        at = at + timedelta(seconds=snapshot["steps"][0]["delay_seconds"])
    steps, index, repeat, fired = snapshot["steps"], incident.escalation_step, incident.escalation_repeat, []
    while at is not None and at <= now:
        fired.append((index, repeat))
        if index + 1 < len(steps):
            index += 1
            at += timedelta(seconds=steps[index]["delay_seconds"])
        elif repeat < snapshot["repeat_count"]:
            index, repeat = 0, repeat + 1
            at += timedelta(seconds=snapshot["repeat_delay_seconds"])
        else:
            at = None
    return fired


def check_exactly_once(before: dict, now: datetime, policy_snapshots: dict, due_ids: set[int]) -> dict:
    from django.contrib.auth import get_user_model

    from escalation.engine import delivery_plan
    from escalation.models import Notification
    from incidents.models import TimelineEntry

    fired: dict[int, list[tuple[int, int]]] = {}
    page_rows_expected = 0
    users = get_user_model().objects.in_bulk()
    plans: dict[tuple[int, str], int] = {}
    for entry in TimelineEntry.objects.filter(kind="escalation", data__has_key="step").order_by("id"):
        fired.setdefault(entry.incident_id, []).append((entry.data["step"], entry.data["repeat"]))
        severity = before[entry.incident_id].severity
        for user_id in entry.data["user_ids"]:
            if (user_id, severity) not in plans:
                plans[user_id, severity] = len(delivery_plan(users[user_id], severity))
            page_rows_expected += plans[user_id, severity]
    wrong = [pk for pk in due_ids if fired.get(pk, []) != expected_firings(before[pk], policy_snapshots, now)]
    outside = sorted(set(fired) - due_ids)
    pages = Notification.objects.filter(kind="page")
    duplicates = (
        pages.values("incident_id", "step_index", "repeat_index", "user_id", "contact_method_id")
        .order_by().distinct().count()
    )
    steps_expected = sum(len(expected_firings(before[pk], policy_snapshots, now)) for pk in due_ids)
    return {
        "steps_fired": sum(len(v) for v in fired.values()),
        "steps_expected": steps_expected,
        "incidents_with_wrong_steps": len(wrong),
        "incidents_paged_but_not_due": len(outside),
        "page_rows": pages.count(),
        "page_rows_expected": page_rows_expected,
        "page_rows_duplicated": pages.count() - duplicates,
        "pages_outside_due_incidents": pages.exclude(incident_id__in=due_ids).count(),
    }


def outcome_digest(now: datetime) -> str:
    from escalation.models import Notification
    from incidents.models import Incident, TimelineEntry

    def rel(value) -> float:
        return round((value - now).total_seconds(), 3)

    digest = hashlib.sha256()
    for row in Notification.objects.order_by("dedupe_key").values_list(
        "dedupe_key", "incident_id", "user_id", "contact_method_id", "kind", "status", "status_reason",
        "step_index", "repeat_index", "channel", "due_at", "enqueued_at",
    ):
        digest.update(repr((*row[:10], rel(row[10]), row[11] is not None)).encode())
    for incident_id, message, data in TimelineEntry.objects.order_by("incident_id", "id").values_list(
        "incident_id", "message", "data"
    ):
        data = {k: v for k, v in data.items() if k not in ("due_at", "fired_at")}
        digest.update(repr((incident_id, message, sorted(data.items()))).encode())
    for row in Incident.objects.order_by("pk").values_list(
        "pk", "escalation_step", "escalation_repeat", "next_escalation_at", "escalation_snapshot"
    ):
        digest.update(repr((row[0], row[1], row[2], rel(row[3]) if row[3] else None,
                            json.dumps(row[4], sort_keys=True))).encode())
    return digest.hexdigest()


def claim_explain(now: datetime) -> str:
    from django.db import transaction

    from escalation import engine

    with transaction.atomic():
        claim = getattr(engine, "claim_due_incidents_query", None)
        if claim is not None:
            queryset = claim(now, exclude=[], limit=engine.CLAIM_BATCH)
        else:  # the engine before batches claimed one row at a time
            queryset = engine.due_incidents(now).select_for_update(skip_locked=True)[:1]
        return queryset.explain()


def git_revision() -> str:
    try:
        return subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=REPO, capture_output=True,
                              text=True, check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return ""


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database-url", default=os.environ.get(
        "BENCH_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/vigil_bench_escalation"))
    parser.add_argument("--redis-url", default=os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/15"))
    parser.add_argument("--label", default="", help="Written into the JSON line (e.g. before/after).")
    parser.add_argument("--results", default=str(REPO / "bench" / "results" / "escalation.jsonl"))
    parser.add_argument("--profile", default="", help="write a cProfile of the tick alone to this file "
                        "(the timing is then the profiler's, not a result)")
    parser.add_argument("--query-times", action="store_true",
                        help="print the ten statement shapes the tick spent the most time executing")
    args = parser.parse_args()

    recreate_database(args.database_url)
    setup_django(args.database_url, args.redis_url)
    import redis
    from django.core.management import call_command
    from django.db import connection

    from escalation.clock import db_now
    from escalation.engine import run_escalation_tick, snapshot_policy
    from incidents.models import Incident

    call_command("migrate", verbosity=0)
    broker = redis.Redis.from_url(args.redis_url)
    broker.flushdb()
    rng = random.Random(15)
    began = time.monotonic()
    now = db_now().replace(microsecond=0)
    users = build_people(rng)
    teams = build_teams(users)
    schedules = build_schedules(users, teams, now)
    policies = build_policies(rng, users, teams, schedules)
    ids = build_incidents(rng, policies, now)
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")
    fixture_seconds = time.monotonic() - began
    due_ids = {pk for kind in ("fresh", "mid", "late") for pk in ids[kind]}
    before = Incident.objects.in_bulk(due_ids)
    policy_snapshots = {policy.pk: snapshot_policy(policy) for policy in policies}
    explain = claim_explain(now)

    queries = []
    query_seconds: dict[str, list[float]] = {}

    def count(execute, sql, params, many, context):
        queries.append(sql)
        began = time.monotonic()
        try:
            return execute(sql, params, many, context)
        finally:
            # Per statement shape (its first 90 characters): where the tick waits on PostgreSQL.
            query_seconds.setdefault(" ".join(sql.split())[:90], []).append(time.monotonic() - began)

    profiler = None
    if args.profile:
        import cProfile

        profiler = cProfile.Profile()
    with connection.execute_wrapper(count):
        started, cpu_started = time.monotonic(), time.process_time()
        if profiler is not None:
            profiler.enable()
        report = run_escalation_tick(now)
        if profiler is not None:
            profiler.disable()
        seconds, cpu_seconds = time.monotonic() - started, time.process_time() - cpu_started
    if profiler is not None:
        profiler.dump_stats(args.profile)
    enqueued = broker.llen("celery")
    checks = check_exactly_once(before, now, policy_snapshots, due_ids)
    # A second tick at the same instant must fire nothing (the engine before batches, cut
    # by its time budget, fires the rest here: the digest is taken after it, so both
    # engines' final outcomes compare).
    second = run_escalation_tick(now)
    digest = outcome_digest(now)
    broker.flushdb()

    result = {
        "bench": "escalation_tick", "label": args.label, "revision": git_revision(),
        "at": datetime.now(UTC).isoformat(timespec="seconds"),
        "open_incidents": OPEN, "due_incidents": len(due_ids), "fixture_seconds": round(fixture_seconds, 2),
        "tick_seconds": round(seconds, 3), "tick_cpu_seconds": round(cpu_seconds, 3),
        "load_average": os.getloadavg()[0], "queries": len(queries),
        "report": {k: v for k, v in report.__dict__.items()},
        "send_tasks_enqueued": enqueued,
        "second_tick_steps": second.steps,
        **checks,
        "claim_uses_index": "Index" in explain,
        "claim_explain": explain,
        "outcome_digest": digest,
    }
    ok = (
        checks["steps_fired"] == checks["steps_expected"] and checks["incidents_with_wrong_steps"] == 0
        and checks["incidents_paged_but_not_due"] == 0 and checks["page_rows"] == checks["page_rows_expected"]
        and checks["page_rows_duplicated"] == 0 and checks["pages_outside_due_incidents"] == 0
        and second.steps == 0 and report.errors == 0
    )
    result["exactly_once"] = ok
    print(f"escalation tick over {OPEN} open incidents, {len(due_ids)} due: {seconds:.3f} s "
          f"({cpu_seconds:.3f} s CPU in this process, load average {os.getloadavg()[0]:.1f}), "
          f"{len(queries)} queries, {report.steps} steps fired ({checks['steps_expected']} expected), "
          f"{checks['page_rows']} page rows ({checks['page_rows_expected']} expected), "
          f"{enqueued} send tasks enqueued, second tick {second.steps} steps; exactly once: {ok}")
    print("claim query plan:\n" + explain)
    if args.query_times:
        print("statements by time spent in execute (s, count):")
        for shape, times in sorted(query_seconds.items(), key=lambda item: -sum(item[1]))[:10]:
            print(f"  {sum(times):6.3f} {len(times):4d}  {shape}")
    print(f"outcome digest {digest}")
    results = Path(args.results)
    results.parent.mkdir(parents=True, exist_ok=True)
    with results.open("a") as out:
        out.write(json.dumps(result) + "\n")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
