"""The one pipeline every door ends in: `apply_event`.

Doors authenticate and normalise; everything that decides what an event does lives here:
dedup, incident state, the event log, and starting escalation after the commit."""

from __future__ import annotations

import hashlib
import json
import logging
import uuid
from dataclasses import dataclass, field, replace
from functools import cache

from django.db import IntegrityError, connection, transaction
from django.db.models import F
from django.utils import timezone

from escalation import dispatch
from incidents import actions, rows
from incidents.models import Alert, Event, Incident
from incidents.noise import flapping, grouping, maintenance, suppression
from integrations.formats.base import HEARTBEAT_DEDUP_KEY, NormalizedEvent
from integrations.models import IntegrationKey, NamedHeartbeat

logger = logging.getLogger("vigil.pipeline")

SUMMARY_MAX = 1024
DEDUP_KEY_MAX = 255
DEDUP_KEY_KEEP = 190
# A trigger loses the insert race only to another request's committed open alert, and finds
# no open alert on the re-read only if a resolve closed it in between: each retry means
# others made progress. Three attempts ran out under triggers racing resolves (T03).
DEDUP_RACE_ATTEMPTS = 10


@dataclass
class Outcome:
    outcome: str
    dedup_key: str
    incident_id: int | None
    event_id: int | None = None
    reason: str = ""
    suppressed_by: int | None = None  # the SuppressionRule id, for the event log
    # A new incident that pages: its escalation starts on commit (held ones wait for the window's end).
    starts_escalation: bool = field(default=False, repr=False)

    def as_dict(self) -> dict:
        return {"dedup_key": self.dedup_key, "incident_id": self.incident_id, "outcome": self.outcome}


def fit_dedup_key(dedup_key: str) -> str:
    """Over 255 characters: the first 190 + '~' + SHA-256 hex, so two long keys never merge
    and trigger, acknowledge and resolve all agree."""
    if len(dedup_key) <= DEDUP_KEY_MAX:
        return dedup_key
    return dedup_key[:DEDUP_KEY_KEEP] + "~" + hashlib.sha256(dedup_key.encode("utf-8")).hexdigest()


def apply_limits(event: NormalizedEvent) -> None:
    """Step 1 of `apply_event`; the rule tester runs it too, so it matches what ingest matches."""
    event.summary = event.summary[:SUMMARY_MAX]
    event.dedup_key = fit_dedup_key(event.dedup_key)


def raw_text(event: NormalizedEvent, body_text: str | None) -> str:
    if body_text is not None:
        return body_text
    return json.dumps(event.raw, ensure_ascii=False, default=str)


def apply_event(
    key: IntegrationKey,
    event: NormalizedEvent,
    *,
    format: str,
    client_ip: str | None = None,
    body_text: str | None = None,
    request_id: uuid.UUID | None = None,
    user_agent: str = "",
    flap: flapping.Flap | None | flapping.Unread = flapping.READ,
) -> Outcome:
    """Apply one normalised event and log it; committed before this returns (`apply_events`
    with one event)."""
    return apply_events(key, [event], format=format, client_ip=client_ip, body_text=body_text,
                        request_id=request_id, user_agent=user_agent, flaps=[flap])[0]


def apply_events(
    key: IntegrationKey,
    events: list[NormalizedEvent],
    *,
    format: str,
    client_ip: str | None = None,
    body_text: str | None = None,
    request_id: uuid.UUID | None = None,
    user_agent: str = "",
    flaps: list[flapping.Flap | None | flapping.Unread] | None = None,
) -> list[Outcome]:
    """Apply the normalised events of one request, in order, and log each; committed before
    this returns, in ONE transaction: all are stored or none is (a sender that sees an error
    sends them all again and finds nothing half-done), and a POST of 100 alerts pays one
    commit, not 100.

    Everything is decided before it is written; no step undoes what an earlier one wrote.
    1. Normalise the limits (summary length, over-long dedup keys); an event that names its
       incident by id (Opsgenie's identifierType=id) takes that incident's open alert.
    2. Flapping, read (trigger and resolve): would a state change now make the alert
       flapping? Redis is asked before the transaction, so no row lock waits on it; a
       caller that already asked (a door's preflight) passes the answers as `flaps`.
    In one transaction, event by event:
    3. Suppress (triggers only): a matching rule stops the trigger here; it is only logged.
    4. Lock the open alert of (key, dedup key) and decide: a repeat updates it; a new alert
       joins its group's open incident, or opens an incident, held when a maintenance
       window covers the key; acknowledge and resolve reach the alert's incident.
    5. Write that decision once: a new incident is created in its final state (held: no
       pending step; flapping: marked), with its timeline lines.
    6. Log the event: the pipeline is the only writer of the event log. (On PostgreSQL a
       trigger's line is written by the same statement as its decision.)
    7. On commit, escalation starts for a new incident that pages, and for nothing else.
    After the commit:
    8. Flapping, write: a state change goes into Redis (a hang costs at most one socket
       timeout, and no lock is held meanwhile)."""
    for event in events:  # 1
        apply_limits(event)
        if event.incident_ref is not None and event.action != "note":
            event.dedup_key = _open_dedup_key_of(key, event.incident_ref)
    # 2: callers (the doors, the heartbeat check) hold no transaction, so neither this nor
    # step 8 ever runs under a lock.
    limits = flapping.limits_of(key)  # the key's own limits, else the defaults; no query
    flaps = [
        flapping.check(key.pk, event.dedup_key, event.action, limits) if flap is flapping.READ else flap
        for event, flap in zip(events, flaps or [flapping.READ] * len(events), strict=True)
    ]
    log = LogLine(format=format, client_ip=client_ip, body_text=body_text, request_id=request_id,
                  user_agent=user_agent)
    outcomes = []
    with transaction.atomic():
        for event, flap in zip(events, flaps, strict=True):
            outcome = _apply(key, event, flap, log)  # 3, 4, 5 (and 6, for a trigger on PostgreSQL)
            if outcome.event_id is None:  # 6
                outcome.event_id = _log(key, event, outcome, log)
            outcomes.append(outcome)
        if any(outcome.starts_escalation for outcome in outcomes):  # 7: one kick fires them all
            dispatch.on_commit_kick_escalation()
    # 8: after the commit, so a change is counted only once it happened; a failure was
    # already met in step 2 and is skipped here during the back-off.
    changes = [(event.dedup_key, event.action) for event, outcome in zip(events, outcomes, strict=True)
               if flapping.is_state_change(event.action, outcome.outcome, outcome.incident_id)]
    if changes:
        flapping.record_changes(key.pk, changes, window_seconds=limits.window_seconds)
    return outcomes


@dataclass(frozen=True)
class LogLine:
    """What the event-log row of a request's event holds besides the event and its outcome."""

    format: str
    client_ip: str | None = None
    body_text: str | None = None
    request_id: uuid.UUID | None = None
    user_agent: str = ""


def _event_row(key: IntegrationKey, event: NormalizedEvent, outcome: Outcome, log: LogLine) -> Event:
    """The event-log row of `event` (not saved: a trigger writes it inside its own statement)."""
    return Event(
        integration_key=key,
        incident_id=outcome.incident_id,
        format=log.format,
        action=event.action if event.action in Event.Action.values else Event.Action.NONE,
        outcome=outcome.outcome,
        reason=_log_reason(event, outcome),
        dedup_key=event.dedup_key,
        summary=event.summary,
        severity=event.severity if event.action == "trigger" else "",
        original_severity=event.original_severity[:100],
        normalized=event.to_log(),
        raw=raw_text(event, log.body_text),
        client_ip=log.client_ip,
        user_agent=log.user_agent[:200],
        suppressed_by_id=outcome.suppressed_by,
        request_id=log.request_id,
    )


def _log_reason(event: NormalizedEvent, outcome: Outcome) -> str:
    return (outcome.reason or event.reason or "; ".join(event.errors))[:500]


def _log(key: IntegrationKey, event: NormalizedEvent, outcome: Outcome, log: LogLine) -> int:
    row = _event_row(key, event, outcome, log)
    if connection.vendor == "postgresql":
        return rows.insert_one(row)
    row.save(force_insert=True)
    return row.pk


def log_rejected(key: IntegrationKey, *, format: str, errors: list[str], raw: str, client_ip: str | None,
                 user_agent: str = "") -> int:
    """A request that passed authentication but failed validation still leaves a row, so
    the key's page can show why a sender's alerts are not arriving. Nothing else is written."""
    return Event.objects.create(
        integration_key=key,
        format=format,
        action=Event.Action.NONE,
        outcome=Event.Outcome.REJECTED,
        reason="; ".join(errors)[:500],
        raw=raw,
        client_ip=client_ip,
        user_agent=user_agent[:200],
    ).pk


def _open_dedup_key_of(key: IntegrationKey, incident_id: int) -> str:
    """The dedup key of the incident's first open alert of this key ('' when none): read
    without a lock; the alert row is locked, and checked still open, when it is acted on."""
    found = (
        Alert.objects.filter(integration_key=key, incident_id=incident_id, status=Alert.Status.OPEN)
        .order_by("pk")
        .values_list("dedup_key", flat=True)
        .first()
    )
    return found or ""


def _apply(key: IntegrationKey, event: NormalizedEvent, flap: flapping.Flap | None, log: LogLine) -> Outcome:
    if event.incident_ref is not None and event.action != "note" and not event.dedup_key:
        return Outcome(Event.Outcome.IGNORED, "", None, reason=f"no open alert of incident {event.incident_ref}")
    if event.action == "note":
        return _note(key, event)
    if event.action == "update":
        return _update(key, event)
    if event.action == "trigger":
        # Suppression acts on triggers only: an acknowledge or resolve always reaches its incident.
        suppressed = suppression.check(key, event)
        if suppressed is not None:
            return Outcome(Event.Outcome.SUPPRESSED, event.dedup_key, None, reason=suppressed.reason,
                           suppressed_by=suppressed.rule_id)
        return _trigger(key, event, flap, log)
    if event.action == "acknowledge":
        return _acknowledge(key, event)
    if event.action == "resolve":
        resolved = _resolve(key, event)
        if flap is not None and resolved.outcome == Event.Outcome.RESOLVED:
            resolved.reason = _joined(resolved.reason, flapping.mark_flapping(resolved.incident_id, flap))
        return resolved
    if event.action == "test":
        return Outcome(Event.Outcome.TEST, event.dedup_key, None, reason="test notification; nobody paged")
    if event.action == "heartbeat":
        return _heartbeat(key, event)
    if event.action == "invalid":
        return Outcome(Event.Outcome.REJECTED, event.dedup_key, None, reason="; ".join(event.errors))
    return Outcome(Event.Outcome.IGNORED, event.dedup_key, None, reason=event.reason)


_LATEST = Incident._meta.get_field("latest")


@cache
def _repeat_trigger_sql() -> str:
    """Count the open alert, touch its incident, log the event as a repeat (only when there
    was an open alert to count), and read the maintenance window a new incident would need."""
    log_line = rows.insert_select(Event, "event", source="touched", given=(("incident_id", "touched.id"),))
    return f"""
WITH counted AS (
    UPDATE {Alert._meta.db_table}
       SET count = count + 1, last_seen_at = %(now)s, last_trigger_at = %(now)s
     WHERE integration_key_id = %(key_id)s AND dedup_key = %(dedup_key)s AND status = %(open)s
 RETURNING incident_id
), touched AS (
    UPDATE {Incident._meta.db_table}
       SET alert_count = alert_count + 1, last_seen_at = %(now)s, latest = %(latest)s
     WHERE id IN (SELECT incident_id FROM counted)
 RETURNING id
), logged AS (
    {log_line}
 RETURNING id
)
SELECT (SELECT id FROM touched), (SELECT id FROM logged), w.id, w.reason, w."end"
  FROM (SELECT 1) AS one
  LEFT JOIN LATERAL ({maintenance.HOLD_SQL}) AS w ON true
"""


@cache
def _new_incident_sql() -> str:
    """The incident, its first alert and the event-log line in one statement. The alert
    yields to another request's open alert of the same dedup key (the partial unique index
    decides, as it did for the ORM's insert); then nothing is logged and the caller removes
    the incident row and re-reads."""
    incident = rows.insert_select(Incident, "incident")
    alert = rows.insert_select(Alert, "alert", source="incident", given=(("incident_id", "incident.id"),))
    # The event's row as the repeat probe had it, with this outcome and reason.
    log_line = rows.insert_select(Event, "event", source="alert", given=(
        ("incident_id", "alert.incident_id"), ("outcome", "%(outcome)s"), ("reason", "%(reason)s"),
    ))
    return f"""
WITH incident AS (
    {incident}
 RETURNING id
), alert AS (
    {alert}
    ON CONFLICT (integration_key_id, dedup_key) WHERE status = '{Alert.Status.OPEN}' DO NOTHING
 RETURNING incident_id
), logged AS (
    {log_line}
 RETURNING id
)
SELECT incident.id, (SELECT id FROM logged) FROM incident
"""


def _open_alert(key: IntegrationKey, dedup_key: str) -> Alert | None:
    return (
        Alert.objects.select_for_update()
        .filter(integration_key=key, dedup_key=dedup_key, status=Alert.Status.OPEN)
        .first()
    )


def _trigger(key: IntegrationKey, event: NormalizedEvent, flap: flapping.Flap | None, log: LogLine) -> Outcome:
    now = timezone.now()
    # The event-log row, as a repeat; a new alert's statement changes its outcome and reason.
    logged = None
    if connection.vendor == "postgresql":  # (the SQLite trial logs it with the ORM afterwards)
        logged = rows.record(_event_row(key, event, Outcome(Event.Outcome.UPDATED, event.dedup_key, None), log))
    for _attempt in range(DEDUP_RACE_ATTEMPTS):
        if event.dedupable:
            repeat = _repeat_trigger(key, event, now, logged)
            if repeat.incident_id is not None:
                return Outcome(Event.Outcome.UPDATED, event.dedup_key, repeat.incident_id, event_id=repeat.event_id)
            hold = repeat.hold
        else:
            hold = maintenance.hold_for(key, now)
        outcome = _new_alert(key, event, now, flap, hold, logged)
        if outcome is not None:
            return outcome
        # Another request's open alert of this dedup key committed first: count it instead.
        logger.info("dedup race on %s; re-reading the open alert", event.dedup_key[:40])
    raise RuntimeError(f"could not settle a dedup race in {DEDUP_RACE_ATTEMPTS} attempts")


@dataclass(frozen=True)
class _Repeat:
    incident_id: int | None  # None: no open alert of this dedup key
    event_id: int | None  # the event-log line, when the statement wrote it
    hold: maintenance.Hold | None  # the window that would hold a new incident now


def _repeat_trigger(key: IntegrationKey, event: NormalizedEvent, now, logged: str | None) -> _Repeat:
    """Same dedup key, alert still open: count it and keep the latest payload beside the
    first summary, and log the event; the incident's status and escalation are left as they
    are. Also reads the maintenance window that would hold a new incident of this key now
    (a new alert needs it next).

    One statement, where a lookup, two updates, the window check and the event-log insert
    were five round trips: the UPDATE locks the open alert's row itself (a concurrent resolve
    is waited for, and its `status` is re-checked after the wait, so a closed alert is never
    counted)."""
    if logged is None:
        return _repeat_trigger_portable(key, event, now)
    with connection.cursor() as cursor:
        cursor.execute(_repeat_trigger_sql(), {
            "dedup_key": event.dedup_key, "open": Alert.Status.OPEN,
            "latest": _LATEST.get_db_prep_save(event.to_log(), connection),
            **maintenance.hold_params(key, now),
            "event": logged,
        })
        incident_id, event_id, *window = cursor.fetchone()
    return _Repeat(incident_id, event_id, maintenance.hold_of(*window))


def _repeat_trigger_portable(key: IntegrationKey, event: NormalizedEvent, now) -> _Repeat:
    """`_repeat_trigger` in ORM statements, for the no-install trial on SQLite, which has no
    data-modifying CTE (`make run` without PostgreSQL); the same answers, more round trips
    (the event is logged by the caller)."""
    alert = _open_alert(key, event.dedup_key)
    if alert is None:
        return _Repeat(None, None, maintenance.hold_for(key, now))
    Alert.objects.filter(pk=alert.pk).update(count=F("count") + 1, last_seen_at=now, last_trigger_at=now)
    Incident.objects.filter(pk=alert.incident_id).update(
        alert_count=F("alert_count") + 1, last_seen_at=now, latest=event.to_log()
    )
    return _Repeat(alert.incident_id, None, None)


def _new_alert(key: IntegrationKey, event: NormalizedEvent, now, flap: flapping.Flap | None,
               hold: maintenance.Hold | None, logged: str | None) -> Outcome | None:
    """No open alert of this dedup key: decide where it goes (its group's open incident,
    else a new incident, held by `hold` or paging), then write that once. None: another
    request's open alert of this dedup key won the race (nothing of this attempt is kept)."""
    group = grouping.find_group(key, event, now)  # writes nothing; its locks last to the commit
    if group is not None and group.incident_id is not None:
        try:
            # The savepoint lets a lost race roll back just this insert; the partial unique
            # index, not Python, decides who created the open alert.
            with transaction.atomic():
                reason = grouping.join(key, group, event, now)
        except IntegrityError:
            return None
        if flap is not None:
            reason = _joined(reason, flapping.mark_flapping(group.incident_id, flap))
        # Joining pages nobody: the group's incident is already escalating (or held).
        return Outcome(Event.Outcome.GROUPED, event.dedup_key, group.incident_id, reason=reason)
    outcome = Outcome(
        Event.Outcome.CREATED, event.dedup_key, None, starts_escalation=hold is None,
        # Flapping: escalation still starts; the engine holds a flapping incident's pages.
        reason=_joined(hold.log_reason if hold is not None else "", flap.note if flap is not None else ""),
    )
    incident = _incident_row(
        key, event, now,
        group_key=group.bucket if group is not None else event.group_key,
        hold=hold, is_flapping=flap is not None,
    )
    alert = Alert.objects.for_event(incident_id=None, key=key, event=event, now=now)
    if not _insert_new_incident(incident, alert, outcome, event, logged):
        return None
    if hold is not None:
        maintenance.note_hold(incident, hold, now)
    if flap is not None:
        flapping.mark_flapping(incident.pk, flap, created_flapping=True)
    return outcome


def _insert_new_incident(incident: Incident, alert: Alert, outcome: Outcome, event: NormalizedEvent,
                         logged: str | None) -> bool:
    """Write the incident, its alert and (on PostgreSQL, with the event-log row `logged`)
    the event-log line, filling in `incident.pk`, `outcome.incident_id` and
    `outcome.event_id`. False when another open alert of the dedup key won the race; nothing
    of this attempt is left then."""
    if logged is None:
        try:
            with transaction.atomic():  # the no-install trial on SQLite: ORM inserts
                incident.save(force_insert=True)
                alert.incident = incident
                alert.save(force_insert=True)
        except IntegrityError:
            return False
        outcome.incident_id = incident.pk
        return True
    params = {
        "incident": rows.record(incident),
        "alert": rows.record(alert),
        "event": logged,
        "outcome": outcome.outcome,
        "reason": _log_reason(event, outcome),
    }
    with connection.cursor() as cursor:
        cursor.execute(_new_incident_sql(), params)
        incident_id, event_id = cursor.fetchone()
        if event_id is None:
            # The alert yielded: the incident row was written alone (no alert, no log line,
            # no timeline yet), so removing it leaves nothing of this attempt.
            cursor.execute(f"DELETE FROM {Incident._meta.db_table} WHERE id = %s", [incident_id])
            return False
    incident.pk = outcome.incident_id = incident_id
    outcome.event_id = event_id
    return True


def _joined(*reasons: str) -> str:
    return "; ".join(reason for reason in reasons if reason)


def _incident_row(key: IntegrationKey, event: NormalizedEvent, now, *, group_key: str,
                  hold: maintenance.Hold | None, is_flapping: bool) -> Incident:
    """A new incident in its final state, not saved yet."""
    return Incident(
        integration_key=key,
        team_id=key.team_id,
        status=Incident.Status.TRIGGERED,
        severity=event.severity,
        original_severity=event.original_severity[:100],
        dedup_key=event.dedup_key,
        summary=event.summary,
        source=event.source[:1024],
        component=event.component[:1024],
        group=event.group[:1024],
        event_class=event.event_class[:1024],
        labels=event.labels,
        details=event.details,
        links=event.links,
        images=event.images,
        runbook=event.runbook[:2048],
        entity=event.entity[:1024],
        group_key=group_key[:255],
        alert_count=1,
        first_seen_at=now,
        last_seen_at=now,
        escalation_policy_id=key.escalation_policy_id,
        # Step 0 is due now. It lives in the database, so a lost task costs one tick. Held by
        # a window: no pending step, so the tick never picks it up until the window releases it.
        next_escalation_at=now if hold is None else None,
        escalation_held_reason=hold.held_reason if hold is not None else "",
        is_flapping=is_flapping,
    )


def _acknowledge(key: IntegrationKey, event: NormalizedEvent) -> Outcome:
    alert = _open_alert(key, event.dedup_key)
    if alert is None:
        return Outcome(Event.Outcome.IGNORED, event.dedup_key, None, reason="no open alert")
    result = actions.do_acknowledge_incident(alert.incident_id, via="alert source")
    if not result.changed:
        return Outcome(Event.Outcome.IGNORED, event.dedup_key, alert.incident_id, reason=result.message)
    return Outcome(Event.Outcome.ACKNOWLEDGED, event.dedup_key, alert.incident_id)


def _note(key: IntegrationKey, event: NormalizedEvent) -> Outcome:
    """A note from the source on the alert's incident, open or not: the incident named by
    id, else the latest incident of this key's alert with that dedup key."""
    incidents = Incident.objects.filter(integration_key=key)
    if event.incident_ref is not None:
        incident_id = incidents.filter(pk=event.incident_ref).values_list("pk", flat=True).first()
    else:
        incident_id = (
            Alert.objects.filter(integration_key=key, dedup_key=event.dedup_key)
            .order_by("-pk").values_list("incident_id", flat=True).first()
        )
    if incident_id is None:
        return Outcome(Event.Outcome.IGNORED, event.dedup_key, None, reason="no such alert")
    actions.do_add_note(incident_id, by=None, text=f"Note from the alert source: {event.note}")
    return Outcome(Event.Outcome.UPDATED, event.dedup_key, incident_id, reason="note added")


def _update(key: IntegrationKey, event: NormalizedEvent) -> Outcome:
    """New text for the open alert (Opsgenie's message and description updates): kept in the
    incident's `latest`, beside the first summary, as a repeat trigger's payload is. Not a
    repeat: the count, status and escalation stay as they are."""
    alert = _open_alert(key, event.dedup_key)
    if alert is None:
        return Outcome(Event.Outcome.IGNORED, event.dedup_key, None, reason="no open alert")
    incident = Incident.objects.select_for_update().get(pk=alert.incident_id)
    latest = dict(incident.latest or {})
    if "summary" in event.updates:
        latest["summary"] = event.updates["summary"][:SUMMARY_MAX]
    if "description" in event.updates:
        details = latest.get("details", incident.details)
        latest["details"] = {**(details if isinstance(details, dict) else {}),
                             "description": event.updates["description"]}
    first = {"summary": incident.summary, "details": incident.details}
    shown, updated = {**first, **(incident.latest or {})}, {**first, **latest}
    if all(updated[name] == shown[name] for name in first):
        return Outcome(Event.Outcome.IGNORED, event.dedup_key, incident.pk, reason="unchanged")
    Incident.objects.filter(pk=incident.pk).update(latest=latest, last_seen_at=timezone.now())
    return Outcome(Event.Outcome.UPDATED, event.dedup_key, incident.pk, reason="alert text updated")


def _heartbeat(key: IntegrationKey, event: NormalizedEvent) -> Outcome:
    """A beat: remember when, and close the missed-heartbeat incident if one is open (the
    key's own, or one named heartbeat's: Opsgenie's pings)."""
    now = timezone.now()
    if event.heartbeat_name:
        NamedHeartbeat.objects.record_ping(key, event.heartbeat_name, now)
        dedup_key = event.dedup_key
    else:
        IntegrationKey.objects.filter(pk=key.pk).update(last_heartbeat_at=now)
        key.last_heartbeat_at = now
        dedup_key = HEARTBEAT_DEDUP_KEY
    closed = _resolve(key, replace(event, dedup_key=dedup_key), via="heartbeat")
    if closed.outcome == Event.Outcome.RESOLVED:
        return Outcome(Event.Outcome.RESOLVED, event.dedup_key, closed.incident_id, reason="heartbeat resumed")
    return Outcome(Event.Outcome.HEARTBEAT, event.dedup_key, None)


def _resolve(key: IntegrationKey, event: NormalizedEvent, via: str = "alert source") -> Outcome:
    alert = _open_alert(key, event.dedup_key)
    if alert is None:
        return Outcome(Event.Outcome.IGNORED, event.dedup_key, None, reason="no open alert")
    now = timezone.now()
    incident = Incident.objects.select_for_update().get(pk=alert.incident_id)
    Alert.objects.filter(pk=alert.pk).update(status=Alert.Status.RESOLVED, resolved_at=now, last_seen_at=now)
    still_open = incident.alerts.filter(status=Alert.Status.OPEN).count()
    if still_open:
        return Outcome(
            Event.Outcome.RESOLVED, event.dedup_key, incident.pk,
            reason=f"alert resolved; {still_open} other alert(s) of the incident still open",
        )
    if incident.status != Incident.Status.RESOLVED:
        actions.do_mark_resolved(incident, now=now, via=via)
    return Outcome(Event.Outcome.RESOLVED, event.dedup_key, incident.pk)
