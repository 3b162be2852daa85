"""Every ingest door in one table, for the tests of API.md's common rules: where the key
goes, a valid trigger, a valid resolve (when the format has one) and the success status."""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass, field
from typing import Any


@dataclass
class DoorCase:
    name: str
    path: str  # "{key}" is replaced by the raw key
    key_in: str  # body:<field> | bearer | basic | path
    trigger: dict
    resolve: dict | None
    ok_status: int
    # The Events-API doors answer PagerDuty's 400 "Invalid routing key"; the others 401.
    bad_key_status: int = 401
    methods: tuple[str, ...] = ("post",)
    extra: dict[str, Any] = field(default_factory=dict)

    def url(self, raw_key: str, slash: bool = False) -> str:
        url = self.path.replace("{key}", raw_key)
        return url + "/" if slash else url

    def body(self, raw_key: str, template: dict) -> dict:
        body = json.loads(json.dumps(template))
        if self.key_in.startswith("body:"):
            body[self.key_in.split(":", 1)[1]] = raw_key
        return body

    def headers(self, raw_key: str) -> dict:
        if self.key_in == "bearer":
            return {"HTTP_AUTHORIZATION": f"Bearer {raw_key}"}
        if self.key_in == "basic":
            token = base64.b64encode(f"grafana:{raw_key}".encode()).decode()
            return {"HTTP_AUTHORIZATION": f"Basic {token}"}
        return {}

    def send(self, api, raw_key: str, template: dict | None = None, *, slash=False, method="post", raw=None):
        """POST (or PUT/GET) the template with the key where this door expects it."""
        data = raw if raw is not None else json.dumps(self.body(raw_key, template or self.trigger))
        return api.generic(
            method.upper(), self.url(raw_key, slash), data, content_type="application/json",
            **self.headers(raw_key),
        )


def _alertmanager(status: str) -> dict:
    return {
        "version": "4", "status": status, "groupKey": "{}:{alertname=\"DiskFull\"}", "receiver": "vigil",
        "groupLabels": {"alertname": "DiskFull"}, "commonLabels": {}, "commonAnnotations": {},
        "externalURL": "http://am.example:9093", "truncatedAlerts": 0,
        "alerts": [{"status": status, "labels": {"alertname": "DiskFull", "severity": "critical"},
                    "annotations": {"summary": "Disk full on srv01"}, "fingerprint": "diskfull01",
                    "generatorURL": "http://prom.example/graph"}],
    }


def _grafana(status: str) -> dict:
    body = _alertmanager(status)
    body.update(version="1", state="alerting" if status == "firing" else "ok", title="[FIRING:1] DiskFull",
                message="**Firing**", orgId=1)
    body["alerts"][0].update(silenceURL="", dashboardURL="", panelURL="", values=None, valueString="")
    return body


EVENTS_V2_TRIGGER = {"event_action": "trigger", "dedup_key": "disk-full-srv01",
                     "payload": {"summary": "Disk full on srv01", "severity": "critical", "source": "srv01"}}

DOORS = [
    DoorCase("events-ingest", "/api/events/ingest", "body:routing_key", EVENTS_V2_TRIGGER,
             {"event_action": "resolve", "dedup_key": "disk-full-srv01"}, 202, bad_key_status=400),
    DoorCase("v2-enqueue", "/v2/enqueue", "body:routing_key", EVENTS_V2_TRIGGER,
             {"event_action": "resolve", "dedup_key": "disk-full-srv01"}, 202, bad_key_status=400),
    DoorCase("change-events", "/v2/change/enqueue", "body:routing_key",
             {"payload": {"summary": "Deployed api v1.2.3", "source": "ci"}}, None, 202, bad_key_status=400),
    DoorCase("events-v1", "/generic/2010-04-15/create_event.json", "body:service_key",
             {"event_type": "trigger", "incident_key": "disk-full-srv01", "description": "Disk full on srv01"},
             {"event_type": "resolve", "incident_key": "disk-full-srv01"}, 200, bad_key_status=400),
    DoorCase("eventapi", "/api/webhook/ingest", "bearer",
             {"summary": "Disk full on srv01", "severity": "critical", "dedupKey": "disk-full-srv01"},
             {"action": "resolve", "dedupKey": "disk-full-srv01"}, 202),
    DoorCase("pagertree", "/integration/{key}", "path",
             {"event_type": "create", "Id": "disk-full-srv01", "Title": "Disk full on srv01"},
             {"event_type": "resolve", "Id": "disk-full-srv01"}, 200),
    DoorCase("temperstack", "/api/integration/webhook/{key}", "path",
             {"alert_name": "Disk full on srv01", "status": "Alarm", "alert_id": "disk-full-srv01"},
             {"status": "OK", "alert_id": "disk-full-srv01"}, 200),
    DoorCase("spike", "/{key}/push-events", "path",
             {"title": "Disk full on srv01", "severity": "sev1"},
             {"title": "Disk full on srv01", "status": "resolved"}, 200),
    DoorCase("alertmanager", "/api/integrations/alertmanager", "bearer",
             _alertmanager("firing"), _alertmanager("resolved"), 200),
    DoorCase("alertmanager-path", "/api/integrations/alertmanager/{key}", "path",
             _alertmanager("firing"), _alertmanager("resolved"), 200),
    DoorCase("grafana", "/api/integrations/grafana", "bearer", _grafana("firing"), _grafana("resolved"), 200,
             methods=("post", "put")),
    DoorCase("grafana-basic", "/api/integrations/grafana", "basic", _grafana("firing"), _grafana("resolved"),
             200),
    DoorCase("grafana-path", "/api/integrations/grafana/{key}", "path", _grafana("firing"),
             _grafana("resolved"), 200, methods=("post", "put")),
]
HEARTBEAT = DoorCase("heartbeat", "/api/heartbeat/{key}", "path", {}, None, 200, methods=("get", "post", "head"))

#: Doors whose request body is read (all but the heartbeat).
BODY_DOORS = DOORS
#: Doors where a key sits outside the URL (a missing key is a request, not a 404).
KEY_OUTSIDE_PATH = [d for d in DOORS if d.key_in != "path"]
CLOSING_DOORS = [d for d in DOORS if d.resolve is not None]


def ids(cases) -> list[str]:
    return [c.name for c in cases]
