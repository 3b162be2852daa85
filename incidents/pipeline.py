"""The one pipeline every door ends in: `apply_event`.

Doors authenticate and normalise; everything that decides what an event does lives here:
dedup, incident state, the event log, and starting escalation after the commit."""

from __future__ import annotations

import hashlib
import json
import logging
import uuid
from dataclasses import dataclass, field, replace

from django.db import IntegrityError, connection, transaction
from django.db.models import F
from django.utils import timezone

from escalation import dispatch
from incidents import actions
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
    """Apply one normalised event and log it; committed before this returns.

    Everything is decided before it is written; no step undoes what an earlier one wrote.
    1. Normalise the limits (summary length, over-long dedup keys); an event that names its
       incident by id (Opsgenie's identifierType=id) takes that incident's open alert.
    2. Flapping, read (trigger and resolve): would a state change now make the alert
       flapping? Redis is asked before the transaction, so no row lock waits on it; a
       caller that already asked (a door's preflight) passes the answer as `flap`.
    In one transaction:
    3. Suppress (triggers only): a matching rule stops the trigger here; it is only logged.
    4. Lock the open alert of (key, dedup key) and decide: a repeat updates it; a new alert
       joins its group's open incident, or opens an incident, held when a maintenance
       window covers the key; acknowledge and resolve reach the alert's incident.
    5. Write that decision once: a new incident is created in its final state (held: no
       pending step; flapping: marked), with its timeline lines.
    6. Log the event: the pipeline is the only writer of the event log.
    7. On commit, escalation starts for a new incident that pages, and for nothing else.
    After the commit:
    8. Flapping, write: a state change goes into Redis (a hang costs at most one socket
       timeout, and no lock is held meanwhile)."""
    apply_limits(event)  # 1
    if event.incident_ref is not None and event.action != "note":
        event.dedup_key = _open_dedup_key_of(key, event.incident_ref)
    # 2: callers (the doors, the heartbeat check) hold no transaction, so neither this nor
    # step 8 ever runs under a lock.
    limits = flapping.limits_of(key)  # the key's own limits, else the defaults; no query
    if flap is flapping.READ:
        flap = flapping.check(key.pk, event.dedup_key, event.action, limits)
    with transaction.atomic():
        outcome = _apply(key, event, flap)  # 3, 4, 5
        outcome.event_id = _log(key, event, outcome, format=format, client_ip=client_ip,  # 6
                                body_text=body_text, request_id=request_id, user_agent=user_agent)
        if outcome.starts_escalation:  # 7
            dispatch.on_commit_advance_escalation(outcome.incident_id)
    # 8: after the commit, so the change is counted only once it happened; a failure was
    # already met in step 2 and is skipped here during the back-off.
    if flapping.is_state_change(event.action, outcome.outcome, outcome.incident_id):
        flapping.record_change(key.pk, event.dedup_key, event.action, window_seconds=limits.window_seconds)
    return outcome


def _log(key: IntegrationKey, event: NormalizedEvent, outcome: Outcome, *, format: str,
         client_ip: str | None, body_text: str | None, request_id: uuid.UUID | None,
         user_agent: str = "") -> int:
    return Event.objects.create(
        integration_key=key,
        incident_id=outcome.incident_id,
        format=format,
        action=event.action if event.action in Event.Action.values else Event.Action.NONE,
        outcome=outcome.outcome,
        reason=(outcome.reason or event.reason or "; ".join(event.errors))[:500],
        dedup_key=event.dedup_key,
        summary=event.summary,
        severity=event.severity if event.action == "trigger" else "",
        original_severity=event.original_severity[:100],
        normalized=event.to_log(),
        raw=raw_text(event, body_text),
        client_ip=client_ip,
        user_agent=user_agent[:200],
        suppressed_by_id=outcome.suppressed_by,
        request_id=request_id,
    ).pk


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


def _apply(key: IntegrationKey, event: NormalizedEvent, flap: flapping.Flap | None) -> Outcome:
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
        return _trigger(key, event, flap)
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
REPEAT_TRIGGER_SQL = f"""
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
)
SELECT (SELECT id FROM touched), w.id, w.reason, w."end"
  FROM (SELECT 1) AS one
  LEFT JOIN LATERAL ({maintenance.HOLD_SQL}) AS w ON true
"""


def _open_alert(key: IntegrationKey, dedup_key: str) -> Alert | None:
    return (
        Alert.objects.select_for_update()
        .filter(integration_key=key, dedup_key=dedup_key, status=Alert.Status.OPEN)
        .first()
    )


def _trigger(key: IntegrationKey, event: NormalizedEvent, flap: flapping.Flap | None) -> Outcome:
    now = timezone.now()
    for _attempt in range(DEDUP_RACE_ATTEMPTS):
        if event.dedupable:
            incident_id, hold = _repeat_trigger(key, event, now)
            if incident_id is not None:
                return Outcome(Event.Outcome.UPDATED, event.dedup_key, incident_id)
        else:
            hold = maintenance.hold_for(key, now)
        try:
            # The savepoint lets a lost race roll back just this insert; the partial unique
            # index, not Python, decides who created the open alert.
            with transaction.atomic():
                return _new_alert(key, event, now, flap, hold)
        except IntegrityError:
            logger.info("dedup race on %s; re-reading the open alert", event.dedup_key[:40])
            continue
    raise RuntimeError(f"could not settle a dedup race in {DEDUP_RACE_ATTEMPTS} attempts")


def _repeat_trigger(key: IntegrationKey, event: NormalizedEvent, now) -> tuple[int | None, maintenance.Hold | None]:
    """Same dedup key, alert still open: count it and keep the latest payload beside the
    first summary; return its incident's id, or None when no alert of this dedup key is open.
    The incident's status and escalation are left as they are. Also returns the maintenance
    window that would hold a new incident of this key now (read in the same round trip: a
    new alert needs it next).

    One statement, where a lookup, two updates and the window check were four round trips:
    the UPDATE locks the open alert's row itself (a concurrent resolve is waited for, and its
    `status` is re-checked after the wait, so a closed alert is never counted)."""
    if connection.vendor != "postgresql":
        return _repeat_trigger_portable(key, event, now)
    with connection.cursor() as cursor:
        cursor.execute(REPEAT_TRIGGER_SQL, {
            "dedup_key": event.dedup_key, "open": Alert.Status.OPEN,
            "latest": _LATEST.get_db_prep_save(event.to_log(), connection),
            **maintenance.hold_params(key, now),
        })
        incident_id, *window = cursor.fetchone()
    return incident_id, maintenance.hold_of(*window)


def _repeat_trigger_portable(key: IntegrationKey, event: NormalizedEvent,
                             now) -> tuple[int | None, maintenance.Hold | None]:
    """`_repeat_trigger` in ORM statements, for the no-install trial on SQLite, which has no
    data-modifying CTE (`make run` without PostgreSQL); the same answers, more round trips."""
    alert = _open_alert(key, event.dedup_key)
    if alert is None:
        return None, maintenance.hold_for(key, now)
    Alert.objects.filter(pk=alert.pk).update(count=F("count") + 1, last_seen_at=now, last_trigger_at=now)
    Incident.objects.filter(pk=alert.incident_id).update(
        alert_count=F("alert_count") + 1, last_seen_at=now, latest=event.to_log()
    )
    return alert.incident_id, None


def _new_alert(key: IntegrationKey, event: NormalizedEvent, now, flap: flapping.Flap | None,
               hold: maintenance.Hold | None) -> Outcome:
    """No open alert of this dedup key (inside the caller's savepoint): decide where it goes
    (its group's open incident, else a new incident, held by `hold` or paging), then write
    that once."""
    group = grouping.find_group(key, event, now)
    if group is not None and group.incident_id is not None:
        reason = grouping.join(key, group, event, now)
        if flap is not None:
            reason = _joined(reason, flapping.mark_flapping(group.incident_id, flap))
        # Joining pages nobody: the group's incident is already escalating (or held).
        return Outcome(Event.Outcome.GROUPED, event.dedup_key, group.incident_id, reason=reason)
    incident = _create_incident(
        key, event, now,
        group_key=group.bucket if group is not None else event.group_key,
        hold=hold, is_flapping=flap is not None,
    )
    reason = ""
    if hold is not None:
        maintenance.note_hold(incident, hold, now)
        reason = hold.log_reason
    if flap is not None:
        # Escalation still starts: the engine holds a flapping incident's pages.
        reason = _joined(reason, flapping.mark_flapping(incident.pk, flap, created_flapping=True))
    return Outcome(Event.Outcome.CREATED, event.dedup_key, incident.pk, reason=reason,
                   starts_escalation=hold is None)


def _joined(*reasons: str) -> str:
    return "; ".join(reason for reason in reasons if reason)


def _create_incident(key: IntegrationKey, event: NormalizedEvent, now, *, group_key: str,
                     hold: maintenance.Hold | None, is_flapping: bool) -> Incident:
    incident = Incident.objects.create(
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
    Alert.objects.open_for_event(incident_id=incident.pk, key=key, event=event, now=now)
    return incident


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
