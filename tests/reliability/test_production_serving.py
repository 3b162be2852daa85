"""T44 and static files: the production arrangement of the README, on loopback.

Debian's nginx runs `deploy/nginx.conf` (rendered with our ports) in front of gunicorn run with
`-c deploy/gunicorn.conf.py`, DEBUG off, static files collected by `collectstatic`, and
`INBOUND_TRUSTED_PROXIES=127.0.0.1/32`. Slow clients hold nginx connections; gunicorn only ever
sees complete requests, so it keeps answering."""

from __future__ import annotations

import re
import socket
import time
import uuid

import httpx
import pytest

from escalation import links
from tests.factories import make_incident, make_key, make_policy, make_team, make_user
from tests.reliability.harness import LOOPBACK, REPO, Gunicorn, Nginx, django_env, manage

pytestmark = [pytest.mark.chaos, pytest.mark.timeout(120), pytest.mark.django_db(transaction=True)]

SLOW_SOCKETS = 200
BUDGET_S = 1.0


@pytest.fixture(scope="module")
def production(live_database_url, redis_server, reliability_dir, django_db_blocker):
    static_root = reliability_dir / "staticfiles"
    env = django_env(database_url=live_database_url, redis_url=redis_server.url(0),
                     INBOUND_TRUSTED_PROXIES="127.0.0.1/32", STATIC_ROOT=str(static_root))
    manage("collectstatic", "--noinput", env=env)
    app = Gunicorn(env, reliability_dir / "gunicorn-production.log",
                   config_file=REPO / "deploy" / "gunicorn.conf.py").start()
    proxy = None
    try:
        proxy = Nginx(REPO / "deploy" / "nginx.conf", app.port).start()
        yield app, proxy
    finally:
        if proxy is not None:
            proxy.stop()
        app.stop()


def open_slow_sockets(port: int, count: int) -> list[socket.socket]:
    """Each sends whole headers announcing a 1,000-byte body, then one byte of it, then idles."""
    head = (f"POST /v2/enqueue HTTP/1.1\r\nHost: {LOOPBACK}:{port}\r\nContent-Type: application/json\r\n"
            "Content-Length: 1000\r\n\r\n{").encode()
    sockets = []
    for _ in range(count):
        sock = socket.create_connection((LOOPBACK, port), timeout=5)
        sock.sendall(head)
        sockets.append(sock)
    return sockets


def still_open(sock: socket.socket) -> bool:
    """Connected and answered nothing: the server is still waiting for the body."""
    sock.setblocking(False)
    try:
        sock.recv(1, socket.MSG_PEEK)
    except BlockingIOError:
        return True
    except OSError:
        return False
    finally:
        sock.setblocking(True)
    return False


def close_all(sockets: list[socket.socket]) -> None:
    for sock in sockets:
        sock.close()


def timed(call) -> tuple[httpx.Response, float]:
    start = time.perf_counter()
    answer = call()
    return answer, time.perf_counter() - start


def test_slow_clients_do_not_stall_the_production_arrangement(production, settings):
    app, proxy = production
    team = make_team(f"T44 {uuid.uuid4().hex[:8]}")
    alice = make_user(team=team)
    key, raw_key = make_key(team=team, policy=make_policy(team=team))
    incident = make_incident(key)
    # Signed with the server's secret, as the notifier beside it would.
    settings.SECRET_KEY = app.env["SECRET_KEY"]
    ack_path = f"/ack/{links.make_token(incident, alice, 'acknowledge')}/"

    sockets = open_slow_sockets(proxy.port, SLOW_SOCKETS)
    try:
        time.sleep(0.5)  # nginx has read every socket's headers and byte by now
        with httpx.Client(base_url=proxy.base_url, timeout=5) as client:
            health, health_s = timed(lambda: client.get("/healthz"))
            trigger, trigger_s = timed(lambda: client.post("/v2/enqueue", json={
                "routing_key": raw_key, "event_action": "trigger", "dedup_key": f"t44-{uuid.uuid4().hex}",
                "payload": {"summary": "T44 slow clients", "severity": "critical", "source": "t44"}}))
            link, link_s = timed(lambda: client.get(ack_path))
        open_after = sum(still_open(sock) for sock in sockets)
    finally:
        close_all(sockets)
    print(f"\nT44 {SLOW_SOCKETS} slow sockets held on nginx: /healthz {health_s * 1000:.0f} ms, "
          f"trigger {trigger_s * 1000:.0f} ms, ack link GET {link_s * 1000:.0f} ms; "
          f"{open_after} sockets still open afterwards")
    assert health.status_code == 200
    assert trigger.status_code == 202, trigger.text[:300]
    assert trigger.json()["status"] == "success"
    assert link.status_code == 200 and "Acknowledge" in link.text
    assert max(health_s, trigger_s, link_s) < BUDGET_S
    # Nobody needed the slow sockets to give up first.
    assert open_after == SLOW_SOCKETS

    # The comparison: the same sockets straight at gunicorn (printed, not asserted).
    sockets = open_slow_sockets(app.port, SLOW_SOCKETS)
    try:
        time.sleep(0.5)
        start = time.perf_counter()
        try:
            answered = f"answered {httpx.get(app.base_url + '/healthz', timeout=3).status_code}"
        except httpx.TimeoutException:
            answered = "no answer"
        bare_s = time.perf_counter() - start
    finally:
        close_all(sockets)
    print(f"T44 the same {SLOW_SOCKETS} sockets on bare gunicorn: /healthz {answered} after {bare_s:.2f} s")
    assert proxy.healthy()


ASSET = re.compile(r'<link[^>]*rel="stylesheet"[^>]*href="([^"]+)"|<script[^>]*src="([^"]+)"')


def test_portal_css_and_js_are_served_with_debug_off(production):
    _app, proxy = production
    with httpx.Client(base_url=proxy.base_url, timeout=5) as client:
        page = client.get("/login/")
        assert page.status_code == 200
        assets = [css or js for css, js in ASSET.findall(page.text)]
        stylesheets = [css for css, _js in ASSET.findall(page.text) if css]
        scripts = [js for _css, js in ASSET.findall(page.text) if js]
        assert stylesheets and scripts, page.text[:1000]
        answers = {url: client.get(url) for url in assets}
    for url, answer in answers.items():
        assert answer.status_code == 200, url
        expected = "text/css" if url in stylesheets else "javascript"
        assert expected in answer.headers["Content-Type"], (url, answer.headers["Content-Type"])
        assert answer.content, url
    print(f"\nstatic with DEBUG off: {', '.join(f'{url} 200' for url in answers)}")
