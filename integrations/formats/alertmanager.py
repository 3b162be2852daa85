"""Prometheus Alertmanager's webhook (payload version 4), natively: no adapter service.

Each entry of `alerts[]` is one event, so one bad alert never fails the batch: it becomes
an `invalid` event with its own errors and the others still apply. Grafana's webhook
contact point sends the same envelope with a few more fields; `grafana.py` reuses
`parse_notification` with its own per-alert extras.

With the key option `group_by_alertmanager_group_key`, the whole notification is one event
whose dedup key is Alertmanager's `groupKey`: one incident per group, resolved when the
group is."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from integrations.formats import severity
from integrations.formats.base import (
    FormatError,
    NormalizedEvent,
    fingerprint,
    key_text,
    lenient_severity,
    link,
    string_map,
    text,
)
from integrations.formats.spec import DoorPath, DoorSpec, Snippet, batch_processed, bearer, path_key

WATCHDOG_ALERTNAMES = ("Watchdog", "DeadMansSwitch")
STATUSES = {"firing": "trigger", "resolved": "resolve"}
SEVERITY_RANK = {"critical": 0, "error": 1, "warning": 2, "info": 3}
# Fields of an alert this format reads; any other field is kept in the details.
ALERT_FIELDS = {"status", "labels", "annotations", "startsAt", "endsAt", "generatorURL", "fingerprint"}

#: Extra per-alert reading for a flavour of the envelope: (alert, event) -> None.
Enrich = Callable[[dict, NormalizedEvent], None]


@dataclass
class Notification:
    """The envelope fields every alert of one notification shares."""

    status: str
    group_key: str
    receiver: str
    external_url: str
    common_labels: dict
    group_labels: dict
    common_annotations: dict
    truncated: int
    extra: dict = field(default_factory=dict)

    @classmethod
    def from_body(cls, body: dict, envelope_fields: Iterable[str] = ()) -> Notification:
        truncated = body.get("truncatedAlerts")
        return cls(
            status=text(body.get("status")).strip().lower(),
            group_key=text(body.get("groupKey")),
            receiver=text(body.get("receiver")),
            external_url=text(body.get("externalURL")).strip(),
            common_labels=string_map(body.get("commonLabels")),
            group_labels=string_map(body.get("groupLabels")),
            common_annotations=string_map(body.get("commonAnnotations")),
            truncated=truncated if isinstance(truncated, int) and not isinstance(truncated, bool) else 0,
            extra={name: body[name] for name in envelope_fields if name in body},
        )

    def shared_details(self) -> dict:
        details = {
            "receiver": self.receiver,
            "groupKey": self.group_key,
            "commonLabels": self.common_labels,
            "groupLabels": self.group_labels,
            "externalURL": self.external_url,
            "truncatedAlerts": self.truncated,
        }
        details.update(self.extra)
        return details

    @property
    def truncated_reason(self) -> str:
        if not self.truncated:
            return ""
        return f"the sender left {self.truncated} alert(s) out of this notification (truncatedAlerts)"


def summary_of(annotations: dict, labels: dict) -> str:
    return (
        text(annotations.get("summary")).strip()
        or text(annotations.get("description")).strip()
        or labels.get("alertname", "").strip()
        or "(no summary)"
    )


def _invalid(index: int, errors: list[str], alert: Any, dedup_key: str = "") -> NormalizedEvent:
    return NormalizedEvent(
        action="invalid",
        dedup_key=dedup_key,
        errors=[f"alerts[{index}]: {e}" for e in errors],
        raw=alert,
    )


def alert_event(
    alert: Any,
    index: int,
    notification: Notification,
    *,
    watchdogs: set[str],
    test_alertnames: set[str],
    default_source: str,
    enrich: Enrich | None,
) -> NormalizedEvent:
    """One alert of the batch as one event (never raises: a bad alert is `invalid`)."""
    if not isinstance(alert, dict):
        return _invalid(index, ["is not an object"], alert)
    errors: list[str] = []
    raw_labels = alert.get("labels")
    if raw_labels is not None and not isinstance(raw_labels, dict):
        errors.append("'labels' must be an object")
    labels = string_map(raw_labels)
    annotations = alert.get("annotations") if isinstance(alert.get("annotations"), dict) else {}
    status = text(alert.get("status") or notification.status).strip().lower()
    action = STATUSES.get(status)
    if action is None:
        errors.append(f"'status' {status[:30]!r} is not firing or resolved")
    alert_fingerprint = key_text(alert.get("fingerprint"))
    if alert_fingerprint is None:
        errors.append("'fingerprint' must be a string")
    # Without a fingerprint, the same label set is the same alert, as in Alertmanager.
    dedup_key = alert_fingerprint or fingerprint(labels)
    if errors:
        return _invalid(index, errors, alert, dedup_key)

    alertname = labels.get("alertname", "")
    summary = summary_of(annotations, labels)
    if alertname in test_alertnames:
        return NormalizedEvent(action="test", dedup_key=dedup_key, summary=summary, labels=labels, raw=alert)
    if alertname in watchdogs:
        # An always-firing watchdog is a heartbeat, not an incident; its end means nothing new.
        return NormalizedEvent(
            action="heartbeat" if action == "trigger" else "ignore",
            dedup_key=dedup_key,
            summary=summary,
            labels=labels,
            reason="" if action == "trigger" else "a watchdog alert resolved; the heartbeat check decides",
            raw=alert,
        )

    links = []
    generator = link(alert.get("generatorURL"), "Source")
    if generator:
        links.append(generator)
    details = {
        "annotations": annotations,
        "startsAt": alert.get("startsAt"),
        "endsAt": alert.get("endsAt"),
        **notification.shared_details(),
        **{name: value for name, value in alert.items() if name not in ALERT_FIELDS},
    }
    raw_severity = labels.get("severity", "")
    event = NormalizedEvent(
        action=action,
        dedup_key=dedup_key,
        summary=summary,
        severity=lenient_severity(raw_severity or None, severity.ALERTMANAGER),
        original_severity=raw_severity,
        source=labels.get("instance") or labels.get("job") or default_source,
        event_class=alertname,
        labels=labels,
        details=details,
        links=links,
        runbook=text(annotations.get("runbook_url")).strip(),
        group_key=notification.group_key,
        reason=notification.truncated_reason,
        raw=alert,
    )
    if enrich is not None:
        enrich(alert, event)
    external = link(notification.external_url, "Alertmanager" if default_source == "alertmanager" else "Grafana")
    if external and external not in event.links:
        event.links.append(external)
    return event


def group_event(body: dict, notification: Notification, members: list[NormalizedEvent]) -> NormalizedEvent:
    """The whole notification as one event of the group's incident (dedup key groupKey)."""
    firing = [e for e in members if e.action == "trigger"]
    action = "trigger" if firing else "resolve"
    group_labels = ", ".join(f"{k}={v}" for k, v in sorted(notification.group_labels.items()) if v)
    summary = (
        notification.common_annotations.get("summary", "").strip()
        or notification.common_annotations.get("description", "").strip()
        or group_labels
        or members[0].summary
    )
    raw_severity = notification.common_labels.get("severity", "")
    if raw_severity:
        mapped = lenient_severity(raw_severity, severity.ALERTMANAGER)
    else:
        mapped = min((e.severity for e in firing or members), key=lambda s: SEVERITY_RANK.get(s, 2))
    links: list[dict] = []
    for member in members:
        links.extend(lk for lk in member.links if lk not in links)
    return NormalizedEvent(
        action=action,
        dedup_key=notification.group_key or fingerprint(notification.group_labels),
        summary=summary,
        severity=mapped,
        original_severity=raw_severity,
        source=members[0].source,
        labels=notification.common_labels,
        details={
            **notification.shared_details(),
            "alerts": [
                {"dedup_key": e.dedup_key, "status": "firing" if e.action == "trigger" else "resolved",
                 "summary": e.summary, "labels": e.labels}
                for e in members
            ],
        },
        links=links,
        group_key=notification.group_key,
        reason=notification.truncated_reason,
        raw=body,
    )


def parse_notification(
    body: dict,
    *,
    group_by_group_key: bool = False,
    watchdog_alertnames: Iterable[str] = (),
    test_alertnames: Iterable[str] = (),
    envelope_fields: Iterable[str] = (),
    default_source: str = "alertmanager",
    enrich: Enrich | None = None,
) -> list[NormalizedEvent]:
    alerts = body.get("alerts")
    if not isinstance(alerts, list):
        raise FormatError("'alerts' is missing or not a list")
    notification = Notification.from_body(body, envelope_fields)
    watchdogs = set(WATCHDOG_ALERTNAMES) | {n for n in watchdog_alertnames if isinstance(n, str)}
    events = [
        alert_event(
            alert, index, notification,
            watchdogs=watchdogs, test_alertnames=set(test_alertnames),
            default_source=default_source, enrich=enrich,
        )
        for index, alert in enumerate(alerts)
    ]
    if not group_by_group_key:
        return events
    members = [e for e in events if e.action in ("trigger", "resolve")]
    others = [e for e in events if e.action not in ("trigger", "resolve")]
    return ([group_event(body, notification, members)] if members else []) + others


def parse(
    body: dict, *, group_by_group_key: bool = False, watchdog_alertnames: Iterable[str] = ()
) -> list[NormalizedEvent]:
    return parse_notification(
        body, group_by_group_key=group_by_group_key, watchdog_alertnames=watchdog_alertnames
    )


# --- the door ---------------------------------------------------------------------------------

EXAMPLE = {
    "version": "4",
    "groupKey": '{}:{alertname="KubeJobCompletion"}',
    "truncatedAlerts": 0,
    "status": "firing",
    "receiver": "vigil",
    "groupLabels": {"alertname": "KubeJobCompletion"},
    "commonLabels": {"alertname": "KubeJobCompletion", "severity": "warning"},
    "commonAnnotations": {},
    "externalURL": "http://alertmanager.example:9093",
    "alerts": [
        {
            "status": "firing",
            "labels": {"alertname": "KubeJobCompletion", "severity": "warning", "namespace": "default"},
            "annotations": {"summary": "Job default/init is taking more than one hour to complete."},
            "startsAt": "2019-12-13T08:57:35.095800493Z",
            "endsAt": "0001-01-01T00:00:00Z",
            "generatorURL": "https://prometheus.example/graph?g0.expr=kube_job_status_succeeded",
            "fingerprint": "c6eadffa33fcdf37",
        }
    ],
}


def resolved(notification: dict) -> dict:
    """The same notification once every alert in it has resolved."""
    alerts = [{**alert, "status": "resolved"} for alert in notification["alerts"]]
    return {**notification, "status": "resolved", "alerts": alerts}


def webhook_snippet(base: str, raw_key: str) -> str:
    return "\n".join([
        "receivers:",
        "  - name: vigil",
        "    webhook_configs:",
        f"      - url: '{base}/api/integrations/alertmanager'",
        "        send_resolved: true",
        "        http_config:",
        "          authorization:",
        "            type: Bearer",
        f"            credentials: '{raw_key}'",
    ])


def pagerduty_snippet(base: str, raw_key: str) -> str:
    """Alertmanager can also reach Vigil through its PagerDuty receiver (the Events API door)."""
    return "\n".join([
        "receivers:",
        "  - name: vigil-pagerduty",
        "    pagerduty_configs:",
        f"      - routing_key: '{raw_key}'",
        f"        url: '{base}/v2/enqueue'",
        "        send_resolved: true",
    ])


DOOR = DoorSpec(
    slug="alertmanager",
    paths=(
        DoorPath("alertmanager", "api/integrations/alertmanager",
                 {"post": "Prometheus Alertmanager webhook (native)"}),
        # For senders that cannot set a header.
        DoorPath("alertmanager-key", "api/integrations/alertmanager/{key}",
                 {"post": "Prometheus Alertmanager webhook (native, key in the path)"},
                 operation_id="alertmanager_ingest_key_in_path"),
    ),
    key_from=(path_key, bearer),
    parse=parse,
    ok_status=200,
    ok_body=batch_processed,
    takes_key_options=True,
    request_schema="AlertmanagerRequest",
    ok_schema="BatchAccepted",
    example=EXAMPLE,
    resolve_example=resolved(EXAMPLE),
    snippets=(
        Snippet("alertmanager", "Prometheus Alertmanager receiver (alertmanager.yml)", "yaml", webhook_snippet),
        Snippet("alertmanager-pagerduty", "Alertmanager through its pagerduty_configs (alertmanager.yml)",
                "yaml", pagerduty_snippet),
    ),
)
