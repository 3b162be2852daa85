"""The WSGI application (config/door_wsgi.py): door requests run a short middleware stack,
everything else the whole one. Driven through `config.wsgi.application` itself, as gunicorn
calls it."""

from __future__ import annotations

import io
import json
import re

import pytest
from django.urls import resolve

from config.door_wsgi import DOOR_SKIPS, DOOR_URLCONF, door_middleware
from config.wsgi import application
from incidents.models import Event
from integrations.doors import Door
from integrations.urls import DOOR_PATHS

pytestmark = pytest.mark.django_db(transaction=True)


def call(method: str, path: str, body: bytes = b"", host: str = "127.0.0.1", **headers) -> tuple[int, dict, bytes]:
    environ = {
        "REQUEST_METHOD": method, "PATH_INFO": path, "QUERY_STRING": "", "SERVER_NAME": "127.0.0.1",
        "SERVER_PORT": "80", "HTTP_HOST": host, "REMOTE_ADDR": "127.0.0.1", "wsgi.input": io.BytesIO(body),
        "wsgi.url_scheme": "http", "wsgi.errors": io.StringIO(), "CONTENT_LENGTH": str(len(body)),
        "CONTENT_TYPE": "application/json", **headers,
    }
    answer = {}

    def start_response(status, response_headers, exc_info=None):
        answer["status"] = int(status.split()[0])
        answer["headers"] = {}
        for name, value in response_headers:
            answer["headers"].setdefault(name.lower(), []).append(value)

    content = b"".join(application(environ, start_response))
    return answer["status"], answer["headers"], content


def trigger(raw_key: str) -> bytes:
    return json.dumps({"routing_key": raw_key, "event_action": "trigger", "dedup_key": "wsgi",
                       "payload": {"summary": "Disk full", "severity": "critical", "source": "pytest"}}).encode()


def sample(route: str) -> str:
    return "/" + re.sub(r"\{\w+\}", "ik_sample0000000000000000000000", route)


def test_every_door_path_takes_the_door_stack_and_resolves_to_a_door():
    for _spec, door_path in DOOR_PATHS:
        path = sample(door_path.route)
        assert application.is_door(path), path
        whole, own = resolve(path), resolve(path, urlconf=DOOR_URLCONF)
        assert getattr(whole.func, "view_class", None) is Door, path
        # The door handler resolves against the doors' own URLconf: the same view and arguments.
        assert (own.url_name, own.kwargs) == (whole.url_name, whole.kwargs), path


@pytest.mark.parametrize("path", ["/", "/login/", "/admin/", "/api/v1/incidents/", "/healthz", "/keys/",
                                  "/incidents/1/", "/api/schema/"])
def test_portal_admin_and_api_paths_keep_the_whole_stack(path):
    assert not application.is_door(path)


def test_a_door_post_is_answered_without_session_csrf_or_csp(raw_key):
    status, headers, body = call("POST", "/v2/enqueue", trigger(raw_key))
    assert status == 202, body
    assert Event.objects.filter(dedup_key="wsgi", outcome="created").count() == 1
    assert "set-cookie" not in headers and "content-security-policy" not in headers
    assert "Cookie" not in ",".join(headers.get("vary", []))
    # What still applies to a door: the request id, the security headers, X-Frame-Options.
    assert headers["x-request-id"] and headers["x-frame-options"] == ["DENY"]
    assert headers["x-content-type-options"] == ["nosniff"]
    assert application.doors._middleware_chain is not None
    assert DOOR_SKIPS <= set(settings_middleware()) and len(door_middleware()) == 7


def settings_middleware() -> list[str]:
    from django.conf import settings

    return settings.MIDDLEWARE


def test_a_door_refuses_a_nul_in_its_path_or_query_with_400(raw_key):
    """input_guard runs on the short stack too (T48): PostgreSQL cannot store a NUL."""
    status, _headers, body = call("POST", "/v2/enqueue", trigger(raw_key), QUERY_STRING="x=%00")
    assert status == 400, body
    status, _headers, body = call("POST", "/integration/ik\x00x", trigger(raw_key))  # PATH_INFO is decoded
    assert status == 400, body
    assert not Event.objects.exists()


def test_a_door_still_refuses_a_foreign_host_and_an_oversized_body(raw_key, settings):
    assert call("POST", "/v2/enqueue", trigger(raw_key), host="evil.example")[0] == 400
    status, _headers, _body = call("POST", "/v2/enqueue", b"{}", CONTENT_LENGTH=str(settings.INBOUND_MAX_BODY_BYTES + 1))
    assert status == 413
    assert not Event.objects.exists()


def test_the_portal_keeps_its_csrf_cookie_and_csp():
    status, headers, _body = call("GET", "/login/")
    assert status == 200
    assert any(c.strip().startswith("csrftoken=") for c in headers.get("set-cookie", []))
    assert "content-security-policy" in headers
