"""The escalation engine: fire due steps, exactly once, in order, from the database.

State lives on the incident row: the policy snapshot (frozen at the first advance), the
index of the next step, the repeat counter and `next_escalation_at`. A step is fired with
the incident row locked (`SELECT ... FOR UPDATE SKIP LOCKED`), its status re-checked under
that lock, and the pointer moved in the same transaction as the Notification rows it
creates. The tick claims due incidents in batches (CLAIM_BATCH rows per claim, oldest due
first) and fires a batch's steps together, reading people, schedules and contact methods
in bulk (`escalation.targets`) and writing pages, timeline lines and pointers in bulk. The
kick the pipeline publishes after new incidents (`fire_due_now`) runs the same claim loop at
once; `advance_escalation` (escalate now, a maintenance window's end) fires a batch of one
through the same code. So:

- two ticks, kicks or tasks at once never fire one step twice: the second skips the locked
  row, and after the commit the step is no longer due;
- a worker killed mid-step rolls back, and the step is still due for the next tick;
- an acknowledgement that commits first means the step finds the incident not triggered;
- after downtime every overdue step fires once, in order (each step's time counts from the
  time the previous one was *due*, so the policy's cadence is kept, and the lateness is
  written to the timeline).

Every decision compares against the database clock (`clock.db_now`)."""

from __future__ import annotations

import json
import logging
import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.conf import settings
from django.core.cache import cache
from django.db import connection, transaction

from escalation import failpoints, notify
from escalation.clock import db_now
from escalation.fields import Sealed, seal
from escalation.models import (
    ContactMethod,
    EscalationPolicy,
    EscalationStep,
    EscalationTickState,
    Notification,
)
from escalation.targets import DeliveryPlans, OnCallMemo, StepPeople, Targets
from incidents import rows as model_rows
from incidents.models import Incident, TimelineEntry

logger = logging.getLogger("vigil.escalation")

# pg_try_advisory_xact_lock key shared by every tick ("vigl").
TICK_LOCK_KEY = 0x7669676C
TICK_STATE_NAME = "escalation"
# The last tick's duration, for /metrics (config/metrics.py); lost with Redis, harmlessly.
TICK_SECONDS_CACHE_KEY = "escalation:last_tick_seconds"
MAX_INCIDENTS_PER_TICK = 2000
# Due incidents claimed, fired and committed together: one transaction and a constant
# number of queries per batch (bench/escalation.py), short enough that an acknowledgement
# waiting for one of the rows waits well under a second.
CLAIM_BATCH = 200


def delay_unit_seconds() -> int:
    """How long one 'minute' of a policy or rule delay lasts: 60, except in the real-worker
    test, which shortens it so a policy runs in seconds."""
    return settings.ESCALATION_DELAY_UNIT_SECONDS


# --- the snapshot ------------------------------------------------------------------------


def snapshot_policy(policy) -> dict:
    """The policy as plain JSON: what the incident will follow, whatever happens to the
    policy afterwards. Targets are ids; schedules and teams are resolved when a step fires."""
    return snapshot_policies([policy])[policy.pk]


def snapshot_policies(policies: list[EscalationPolicy]) -> dict[int, dict]:
    """`snapshot_policy` of each policy, by id, in four queries however many there are."""
    unit = delay_unit_seconds()
    steps: dict[int, list[dict]] = {policy.pk: [] for policy in policies}
    # A step's users in the order they were added to it, said here: users have no default
    # ordering, so a join returns them as its plan does (one policy's steps and many
    # differ). Schedules and teams are ordered by name (their models' ordering).
    users: dict[int, list[int]] = {}
    for step_id, user_id in (EscalationStep.users.through.objects.filter(escalationstep__policy__in=policies)
                             .order_by("id").values_list("escalationstep_id", "user_id")):
        users.setdefault(step_id, []).append(user_id)
    for step in (EscalationStep.objects.filter(policy__in=policies)
                 .prefetch_related("schedules", "teams").order_by("policy_id", "order", "id")):
        steps[step.policy_id].append(
            {
                "step_id": step.pk,
                "delay_seconds": step.delay_minutes * unit,
                "user_ids": users.get(step.pk, []),
                "schedule_ids": [s.pk for s in step.schedules.all()],
                "team_ids": [t.pk for t in step.teams.all()],
            }
        )
    return {
        policy.pk: {
            "policy_id": policy.pk,
            "policy_name": policy.name,
            "repeat_count": policy.repeat_count,
            "repeat_delay_seconds": policy.repeat_delay_minutes * unit,
            "steps": steps[policy.pk],
        }
        for policy in policies
    }


def _start(incident: Incident, snapshot: dict | None, timeline: list[TimelineEntry]) -> None:
    """First advance: freeze the policy (`snapshot`, None when the policy is missing); step 0
    is due its delay after the trigger."""
    missing = snapshot is None
    if missing:
        snapshot = {"policy_id": None, "policy_name": "", "repeat_count": 0, "repeat_delay_seconds": 0, "steps": []}
    incident.escalation_snapshot = snapshot
    incident.escalation_step = 0
    incident.escalation_repeat = 0
    if not snapshot["steps"]:
        incident.next_escalation_at = None
        why = "is missing" if missing else "has no steps"
        timeline.append(_entry(
            incident,
            f"Nobody will be paged: the escalation policy {why}.",
            {"warning": "no_escalation_steps"},
        ))
        return
    incident.next_escalation_at += timedelta(seconds=snapshot["steps"][0]["delay_seconds"])


def _policy_snapshots(policy_ids: set[int], memo: dict[int, dict | None]) -> dict[int, dict | None]:
    """The snapshot of each policy, taken once per tick (one query for the policies and
    four for the steps of those frozen for the first time in this tick); None for a policy
    that is gone."""
    missing = [pk for pk in policy_ids if pk not in memo]
    if missing:
        snapshots = snapshot_policies(list(EscalationPolicy.objects.filter(pk__in=missing)))
        for pk in missing:
            memo[pk] = snapshots.get(pk)
    return memo


# --- who is paged, and the rows that page them ---------------------------------------------


def resolve_targets(step: dict, at: datetime) -> Targets:
    """The people of one step at `at`: users, whoever is on call for each schedule, and
    every member of each team; in that order, each person once."""
    return StepPeople([step], at).targets(step)


def delivery_plan(user, severity: str | None = None) -> list[tuple[ContactMethod, int]]:
    """(contact method, delay in minutes) pairs for paging `user` about an incident of
    `severity`: the user's rules for that urgency (critical/error: high, warning/info: low;
    a rule without an urgency applies to both). When no rule applies, every enabled method
    at once: a person is never left unpaged by a missing rule. Only verified methods page:
    a method added on the Profile page pages once its code was entered. `severity=None`
    (no incident) counts every rule."""
    return DeliveryPlans([user.pk]).plan(user.pk, severity)


class SealedAddresses(dict):
    """The encrypted copy of each contact method's address, made once for all the page rows
    of that method written together (`fields.Sealed`: a token per row was about 7% of a
    tick's CPU). Keyed by (method id, address): rows share a token only where they share
    the method and its address."""

    def __missing__(self, key: tuple[int, str]) -> Sealed:
        token = self[key] = seal(key[1])
        return token


def _page_rows(incident: Incident, users: list, plans: DeliveryPlans, addresses: SealedAddresses, *,
               step_index: int, repeat_index: int, now: datetime, notes: list[str]) -> list[Notification]:
    """Unsaved Notification rows, one per (user, contact method, rule delay), each with the
    unique dedupe key that makes a re-run of the same step a no-op. Their `address` holds
    its token (`addresses`), not the plain address."""
    unit = delay_unit_seconds()
    held = incident.is_flapping
    rows = []
    for user in users:
        plan = plans.plan(user.pk, incident.severity)
        if not plan:
            notes.append(f"{user.get_username()} has no enabled contact method (or none is verified)")
            continue
        for method, delay in plan:
            rows.append(Notification(
                dedupe_key=f"page:{incident.pk}:{step_index}:{repeat_index}:{user.pk}:{method.pk}:{delay}",
                incident_id=incident.pk,  # ids, not objects: only ids are written, and a tick builds thousands
                user_id=user.pk,
                contact_method_id=method.pk,
                kind=Notification.Kind.PAGE,
                status=Notification.Status.HELD if held else Notification.Status.PENDING,
                status_reason="held: the incident is flapping" if held else "",
                step_index=step_index,
                repeat_index=repeat_index,
                channel=method.kind,
                address=addresses[method.pk, method.address],
                due_at=now + timedelta(seconds=delay * unit),
            ))
    return rows


def _insert_pages(rows: list[Notification], now: datetime) -> list[Notification]:
    """Write the rows whose dedupe key is new (two queries for any number); the pending
    ones already due are written marked enqueued, for `_send_after_commit`. Returns the
    rows written, in order. Call with their incidents locked: nobody else writes their
    keys meanwhile (the unique key stays the last word)."""
    fresh = {row.dedupe_key: row for row in reversed(rows)}  # the first of a repeated key wins
    if not fresh:
        return []
    existing = _written_keys(list(fresh))
    new = [row for row in rows if fresh.get(row.dedupe_key) is row and row.dedupe_key not in existing]
    for row in new:
        if row.status == Notification.Status.PENDING and row.due_at <= now:
            row.enqueued_at = now
    return _insert(new)


def _written_keys(keys: list[str]) -> set[str]:
    """Those of these dedupe keys already written. On PostgreSQL one array parameter: the
    ORM's `__in` makes a parameter of each of a batch's thousand-odd keys, which Django
    and psycopg then handle one by one."""
    if connection.vendor != "postgresql":
        return set(Notification.objects.filter(dedupe_key__in=keys).values_list("dedupe_key", flat=True))
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT dedupe_key FROM {Notification._meta.db_table} WHERE dedupe_key = ANY(%s)", [keys])
        return {key for (key,) in cursor.fetchall()}


def _insert(objs: list) -> list:
    """INSERT the rows of one model, setting their ids: one statement with one parameter on
    PostgreSQL (`rows.insert_many`: the ORM's bulk_create spent a third of a tick's CPU
    preparing page rows), the ORM's bulk_create for the SQLite trial."""
    if not objs:
        return objs
    if connection.vendor != "postgresql":
        return type(objs[0]).objects.bulk_create(objs, batch_size=1000)
    model_rows.insert_many(objs)
    return objs


def _send_after_commit(created: list[Notification]) -> list[int]:
    """One send task per row written due (marked enqueued), once the transaction commits."""
    due = [row.pk for row in created if row.enqueued_at is not None]
    notify.send_on_commit(due)
    return due


def page_users(incident: Incident, users: list, *, step_index: int, repeat_index: int, now: datetime,
               notes: list[str]) -> list[Notification]:
    """Write the page rows of `users` for one step of a locked incident (those already
    written are skipped). Returns the rows written."""
    plans = DeliveryPlans(user.pk for user in users)
    rows = _page_rows(incident, users, plans, SealedAddresses(), step_index=step_index, repeat_index=repeat_index,
                      now=now, notes=notes)
    return _insert_pages(rows, now)


@dataclass
class Paged:
    notification_ids: list[int]
    user_ids: list[int]  # the people a new page was written for, in order


def stop_policy_escalation(incident: Incident, reason: str) -> int:
    """Stop the incident's policy: no further step is due, and the policy's pages written
    but not sent yet (a rule's later delay) are cancelled with `reason`. Pages outside the
    policy (a reassignment's) are left alone. Call with the incident row locked; the caller
    saves `next_escalation_at`. Returns how many pages were cancelled."""
    incident.next_escalation_at = None
    return Notification.objects.filter(
        incident=incident, kind=Notification.Kind.PAGE, status=Notification.Status.PENDING, step_index__gte=0,
    ).update(status=Notification.Status.CANCELLED, status_reason=reason[:200])


def page_now(incident: Incident, people: list, *, repeat_index: int, now: datetime, notes: list[str]) -> Paged:
    """Page `people` for this incident now, outside its policy (step -1), as a policy step
    would: their notification rules, the same Notification rows and retries; the rows due
    now are sent after the commit. Call with the incident row locked. `repeat_index` tells
    one such paging from the next (a later one pages the same person again)."""
    created = page_users(incident, people, step_index=-1, repeat_index=repeat_index, now=now, notes=notes)
    _send_after_commit(created)
    return Paged([n.pk for n in created], list(dict.fromkeys(n.user_id for n in created)))


# --- firing the due steps of a batch of incidents --------------------------------------------


def _describe_lateness(seconds: float) -> str:
    if seconds < max(5, settings.ESCALATION_TICK_SECONDS):
        return ""
    return f" ({int(seconds)} s late)"


def _entry(incident: Incident, message: str, data: dict) -> TimelineEntry:
    return TimelineEntry(incident=incident, kind=TimelineEntry.Kind.ESCALATION, message=message, data=data)


@dataclass
class _Firing:
    """One due step of one incident, taken before the pointer moved on."""

    incident: Incident
    index: int
    repeat: int
    due_at: datetime
    step: dict
    finished: bool  # the last step of the last repeat: escalation ends with it


def _due_firings(incident: Incident, now: datetime) -> tuple[int, list[_Firing]]:
    """Move the incident's pointer past every step due by `now`; returns how many steps
    that was and the firings to write. Each next time counts from when the step was due."""
    snapshot = incident.escalation_snapshot
    steps = snapshot["steps"]
    count, firings = 0, []
    # At least one pass: with no step left, the pointer is cleared.
    limit = max(1, len(steps) * (snapshot["repeat_count"] + 1))
    while incident.next_escalation_at is not None and incident.next_escalation_at <= now and count < limit:
        failpoints.hit("before_fire_step")
        count += 1
        index, repeat, due_at = incident.escalation_step, incident.escalation_repeat, incident.next_escalation_at
        if index >= len(steps):  # defensive: a pointer past the end means nothing is left
            incident.next_escalation_at = None
            continue
        finished = False
        if index + 1 < len(steps):
            incident.escalation_step = index + 1
            incident.next_escalation_at = due_at + timedelta(seconds=steps[index + 1]["delay_seconds"])
        elif repeat < snapshot["repeat_count"]:
            incident.escalation_step = 0
            incident.escalation_repeat = repeat + 1
            incident.next_escalation_at = due_at + timedelta(seconds=snapshot["repeat_delay_seconds"])
        else:
            incident.escalation_step = len(steps)
            incident.next_escalation_at = None
            finished = True
        firings.append(_Firing(incident, index, repeat, due_at, steps[index], finished))
    return count, firings


def _step_entry(firing: _Firing, targets: Targets, now: datetime) -> TimelineEntry:
    incident, index, repeat = firing.incident, firing.index, firing.repeat
    snapshot = incident.escalation_snapshot
    late = (now - firing.due_at).total_seconds()
    label = f"Escalation step {index + 1} of {len(snapshot['steps'])}"
    if repeat:
        label += f" (repeat {repeat} of {snapshot['repeat_count']})"
    names = ", ".join(u.get_username() for u in targets.users) or "nobody"
    held = " (held: flapping)" if incident.is_flapping and targets.users else ""
    message = f"{label}: paged {names}{held}{_describe_lateness(late)}"
    if targets.notes:
        message += "; " + "; ".join(targets.notes)
    return _entry(incident, message, {
        "step": index, "repeat": repeat, "user_ids": [u.pk for u in targets.users],
        "due_at": firing.due_at.isoformat(), "fired_at": now.isoformat(), "late_seconds": round(late, 1),
        "notes": targets.notes,
    })


@dataclass
class TickMemo:
    """Answers read once per tick and shared by its batches: each schedule's on-call at an
    instant, and each policy's snapshot (a policy edited during the tick is frozen as it
    was when the tick first needed it, a few seconds earlier at most)."""

    on_call: OnCallMemo = field(default_factory=dict)
    snapshots: dict[int, dict | None] = field(default_factory=dict)


def _save_pointers(incidents: list[Incident], frozen: set[int]) -> None:
    """One UPDATE for the batch's moved pointers, and the snapshots of the incidents in
    `frozen` (the others keep theirs). Joined to arrays of the new values: Django's
    bulk_update writes a CASE over every row per column, which costs more than firing."""
    if not incidents:
        return
    if connection.vendor != "postgresql":  # the no-install trial on SQLite: one UPDATE each
        for incident in incidents:
            values = {"escalation_step": incident.escalation_step, "escalation_repeat": incident.escalation_repeat,
                      "next_escalation_at": incident.next_escalation_at}
            if incident.pk in frozen:
                values["escalation_snapshot"] = incident.escalation_snapshot
            Incident.objects.filter(pk=incident.pk).update(**values)
        return
    with connection.cursor() as cursor:
        cursor.execute(
            f"""UPDATE {Incident._meta.db_table} AS incident
                SET escalation_step = new.step, escalation_repeat = new.repeat,
                    next_escalation_at = new.next_at,
                    escalation_snapshot = COALESCE(new.snapshot::jsonb, incident.escalation_snapshot)
                FROM unnest(%s::bigint[], %s::integer[], %s::integer[], %s::timestamptz[], %s::text[])
                    AS new (id, step, repeat, next_at, snapshot)
                WHERE incident.id = new.id""",
            [
                [i.pk for i in incidents],
                [i.escalation_step for i in incidents],
                [i.escalation_repeat for i in incidents],
                [i.next_escalation_at for i in incidents],
                [json.dumps(i.escalation_snapshot) if i.pk in frozen else None for i in incidents],
            ],
        )


def _advance_locked(incidents: list[Incident], now: datetime, memo: TickMemo) -> int:
    """Fire every due step of these locked incidents: the people of every step, their
    delivery plans, the page rows, the timeline lines and the incidents' new pointers are
    read and written in bulk, a constant number of queries for the whole batch. The pages
    due now are sent after the commit. Returns the number of steps fired."""
    active = [
        incident for incident in incidents
        if incident.status == Incident.Status.TRIGGERED
        and incident.next_escalation_at is not None
        and not incident.escalation_held_reason
    ]
    if not active:
        return 0
    timeline: list[TimelineEntry] = []
    starting = [incident for incident in active if incident.escalation_snapshot is None]
    snapshots = _policy_snapshots({i.escalation_policy_id for i in starting if i.escalation_policy_id}, memo.snapshots)
    for incident in starting:
        _start(incident, snapshots.get(incident.escalation_policy_id), timeline)
    changed = {incident.pk for incident in starting}
    fired, firings = 0, []
    for incident in active:
        count, due = _due_firings(incident, now)
        fired += count
        firings += due
        if count:
            changed.add(incident.pk)

    people = StepPeople((firing.step for firing in firings), now, memo.on_call)
    targets = [people.targets(firing.step) for firing in firings]
    plans = DeliveryPlans({user.pk for each in targets for user in each.users})
    addresses = SealedAddresses()
    rows: list[Notification] = []
    for firing, each in zip(firings, targets, strict=True):
        rows += _page_rows(firing.incident, each.users, plans, addresses, step_index=firing.index,
                           repeat_index=firing.repeat, now=now, notes=each.notes)
        timeline.append(_step_entry(firing, each, now))
        if firing.finished:
            timeline.append(_entry(firing.incident, "Escalation finished: every step fired and nobody acknowledged.",
                                   {"finished": True}))
    created = _insert_pages(rows, now)
    _insert(timeline)
    _save_pointers([i for i in active if i.pk in changed], frozen={i.pk for i in starting})
    _send_after_commit(created)
    failpoints.hit("after_fire_before_commit")
    return fired


def advance_escalation(incident_id: int, now: datetime | None = None) -> int:
    """Fire the due steps of one incident (the task escalate now and the end of a maintenance
    window enqueue; new incidents get a kick, `fire_due_now`). A locked row means another
    worker is on it: nothing to do here."""
    with transaction.atomic():
        incident = (
            Incident.objects.select_for_update(skip_locked=True).filter(pk=incident_id).first()
        )
        if incident is None:
            return 0
        return _advance_locked([incident], now or db_now(), TickMemo())


# --- the tick ----------------------------------------------------------------------------


@dataclass
class TickReport:
    incidents: int = 0
    steps: int = 0
    notifications_enqueued: int = 0
    errors: int = 0
    lock_busy: bool = False
    cut_short: bool = False  # stopped at MAX_INCIDENTS_PER_TICK or the time budget, due rows left
    seconds: float = 0.0


def due_incidents(now: datetime):
    return Incident.objects.filter(
        status=Incident.Status.TRIGGERED,
        next_escalation_at__lte=now,
        escalation_held_reason="",
    ).order_by("next_escalation_at", "pk")


def claim_due_incidents_query(now: datetime, *, exclude: list[int], limit: int):
    """The next `limit` due incidents, oldest due first, row-locked; rows another tick or
    task holds are skipped, not waited for. Walks the partial index `incident_escalation_due`
    (next_escalation_at, id) in order and stops after `limit` rows."""
    return due_incidents(now).exclude(pk__in=exclude).select_for_update(skip_locked=True)[:limit]


def _tick_lock() -> bool:
    """Transaction-scoped: released by the commit of each batch. Two ticks (two beat
    processes, or a slow tick and the next) interleave at most one batch at a time, and the
    row locks plus the re-check make even that harmless."""
    if connection.vendor != "postgresql":
        return True
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_try_advisory_xact_lock(%s)", [TICK_LOCK_KEY])
        return bool(cursor.fetchone()[0])


def _advance_claimed(batch: list[Incident], now: datetime, memo: TickMemo, report: TickReport) -> None:
    """Fire a claimed batch in a savepoint. If it fails, fire its incidents one by one
    (re-read: the failed attempt changed them in memory), so one broken incident cannot
    stop the others."""
    try:
        with transaction.atomic():
            report.steps += _advance_locked(batch, now, memo)
        report.incidents += len(batch)
        return
    except Exception:
        if len(batch) == 1:
            report.errors += 1
            logger.exception("escalation of incident %s failed; the next tick retries", batch[0].pk)
            return
        logger.exception("escalation of a batch of %s incidents failed; firing them one by one", len(batch))
    for incident in due_incidents(now).filter(pk__in=[i.pk for i in batch]):
        try:
            with transaction.atomic():
                report.steps += _advance_locked([incident], now, memo)
            report.incidents += 1
        except Exception:
            report.errors += 1
            logger.exception("escalation of incident %s failed; the next tick retries", incident.pk)


def _claim_and_fire(report: TickReport, now: datetime | None, *, started: float, tick_lock: bool) -> None:
    """The claim loop shared by the beat tick and the kick: claim up to CLAIM_BATCH due
    incidents, oldest due first, fire them and commit, one short transaction a batch, until
    none is due, MAX_INCIDENTS_PER_TICK were claimed or the time budget is spent (then
    `report.cut_short`: due rows are left for the next tick or kick).

    `tick_lock`: take the ticks' advisory lock for each batch and stop when another tick
    holds it (two beat processes). The kick does not take it: a kick that gave up because a
    tick was between its last claim and its commit would leave the incident that kicked it to
    the next beat tick. The row locks (`SKIP LOCKED`) and the re-check of each claimed row
    under its lock are what fire every step exactly once, with or without the advisory lock."""
    budget = max(5.0, settings.ESCALATION_TICK_SECONDS * 0.9)
    done: list[int] = []
    memo = TickMemo()
    while True:
        if len(done) >= MAX_INCIDENTS_PER_TICK or time.monotonic() - started >= budget:
            report.cut_short = True
            return
        with transaction.atomic():
            if tick_lock and not _tick_lock():
                report.lock_busy = True
                logger.warning("another escalation tick holds the lock; this one stops here")
                return
            failpoints.hit("tick_before_claim")
            clock = now or db_now()
            limit = min(CLAIM_BATCH, MAX_INCIDENTS_PER_TICK - len(done))
            batch = list(claim_due_incidents_query(clock, exclude=done, limit=limit))
            if not batch:
                return
            done += [incident.pk for incident in batch]
            _advance_claimed(batch, clock, memo, report)


def run_escalation_tick(now: datetime | None = None) -> TickReport:
    """One beat tick: re-send notifications whose task was lost, then claim due incidents in
    batches of CLAIM_BATCH, one short transaction each, and fire their due steps."""
    started = time.monotonic()
    report = TickReport()
    report.notifications_enqueued = notify.enqueue_due_notifications(now)
    _claim_and_fire(report, now, started=started, tick_lock=True)
    if not report.lock_busy:
        EscalationTickState.objects.update_or_create(
            name=TICK_STATE_NAME, defaults={"last_tick_at": now or db_now()}
        )
    report.seconds = round(time.monotonic() - started, 3)
    if not report.lock_busy:
        cache.set(TICK_SECONDS_CACHE_KEY, report.seconds, timeout=None)  # fails quietly (django-redis)
    if report.steps or report.errors or report.notifications_enqueued:
        logger.info("escalation tick: %s", report)
    return report


def fire_due_now(now: datetime | None = None) -> TickReport:
    """The kick (`escalation.tasks.kick_escalation_task`, published after the commit of new
    paging incidents): fire every step due now, with the tick's claim loop, at once instead
    of at the next beat tick. Not a tick: it re-sends no lost notification, takes no advisory
    lock and leaves the tick's health record alone. Runs beside ticks and other kicks; each
    step still fires exactly once (the row locks, `_claim_and_fire`). A lost kick costs at
    most the pending flag's life (`dispatch.KICK_FLAG_TTL_MS`, 5 s: the next new incident
    after it publishes a kick) plus, at worst, one beat tick."""
    started = time.monotonic()
    report = TickReport()
    _claim_and_fire(report, now, started=started, tick_lock=False)
    report.seconds = round(time.monotonic() - started, 3)
    if report.steps or report.errors:
        logger.info("escalation kick: %s", report)
    return report
