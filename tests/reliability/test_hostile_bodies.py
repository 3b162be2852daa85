"""T26, T27, T28: hostile bodies at every door. Deep JSON and oversized or chunked bodies go
to a real gunicorn (its thread stacks, its chunked decoder); malformed JSON goes through
Django's test client. Every answer is a JSON error naming the problem, never a 500."""

from __future__ import annotations

import json
import socket
import threading
import time
import uuid

import pytest

from incidents.models import Event, Incident
from integrations.body import MAX_DEPTH
from tests.reliability.doors import HEARTBEAT, JSON_DOORS, DoorCall
from tests.reliability.harness import LOOPBACK

LIMIT = 512 * 1024

DEEP_BODIES = {
    "10000-deep array": b"[" * 10_000 + b"]" * 10_000,
    "1000-deep object": b'{"a":' * 1_000 + b"{}" + b"}" * 1_000,
}


def assert_error_body(body: dict) -> None:
    assert set(body) >= {"status", "message", "errors"}, body
    assert isinstance(body["errors"], list) and body["errors"]
    assert all(isinstance(e, str) for e in body["errors"])


# --- T26: deep JSON, through gunicorn --------------------------------------------------


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("shape", list(DEEP_BODIES))
@pytest.mark.parametrize("door", JSON_DOORS, ids=lambda d: d.name)
def test_deep_json_is_a_400_json_error_on_every_door(live, live_key, door: DoorCall, shape: str):
    _key, raw_key = live_key
    began = time.monotonic()
    response = live.request(door.method, door.url(raw_key), content=DEEP_BODIES[shape],
                            headers={"Content-Type": "application/json", **door.headers(raw_key)})
    seconds = time.monotonic() - began
    assert response.status_code == 400, response.text[:300]
    assert response.headers["content-type"].startswith("application/json")
    assert_error_body(response.json())
    assert "nesting" in " ".join(response.json()["errors"])
    assert seconds < 1.0
    assert live.get("/healthz").status_code == 200


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("shape", list(DEEP_BODIES))
def test_heartbeat_ignores_even_a_deep_body(live, live_key, shape: str):
    _key, raw_key = live_key
    response = live.post(HEARTBEAT.url(raw_key), content=DEEP_BODIES[shape],
                         headers={"Content-Type": "application/json"})
    assert response.status_code == 200
    assert response.json() == {"status": "success", "message": "PONG"}


def nested_details(depth: int) -> dict:
    value: object = "bottom"
    for _ in range(depth):
        value = {"d": value}
    return value  # type: ignore[return-value]


def test_nesting_limit_is_exact(api, raw_key, db):
    """The body is level 1, payload level 2 and custom_details level 3."""

    def body(depth: int) -> dict:
        return {"routing_key": raw_key, "event_action": "trigger", "dedup_key": f"deep-{depth}",
                "payload": {"summary": "deep", "severity": "info", "source": "x",
                            "custom_details": nested_details(depth - 2)}}

    assert api.post("/v2/enqueue", body(MAX_DEPTH), format="json").status_code == 202
    refused = api.post("/v2/enqueue", body(MAX_DEPTH + 1), format="json")
    assert refused.status_code == 400
    assert f"deeper than {MAX_DEPTH}" in " ".join(refused.json()["errors"])


# --- T27: body size, through gunicorn with a raw socket ----------------------------------


class RawExchange:
    """One HTTP/1.1 request over a raw socket: a thread sends while the main thread reads, so
    a server that answers before reading everything is seen doing so."""

    def __init__(self, port: int, head: bytes, chunks):
        self.port, self.head, self.chunks = port, head, chunks
        self.sent = 0
        self.send_error: OSError | None = None

    def run(self, timeout: float = 15) -> tuple[int, dict, bytes, float]:
        sock = socket.create_connection((LOOPBACK, self.port), timeout=timeout)
        began = time.monotonic()

        def send() -> None:
            try:
                sock.sendall(self.head)
                for chunk in self.chunks:
                    sock.sendall(chunk)
                    self.sent += len(chunk)
            except OSError as exc:  # the server closed after answering: expected for 413
                self.send_error = exc

        sender = threading.Thread(target=send, daemon=True)
        sender.start()
        data = b""
        try:
            while b"\r\n\r\n" not in data or not _complete(data):
                part = sock.recv(65536)
                if not part:
                    break
                data += part
        except ConnectionResetError:
            pass
        seconds = time.monotonic() - began
        sock.close()
        sender.join(timeout=timeout)
        head, _, body = data.partition(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        status = int(lines[0].split()[1]) if lines[0] else 0
        headers = {k.strip().lower(): v.strip() for k, _, v in (line.partition(":") for line in lines[1:])}
        if headers.get("transfer-encoding", "").lower() == "chunked":
            body = _dechunk(body)
        return status, headers, body, seconds


def _dechunk(data: bytes) -> bytes:
    out = b""
    while data:
        size_line, _, rest = data.partition(b"\r\n")
        size = int(size_line.split(b";")[0], 16)
        if size == 0:
            break
        out += rest[:size]
        data = rest[size + 2:]
    return out


def _complete(data: bytes) -> bool:
    head, _, body = data.partition(b"\r\n\r\n")
    for line in head.decode("latin-1").split("\r\n")[1:]:
        name, _, value = line.partition(":")
        if name.strip().lower() == "content-length":
            return len(body) >= int(value)
    return False


def request_head(path: str, extra: str) -> bytes:
    return (f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
            f"Connection: close\r\n{extra}\r\n").encode()


def chunked(payload: bytes, size: int = 64 * 1024):
    for start in range(0, len(payload), size):
        part = payload[start:start + size]
        yield f"{len(part):x}\r\n".encode() + part + b"\r\n"
    yield b"0\r\n\r\n"


def trigger_of_size(raw_key: str, size: int) -> bytes:
    """A valid trigger whose JSON is exactly `size` bytes."""
    body = {"routing_key": raw_key, "event_action": "trigger", "dedup_key": f"size-{uuid.uuid4().hex}",
            "payload": {"summary": "big", "severity": "info", "source": "x", "custom_details": {"pad": ""}}}
    bare = len(json.dumps(body).encode())
    body["payload"]["custom_details"]["pad"] = "x" * (size - bare)
    encoded = json.dumps(body).encode()
    assert len(encoded) == size
    return encoded


def assert_too_large(status: int, headers: dict, body: bytes, seconds: float) -> None:
    assert status == 413, body[:300]
    assert headers["content-type"].startswith("application/json")
    assert_error_body(json.loads(body))
    assert seconds < 1.0


@pytest.mark.django_db(transaction=True)
def test_body_over_the_limit_with_content_length_is_413(live, live_key, gunicorn):
    _key, raw_key = live_key
    payload = trigger_of_size(raw_key, LIMIT + 1)
    exchange = RawExchange(gunicorn.port, request_head("/v2/enqueue", f"Content-Length: {len(payload)}\r\n"),
                           [payload])
    assert_too_large(*exchange.run())
    assert not Event.objects.exists()


@pytest.mark.django_db(transaction=True)
def test_body_over_the_limit_chunked_is_413(live, live_key, gunicorn):
    _key, raw_key = live_key
    exchange = RawExchange(gunicorn.port, request_head("/v2/enqueue", "Transfer-Encoding: chunked\r\n"),
                           chunked(trigger_of_size(raw_key, LIMIT + 1)))
    assert_too_large(*exchange.run())
    assert not Event.objects.exists()


@pytest.mark.django_db(transaction=True)
def test_ten_mebibytes_chunked_is_413_before_the_sender_is_done(live, gunicorn):
    exchange = RawExchange(gunicorn.port, request_head("/v2/enqueue", "Transfer-Encoding: chunked\r\n"),
                           chunked(b"[" + b"1," * (5 * 1024 * 1024) + b"1]"))
    status, headers, body, seconds = exchange.run()
    print(f"\nT27 10 MiB chunked: {status} after {seconds * 1000:.0f} ms, "
          f"{exchange.sent / 1024:.0f} KiB sent before the server closed")
    assert_too_large(status, headers, body, seconds)


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("transfer", ["content-length", "chunked"])
def test_body_of_exactly_the_limit_is_accepted(live, live_key, gunicorn, transfer):
    _key, raw_key = live_key
    payload = trigger_of_size(raw_key, LIMIT)
    if transfer == "chunked":
        exchange = RawExchange(gunicorn.port, request_head("/v2/enqueue", "Transfer-Encoding: chunked\r\n"),
                               chunked(payload))
    else:
        exchange = RawExchange(gunicorn.port, request_head("/v2/enqueue", f"Content-Length: {LIMIT}\r\n"),
                               [payload])
    status, _headers, body, _seconds = exchange.run()
    assert status == 202, body[:300]
    incident = Incident.objects.get(pk=json.loads(body)["incident_id"])
    assert len(incident.details["pad"]) > LIMIT - 300


# --- T28: malformed bodies, every JSON door ------------------------------------------------

DIGITS = "7" * 5_000
MALFORMED = {
    "empty": (b"", "empty"),
    "top-level array": (b"[]", "list"),
    "top-level string": (b'"x"', "str"),
    "top-level null": (b"null", "null"),
    "invalid UTF-8": (b'{"summary": "\xff\xfe"}', "UTF-8"),
    "byte-order mark": (b'\xef\xbb\xbf{"summary": "x"}', "byte-order mark"),
    "NaN": (b'{"summary": "x", "value": NaN}', "NaN"),
    "Infinity": (b'{"summary": "x", "value": -Infinity}', "Infinity"),
    "duplicate keys": (b'{"summary": "x", "summary": "y"}', "duplicate key"),
    "1e999": (b'{"summary": "x", "value": 1e999}', "out of range"),
    "5000-digit integer": (('{"summary": "x", "value": ' + DIGITS + "}").encode(), "digits"),
    "truncated": (b'{"summary": "x", ', "JSON parse error"),
}


@pytest.mark.django_db
@pytest.mark.parametrize("case", list(MALFORMED))
@pytest.mark.parametrize("door", JSON_DOORS, ids=lambda d: d.name)
def test_malformed_body_is_a_400_naming_the_problem(api, raw_key, door: DoorCall, case: str):
    content, named = MALFORMED[case]
    response = api.generic(door.method, door.url(raw_key), content, content_type="application/json",
                           **door.django_headers(raw_key))
    assert response.status_code == 400, response.content[:300]
    body = response.json()
    assert_error_body(body)
    assert named in " ".join(body["errors"])
    assert not Incident.objects.exists()


@pytest.mark.django_db
@pytest.mark.parametrize("door", JSON_DOORS, ids=lambda d: d.name)
def test_text_plain_that_is_not_json_is_a_400_parse_error(api, raw_key, door: DoorCall):
    response = api.generic(door.method, door.url(raw_key), b"disk full on web01", content_type="text/plain",
                           **door.django_headers(raw_key))
    assert response.status_code == 400
    assert "JSON parse error" in " ".join(response.json()["errors"])
    if door.pagerduty_envelope:
        assert response.json()["status"] == "Unrecognized object"
