"""Every ingest door in one table, derived from the door specs (`integrations.formats.DOORS`),
for the tests of API.md's common rules: where the key goes, a valid trigger, a valid resolve
(when the format has one) and the success status. A new door is in the table by declaring
its spec; nothing here names a door."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from dataclasses import dataclass

from integrations.formats import DOORS as SPECS
from integrations.formats.spec import DoorPath, DoorSpec, KeyReader


def door_entries() -> Iterator[tuple[str, DoorSpec, DoorPath, KeyReader]]:
    """(name, spec, path, where the key is presented) for each way in: a path with the key
    in it once; a path without, once per other place its spec reads a key from. The name is
    the path's name, with the key place appended after the first (`grafana-basic`).

    Only the paths that take their spec's example, in Vigil's own answer shapes: a door that
    answers in a vendor's envelope (Opsgenie) runs the same rules in its own door tests."""
    for spec in SPECS:
        if spec.answer is not None:
            continue
        for door_path in (p for p in spec.paths if p.takes_example):
            if door_path.has_path_key:
                yield door_path.name, spec, door_path, next(r for r in spec.key_from if r.where == "path")
                continue
            readers = [r for r in spec.key_from if r.where != "path"]
            for index, reader in enumerate(readers):
                name = door_path.name if index == 0 else f"{door_path.name}-{reader.where.split(':')[0]}"
                yield name, spec, door_path, reader


def authorization(where: str, raw_key: str) -> dict[str, str]:
    """The HTTP headers that present the key (none when it is in the path or the body)."""
    if where == "bearer":
        return {"Authorization": f"Bearer {raw_key}"}
    if where == "geniekey":
        return {"Authorization": f"GenieKey {raw_key}"}
    if where == "basic":
        token = base64.b64encode(f"grafana:{raw_key}".encode()).decode()
        return {"Authorization": f"Basic {token}"}
    return {}


def django_meta(headers: dict[str, str]) -> dict[str, str]:
    """HTTP headers as Django test-client META keys."""
    return {"HTTP_" + name.upper().replace("-", "_"): value for name, value in headers.items()}


@dataclass
class DoorCase:
    name: str
    spec: DoorSpec
    path: str  # "{key}" is replaced by the raw key
    key_in: str  # body:<field> | bearer | basic | path
    methods: tuple[str, ...]

    @property
    def trigger(self) -> dict:
        return self.spec.example

    @property
    def resolve(self) -> dict | None:
        return self.spec.resolve_example

    @property
    def ok_status(self) -> int:
        return self.spec.ok_status

    @property
    def bad_key_status(self) -> int:
        # The Events-API doors answer PagerDuty's 400 "Invalid routing key"; the others 401.
        return 400 if self.spec.pagerduty_errors else 401

    def url(self, raw_key: str, slash: bool = False) -> str:
        url = self.path.replace("{key}", raw_key)
        return url + "/" if slash else url

    def body(self, raw_key: str, template: dict) -> dict:
        body = json.loads(json.dumps(template))
        if self.key_in.startswith("body:"):
            body[self.key_in.split(":", 1)[1]] = raw_key
        return body

    def headers(self, raw_key: str) -> dict:
        return django_meta(authorization(self.key_in, raw_key))

    def send(self, api, raw_key: str, template: dict | None = None, *, slash=False, method="post", raw=None):
        """POST (or PUT/GET) the template with the key where this door expects it."""
        data = raw if raw is not None else json.dumps(self.body(raw_key, template or self.trigger))
        return api.generic(
            method.upper(), self.url(raw_key, slash), data, content_type="application/json",
            **self.headers(raw_key),
        )


ALL_DOORS = [
    DoorCase(name, spec, "/" + door_path.route, reader.where, door_path.answers)
    for name, spec, door_path, reader in door_entries()
]
#: Doors whose request body is read (all but the heartbeat).
DOORS = BODY_DOORS = [d for d in ALL_DOORS if d.spec.reads_body]
HEARTBEAT = next(d for d in ALL_DOORS if not d.spec.reads_body)
#: Doors where a key sits outside the URL (a missing key is a request, not a 404).
KEY_OUTSIDE_PATH = [d for d in DOORS if d.key_in != "path"]
CLOSING_DOORS = [d for d in DOORS if d.resolve is not None]


def ids(cases) -> list[str]:
    return [c.name for c in cases]
