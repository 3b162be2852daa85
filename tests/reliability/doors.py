"""Every ingest door API.md lists, and how each one is handed a valid key: derived from the
door specs, as the common-rules table is (`tests/integrations/doorkit.py`).

Doors that read the key from the body (the PagerDuty-compatible ones) cannot find it in a
body that does not parse, so the answer to a hostile body is about the body, not the key."""

from __future__ import annotations

from dataclasses import dataclass

from tests.integrations.doorkit import authorization, django_meta, door_entries


@dataclass(frozen=True)
class DoorCall:
    name: str
    method: str
    path: str  # "{key}" is replaced by the raw key
    auth: str  # body | bearer | basic | path
    reads_body: bool = True
    #: The PagerDuty-family doors answer unparseable JSON with PagerDuty's own envelope.
    pagerduty_envelope: bool = False

    def url(self, raw_key: str) -> str:
        return self.path.replace("{key}", raw_key)

    def headers(self, raw_key: str) -> dict[str, str]:
        return authorization(self.auth, raw_key)

    def django_headers(self, raw_key: str) -> dict[str, str]:
        """The same headers as Django test-client META keys."""
        return django_meta(self.headers(raw_key))


def method_for(methods: tuple[str, ...], first_way_in: bool) -> str:
    """POST where a path answers it; a second way into the same path takes the path's last
    method, so a door that also answers PUT (Grafana) is called with PUT once, without
    multiplying the slow live-server cases by every method."""
    if first_way_in:
        return ("post" if "post" in methods else methods[0]).upper()
    return methods[-1].upper()


DOORS = [
    DoorCall(
        name,
        method_for(door_path.answers, first_way_in=name == door_path.name),
        "/" + door_path.route,
        reader.where.split(":")[0],
        reads_body=spec.reads_body,
        pagerduty_envelope=spec.pagerduty_errors,
    )
    for name, spec, door_path, reader in door_entries()
]
JSON_DOORS = [door for door in DOORS if door.reads_body]
HEARTBEAT = next(door for door in DOORS if not door.reads_body)
