"""T48, the part Django's test client cannot send: malformed chunked encoding, over raw
sockets, to every door path of a real gunicorn run with `deploy/gunicorn.conf.py`.

gunicorn raises while the body is read (a chunk size of `zz`, a chunk without its CRLF, a
connection that ends mid-chunk); the body-size middleware reads chunked bodies first, so
each case must be a 400 in the doors' JSON error body, never an HTML 500, and nothing is
stored."""

from __future__ import annotations

import json
import socket

import pytest

from incidents.models import Event
from tests.reliability.doors import DOORS
from tests.reliability.harness import LOOPBACK, REPO, Gunicorn, django_env

pytestmark = [pytest.mark.chaos, pytest.mark.timeout(120), pytest.mark.django_db(transaction=True)]

BODY = b'{"routing_key": "x", "event_action": "trigger"}'
MALFORMED = {
    "size zz": b"zz\r\n" + BODY + b"\r\n0\r\n\r\n",
    "size with a sign": b"-5\r\n" + BODY + b"\r\n0\r\n\r\n",
    "chunk without its CRLF": hex(len(BODY))[2:].encode() + b"\r\n" + BODY + b"XX0\r\n\r\n",
    "connection ends mid-chunk": b"400\r\n" + BODY,
}


@pytest.fixture(scope="module")
def production_gunicorn(live_database_url, redis_server, reliability_dir):
    env = django_env(database_url=live_database_url, redis_url=redis_server.url(0))
    app = Gunicorn(env, reliability_dir / "gunicorn-chunks.log",
                   config_file=REPO / "deploy" / "gunicorn.conf.py").start()
    yield app
    app.stop()


def send_raw(port: int, method: str, path: str, body: bytes, headers: dict[str, str]) -> tuple[int, dict, bytes]:
    head = [f"{method} {path} HTTP/1.1", f"Host: {LOOPBACK}", "Content-Type: application/json",
            "Transfer-Encoding: chunked", "Connection: close", *(f"{k}: {v}" for k, v in headers.items())]
    with socket.create_connection((LOOPBACK, port), timeout=10) as sock:
        sock.sendall(("\r\n".join(head) + "\r\n\r\n").encode() + body)
        sock.shutdown(socket.SHUT_WR)  # the client is done: a short chunk is all there is
        answer = b""
        while chunk := sock.recv(65536):
            answer += chunk
    status_line, _, rest = answer.partition(b"\r\n")
    header_block, _, payload = rest.partition(b"\r\n\r\n")
    fields = dict(line.decode().split(": ", 1) for line in header_block.split(b"\r\n") if b": " in line)
    fields = {k.lower(): v for k, v in fields.items()}
    if fields.get("transfer-encoding") == "chunked":
        payload = dechunked(payload)
    return int(status_line.split()[1]), fields, payload


def dechunked(data: bytes) -> bytes:
    out = b""
    while data:
        size_line, _, data = data.partition(b"\r\n")
        size = int(size_line.split(b";")[0], 16)
        if size == 0:
            break
        out, data = out + data[:size], data[size + 2:]
    return out


def test_every_door_answers_malformed_chunks_with_400_json(production_gunicorn, live_key):
    _key, raw_key = live_key
    tried = 0
    failures = []
    for door in DOORS:
        for case, body in MALFORMED.items():
            status, headers, payload = send_raw(production_gunicorn.port, door.method, door.url(raw_key),
                                                body, door.headers(raw_key))
            tried += 1
            if status != 400 or not headers.get("content-type", "").startswith("application/json"):
                failures.append(f"{door.name} {case}: {status} {headers.get('content-type')} {payload[:120]!r}")
                continue
            answer = json.loads(payload)
            if set(answer) != {"status", "message", "errors"} or "chunked" not in answer["errors"][0]:
                failures.append(f"{door.name} {case}: {answer}")
    print(f"\nT48 malformed chunks: {tried} raw requests to {len(DOORS)} door paths on gunicorn")
    assert not failures, "\n".join(failures)
    assert not Event.objects.exists()
    assert "Traceback" not in production_gunicorn.log_text()
    # And the server still answers a well-formed chunked trigger.
    good = json.dumps({"routing_key": raw_key, "event_action": "trigger", "dedup_key": "chunks",
                       "payload": {"summary": "ok", "severity": "info", "source": "t48"}}).encode()
    status, _, _ = send_raw(production_gunicorn.port, "POST", "/v2/enqueue",
                            hex(len(good))[2:].encode() + b"\r\n" + good + b"\r\n0\r\n\r\n", {})
    assert status == 202
