"""A retention history written by SQL (`INSERT ... SELECT generate_series`), shared by the
retention tests and bench/retention.py: N incidents resolved 100 days ago, each with 1
alert, 3 events (pointing at the alert), 3 timeline entries and 1 notification; beside them
the rows the cleanup must keep (incidents resolved 10 days ago, old triggered and
acknowledged ones, each with the same children, dedup keys `kept-<status>-<n>`) and N/10
old stray events, N/100 old change events. Old doomed incidents' dedup keys are `old-<n>`.

Only for a database of tests or benchmarks: these rows bypass the pipeline on purpose, to
write a million incidents in a minute."""

from __future__ import annotations

from collections.abc import Callable

from escalation.fields import encrypt

# One incident and its children, written by SQL for every row of generate_series. `%(…)s`
# are psycopg parameters; {where} picks the incidents a child statement hangs rows on.
INSERT_INCIDENTS = """
INSERT INTO incidents_incident (
    status, severity, original_severity, dedup_key, summary, source, component, "group", event_class,
    labels, links, images, runbook, entity, latest, alert_count, first_seen_at, last_seen_at,
    acknowledged_via, resolved_via, escalation_step, escalation_repeat, escalation_held_reason,
    is_flapping, group_key, created_at, resolved_at, acknowledged_at, integration_key_id)
SELECT %(status)s::varchar, 'critical', 'critical', %(prefix)s::varchar || g, 'Disk usage > 90%% on host-' || g, 'bench', 'disk',
    'storage', 'disk', '{"env": "prod", "team": "storage"}', '[]', '[]', '', '',
    '{"summary": "Disk usage > 90%%"}', 1, t, t + interval '20 minutes', '', 'alert source', 1, 0, '',
    false, '', t, CASE WHEN %(status)s::varchar = 'resolved' THEN t + interval '20 minutes' END,
    CASE WHEN %(status)s::varchar <> 'triggered' THEN t + interval '5 minutes' END, %(key_id)s
FROM generate_series(1, %(count)s) AS g,
     LATERAL (SELECT now() - make_interval(days => %(days)s) - make_interval(secs => g) AS t) AS ts
"""
INSERT_ALERTS = """
INSERT INTO incidents_alert (incident_id, integration_key_id, dedup_key, status, summary, severity, labels,
    count, first_seen_at, last_seen_at, last_trigger_at, resolved_at)
SELECT i.id, i.integration_key_id, i.dedup_key, CASE WHEN i.status = 'resolved' THEN 'resolved' ELSE 'open' END,
    i.summary, 'critical', i.labels, 3, i.first_seen_at, i.last_seen_at, i.last_seen_at, i.resolved_at
FROM incidents_incident i
"""
INSERT_EVENTS = """
INSERT INTO incidents_event (integration_key_id, incident_id, alert_id, format, action, outcome, reason,
    dedup_key, summary, severity, original_severity, normalized, raw, client_ip, user_agent, received_at)
SELECT a.integration_key_id, a.incident_id, a.id, 'events_v2', 'trigger', CASE WHEN n = 1 THEN 'created' ELSE 'updated' END,
    '', a.dedup_key, a.summary, 'critical', 'critical',
    jsonb_build_object('summary', a.summary, 'severity', 'critical', 'source', 'bench', 'dedup_key', a.dedup_key),
    '{"routing_key": "R0UTINGKEY", "event_action": "trigger", "dedup_key": "' || a.dedup_key
        || '", "payload": {"summary": "' || a.summary || '", "severity": "critical", "source": "bench", '
        || '"custom_details": {"used": "93%%", "mount": "/var", "free_bytes": 1048576}}}',
    '10.0.0.7', 'Go-http-client/1.1', a.first_seen_at + make_interval(mins => n)
FROM incidents_alert a, generate_series(1, 3) AS n
"""
INSERT_TIMELINE = """
INSERT INTO incidents_timelineentry (incident_id, kind, message, data, created_at)
SELECT i.id, k.kind, k.message, '{}', i.first_seen_at + make_interval(mins => k.n)
FROM incidents_incident i,
     (VALUES (1, 'created', 'Incident created by events_v2'), (2, 'notification', 'Paged Alice by email'),
             (3, 'resolved', 'Resolved by alert source')) AS k(n, kind, message)
"""
INSERT_NOTIFICATIONS = """
INSERT INTO escalation_notification (incident_id, kind, status, step_index, repeat_index, channel, address,
    dedupe_key, attempts, last_error, status_reason, due_at, created_at, sent_at)
SELECT i.id, 'page', 'sent', 0, 0, 'email', %(address)s, 'bench:' || i.id || ':0:0:alice:email:page',
    1, '', '', i.first_seen_at, i.first_seen_at, i.first_seen_at + interval '2 seconds'
FROM incidents_incident i
"""
INSERT_STRAY_EVENTS = """
INSERT INTO incidents_event (integration_key_id, format, action, outcome, reason, dedup_key, summary, severity,
    original_severity, normalized, raw, user_agent, received_at)
SELECT %(key_id)s, 'events_v2', 'resolve', 'ignored', 'no open alert', 'stray-' || g, '', '', '', '{}',
    '{"routing_key": "R0UTINGKEY", "event_action": "resolve", "dedup_key": "stray-' || g || '"}', '',
    now() - interval '100 days' - make_interval(secs => g)
FROM generate_series(1, %(count)s) AS g
"""
INSERT_CHANGES = """
INSERT INTO incidents_changeevent (integration_key_id, summary, source, links, raw, received_at)
SELECT %(key_id)s, 'deploy ' || g, 'ci', '[]', '{}', now() - interval '100 days' - make_interval(secs => g)
FROM generate_series(1, %(count)s) AS g
"""
# What must be left: (status, days ago, share of N), each with the same children.
KEPT = (("resolved", 10, 0.01), ("triggered", 400, 0.001), ("acknowledged", 400, 0.001))


def history_steps(incidents: int, key_id: int) -> list[tuple[str, str, dict]]:
    """(label, SQL, parameters) in the order they must run; the kept incidents go in before
    their children are written, so they get the same children."""
    steps = [("incidents", INSERT_INCIDENTS, {"status": "resolved", "prefix": "old-", "count": incidents,
                                              "days": 100, "key_id": key_id})]
    for status, days, share in KEPT:
        steps.append((f"kept {status}", INSERT_INCIDENTS, {"status": status, "prefix": f"kept-{status}-",
                                                           "days": days, "count": kept_count(incidents, share),
                                                           "key_id": key_id}))
    steps += [
        ("alerts", INSERT_ALERTS, {}),
        ("events", INSERT_EVENTS, {}),
        ("timeline", INSERT_TIMELINE, {}),
        # A page's address is stored encrypted (escalation.fields): one ciphertext serves all.
        ("notifications", INSERT_NOTIFICATIONS, {"address": encrypt("alice@example.com")}),
        ("stray events", INSERT_STRAY_EVENTS, {"count": max(1, incidents // 10), "key_id": key_id}),
        ("change events", INSERT_CHANGES, {"count": max(1, incidents // 100), "key_id": key_id}),
    ]
    return steps


def kept_count(incidents: int, share: float) -> int:
    return max(1, int(incidents * share))


def kept_incidents(incidents: int) -> int:
    return sum(kept_count(incidents, share) for _, _, share in KEPT)


def write_history(execute: Callable[[str, dict], object], incidents: int, key_id: int) -> None:
    """Run every step with `execute(sql, params)` (a cursor's execute)."""
    for _label, sql, params in history_steps(incidents, key_id):
        execute(sql, params)
