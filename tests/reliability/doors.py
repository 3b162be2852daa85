"""Every ingest door API.md lists, and how each one is handed a valid key.

Doors that read the key from the body (the PagerDuty-compatible ones) cannot find it in a
body that does not parse; the Events API paths get the key in `X-Routing-Key` as well, so
the answer is about the body, not the key."""

from __future__ import annotations

import base64
from dataclasses import dataclass


@dataclass(frozen=True)
class DoorCall:
    name: str
    method: str
    path: str  # "{key}" is replaced by the raw key
    auth: str  # body | routing-header | bearer | basic | path
    reads_body: bool = True
    #: The two Events-API paths answer unparseable JSON with PagerDuty's own envelope.
    pagerduty_envelope: bool = False

    def url(self, raw_key: str) -> str:
        return self.path.replace("{key}", raw_key)

    def headers(self, raw_key: str) -> dict[str, str]:
        if self.auth == "routing-header":
            return {"X-Routing-Key": raw_key}
        if self.auth == "bearer":
            return {"Authorization": f"Bearer {raw_key}"}
        if self.auth == "basic":
            token = base64.b64encode(f"grafana:{raw_key}".encode()).decode()
            return {"Authorization": f"Basic {token}"}
        return {}

    def django_headers(self, raw_key: str) -> dict[str, str]:
        """The same headers as Django test-client META keys."""
        return {"HTTP_" + name.upper().replace("-", "_"): value for name, value in self.headers(raw_key).items()}


DOORS = [
    DoorCall("events-ingest", "POST", "/api/events/ingest", "routing-header", pagerduty_envelope=True),
    DoorCall("v2-enqueue", "POST", "/v2/enqueue", "routing-header", pagerduty_envelope=True),
    DoorCall("change-enqueue", "POST", "/v2/change/enqueue", "body"),
    DoorCall("events-v1", "POST", "/generic/2010-04-15/create_event.json", "body"),
    DoorCall("eventapi", "POST", "/api/webhook/ingest", "bearer"),
    DoorCall("pagertree", "POST", "/integration/{key}", "path"),
    DoorCall("temperstack", "POST", "/api/integration/webhook/{key}", "path"),
    DoorCall("spike", "POST", "/{key}/push-events", "path"),
    DoorCall("alertmanager-bearer", "POST", "/api/integrations/alertmanager", "bearer"),
    DoorCall("alertmanager-path", "POST", "/api/integrations/alertmanager/{key}", "path"),
    DoorCall("grafana-bearer", "POST", "/api/integrations/grafana", "bearer"),
    DoorCall("grafana-basic-put", "PUT", "/api/integrations/grafana", "basic"),
    DoorCall("grafana-path", "POST", "/api/integrations/grafana/{key}", "path"),
    DoorCall("heartbeat", "POST", "/api/heartbeat/{key}", "path", reads_body=False),
]
JSON_DOORS = [door for door in DOORS if door.reads_body]
HEARTBEAT = next(door for door in DOORS if not door.reads_body)
