"""T46: no secret in any log line. Real gunicorn with the production settings file
(deploy/gunicorn.conf.py: access log on) and a real Celery worker, both at LOG_LEVEL=DEBUG,
with local stand-ins for every provider: every door (path keys included, and a JSON-escaped
key), a page by every channel, an acknowledge link clicked, a signed Twilio SMS reply and a
signed Slack button, a REST call with a token, a sign-in with a password, a metrics scrape
with its bearer token. Then every line of gunicorn's log, the worker's log and this process's
captured log is searched for every secret the scenario used: zero hits. The same logs must
hold the redacted forms, so the search provably looked at the lines that carried them."""

from __future__ import annotations

import json
import re
import time
from urllib.parse import urlencode

import httpx
import pytest
from django.db import connection
from slack_sdk.signature import SignatureVerifier
from werkzeug import Response

from escalation.channels import CHANNELS
from escalation.models import ContactMethod, EscalationPolicy, Notification
from tests.escalation.conftest import add_step, smtp  # noqa: F401 (fixture)
from tests.escalation.push_service import FakeBrowser, make_vapid_keys
from tests.escalation.slack_fake import BOT_TOKEN, SIGNING_SECRET, button_payload, start_fake
from tests.escalation.workers import child_env, start_worker, stop, wait_for_log
from tests.factories import make_api_token, make_key, make_team, make_user
from tests.fakes.twilio import FROM_NUMBER, fake_twilio  # noqa: F401 (fixture)
from tests.integrations.doorkit import ALL_DOORS, authorization
from tests.reliability.harness import REPO, Gunicorn

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.timeout(240)]

PHONE = "+4915123456789"
PASSWORD = "correct-horse-battery-61f0"
METRICS_TOKEN = "metrics-bearer-token-7d21"
NTFY_TOKEN = "tk_ntfyservertoken0b5e"
SECRET_KEY = "t46-secret-key-never-logged-" + "x" * 40
# Webhook URLs are credentials: their paths and queries must never show.
WEBHOOK_PATH, WEBHOOK_QUERY = "/hooks-generic/wh-path-secret-7f3a", "wh-query-secret-19bd"
SLACK_HOOK_PATH = "/services/T0SECRET/B0SECRET/slackhooksecret42"
TEAMS_HOOK_PATH = "/webhookb2/teams-hook-secret-88c1/IncomingWebhook/abc"
NTFY_PATH = "/ntfy-topic-secret-4d1e"
APPRISE_PATH = "/apprise-path-secret-2c7d"
PUSH_PATH = "/wpush/v2/push-capability-secret-93ab"


def escaped(raw_key: str) -> str:
    return "".join(f"\\u{ord(c):04x}" for c in raw_key[:6]) + raw_key[6:]


def wait_until(predicate, timeout: float, what: str):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = predicate()
        if found:
            return found
        time.sleep(0.1)
    raise TimeoutError(f"{what} within {timeout} s")


def stand_ins(httpserver):
    """Everything a channel posts to that is not Twilio or the Slack API: answered 2xx."""
    httpserver.expect_request(PUSH_PATH, method="POST").respond_with_data("", status=201)
    httpserver.expect_request("/", method="POST").respond_with_json({"id": "x1", "event": "message"})  # ntfy
    httpserver.expect_request(re.compile(r"^/(hooks-generic|services|webhookb2|ntfy-topic|apprise-path).*")) \
        .respond_with_handler(lambda request: Response(json.dumps({"id": "x1", "ok": True}),
                                                       content_type="application/json"))


def test_no_secret_reaches_a_log_line(smtp, fake_twilio, httpserver, tmp_path, caplog, settings):  # noqa: F811
    caplog.set_level("DEBUG")
    # The worker must read the addresses this process encrypts: both derive the field key
    # from this SECRET_KEY (FIELD_ENCRYPTION_KEY unset).
    settings.SECRET_KEY = SECRET_KEY
    slack = start_fake(httpserver)
    stand_ins(httpserver)
    vapid, browser = make_vapid_keys(), FakeBrowser()

    # People, keys and contact methods: one of every channel for alice.
    team = make_team("T46")
    alice = make_user("alice", team=team, email="alice@example.com")
    alice.set_password(PASSWORD)
    alice.save()
    rest_token = make_api_token(alice)
    hook = httpserver.url_for(WEBHOOK_PATH) + f"?token={WEBHOOK_QUERY}"
    addresses = {
        "email": ("alice@example.com", {}),
        "webhook": (hook, {}),
        "sms": (PHONE, {}),
        "voice": (PHONE, {}),
        "slack": ("U0ALICE", {}),
        "push": (httpserver.url_for(PUSH_PATH), browser.subscription(httpserver.url_for(PUSH_PATH))["keys"]),
        "ntfy": (httpserver.url_for(NTFY_PATH), {"token": NTFY_TOKEN}),
        "apprise": (f"json://{httpserver.host}:{httpserver.port}{APPRISE_PATH}", {}),
    }
    assert set(addresses) == set(CHANNELS), "a channel without a contact method in this scenario"
    for kind, (address, secrets) in addresses.items():
        ContactMethod.objects.create(user=alice, kind=kind, address=address, secrets=secrets)
    for path in (SLACK_HOOK_PATH, TEAMS_HOOK_PATH):  # Slack- and Teams-shaped incoming webhooks
        ContactMethod.objects.create(user=alice, kind="webhook", address=httpserver.url_for(path),
                                     slack_format=path == SLACK_HOOK_PATH)
    paging = EscalationPolicy.objects.create(name="pages", team=team)
    add_step(paging, 0, users=[alice])
    _paging_key, paging_raw = make_key(team=team, policy=paging)
    # The door sweep uses a key whose policy pages nobody: the pages are the paging key's.
    _quiet_key, quiet_raw = make_key(team=team, policy=EscalationPolicy.objects.create(name="quiet", team=team))

    server = Gunicorn({}, tmp_path / "gunicorn.log", workers=1, config_file=REPO / "deploy" / "gunicorn.conf.py")
    env = child_env(
        smtp.port, site_url=server.base_url, LOG_LEVEL="DEBUG", DEBUG="false", SECRET_KEY=SECRET_KEY,
        SECURE_COOKIES="false", INBOUND_RATE_LIMIT="100000/m", GUNICORN_WORKERS="1", PYTHONUNBUFFERED="1",
        TWILIO_ACCOUNT_SID=fake_twilio.account_sid, TWILIO_AUTH_TOKEN=fake_twilio.auth_token,
        TWILIO_FROM_NUMBER=FROM_NUMBER, TWILIO_API_BASE_URL=fake_twilio.base_url, TWILIO_TIMEOUT_SECONDS="5",
        SLACK_BOT_TOKEN=BOT_TOKEN, SLACK_SIGNING_SECRET=SIGNING_SECRET, SLACK_API_BASE_URL=slack.base_url,
        VAPID_PUBLIC_KEY=vapid.public, VAPID_PRIVATE_KEY=vapid.private, VAPID_SUBJECT="mailto:ops@example.com",
        NTFY_TOKEN=NTFY_TOKEN, METRICS_TOKEN=METRICS_TOKEN, ESCALATION_WEBHOOK_ALLOW_PRIVATE="true",
    )
    server.env = env
    worker_log = tmp_path / "worker.log"
    worker = start_worker(env, worker_log)
    server.start()
    try:
        wait_for_log(worker_log, "ready.", timeout=90)
        with httpx.Client(base_url=server.base_url, timeout=15) as client:
            link_tokens = run_scenario(client, fake_twilio, httpserver, browser, server.base_url,
                                       quiet_raw=quiet_raw, paging_raw=paging_raw, rest_token=rest_token)
    finally:
        server.stop()
        stop(worker)
        connection.close()

    logs = {
        "gunicorn": (tmp_path / "gunicorn.log").read_text(errors="replace"),
        "worker": worker_log.read_text(errors="replace"),
        # This process's lines, but for the stand-ins' own servers (werkzeug is the providers'
        # access log, aiosmtpd the mail server's): those are the other side's logs.
        "pytest": "\n".join(caplog.handler.format(r) for r in caplog.records
                            if not r.name.startswith(("werkzeug", "mail.log"))),
    }
    secrets = {
        "integration key": [quiet_raw, paging_raw, quiet_raw[3:], paging_raw[3:]],
        "JSON-escaped key": [escaped(quiet_raw), escaped(paging_raw)],
        "webhook path or query": [WEBHOOK_PATH, WEBHOOK_QUERY, SLACK_HOOK_PATH, "slackhooksecret42",
                                  TEAMS_HOOK_PATH, "teams-hook-secret-88c1", NTFY_PATH, APPRISE_PATH, PUSH_PATH],
        "signed-link token": link_tokens,
        "REST token": [rest_token],
        "provider token": [fake_twilio.auth_token, BOT_TOKEN, SIGNING_SECRET, vapid.private, NTFY_TOKEN,
                           METRICS_TOKEN, addresses["push"][1]["auth"]],
        "password": [PASSWORD, SECRET_KEY],
    }
    hits = [
        f"{kind} {secret[:12]}… in the {name} log: {line[:300]}"
        for name, text in logs.items() for line in text.splitlines()
        for kind, values in secrets.items() for secret in values if secret and secret in line
    ]
    assert hits == []

    # The search looked at the lines that carried each kind of secret, in redacted form.
    gunicorn_log, worker_log_text = logs["gunicorn"], logs["worker"]
    assert len(gunicorn_log.splitlines()) > 50 and len(worker_log_text.splitlines()) > 50
    assert '"POST /integration/[redacted] HTTP/1.1" 200' in gunicorn_log  # gunicorn's access log
    assert '"GET /ack/[redacted]/ HTTP/1.1" 200' in gunicorn_log
    assert "POST /api/heartbeat/[redacted]" in gunicorn_log
    assert "vigil.request" in gunicorn_log and " DEBUG " in gunicorn_log
    port = httpserver.port
    assert re.search(rf"HTTP Request: POST http://[^/\s]+:{port}/\[redacted\] ", worker_log_text)  # httpx
    assert re.search(rf"http://[^/\s]+:{port} \"POST /\[redacted\] HTTP/1.1\"", worker_log_text)  # urllib3
    assert "send_notification_task" in worker_log_text


def run_scenario(client: httpx.Client, twilio, httpserver, browser, base_url: str, *,
                 quiet_raw: str, paging_raw: str, rest_token: str) -> list[str]:
    """Drive every way a secret reaches the web server or the worker; return the signed-link
    tokens that were handed out (to search the logs for)."""
    # 1. Every door, with the key where that door takes it (path, bearer, basic, body), then a
    #    body carrying it JSON-escaped.
    for door in ALL_DOORS:
        method = "POST" if "post" in door.methods else door.methods[0].upper()
        body = json.dumps(door.body(quiet_raw, door.trigger)) if door.spec.reads_body else ""
        answer = client.request(method, door.url(quiet_raw), content=body,
                                headers={"Content-Type": "application/json", **authorization(door.key_in, quiet_raw)})
        assert answer.status_code < 300, (door.name, answer.status_code, answer.text)
    payload = json.dumps({"event_action": "trigger", "payload": {"summary": "escaped", "severity": "info",
                                                                 "source": "t46"}})
    body = payload.replace("{", '{"routing_key": "' + escaped(quiet_raw) + '", ', 1)
    assert client.post("/v2/enqueue", content=body).status_code == 202

    # 2. A trigger that pages alice on every channel; wait until every page was attempted.
    answer = client.post("/v2/enqueue", json={
        "routing_key": paging_raw, "event_action": "trigger", "dedup_key": "t46-page",
        "payload": {"summary": "Pages on every channel", "severity": "critical", "source": "t46"},
    })
    assert answer.status_code == 202, answer.text
    incident_id = answer.json()["incident_id"]

    def all_sent():
        done = Notification.objects.filter(incident_id=incident_id).exclude(status="pending")
        return {n.channel for n in done} >= set(CHANNELS)

    wait_until(all_sent, 60, "a page on every channel")
    failed = list(Notification.objects.filter(incident_id=incident_id, status="failed").values_list("channel", "last_error"))
    assert failed == []

    # 3. The signed links handed out: the webhook's acknowledge link, clicked and confirmed,
    #    and the push's action token.
    push_request = next(r for r, _ in httpserver.log if r.path == PUSH_PATH)
    push_token = next(a["token"] for a in browser.decrypt(push_request.get_data())["actions"])
    webhook_request = next(r for r, _ in httpserver.log if r.path == WEBHOOK_PATH)
    links = re.findall(r"/ack/([^/\"\s]+)/", webhook_request.get_data(as_text=True))
    assert links, webhook_request.get_data(as_text=True)
    page = client.get(f"/ack/{links[0]}/")
    assert page.status_code == 200
    proof = re.search(r'name="confirm" value="([^"]+)"', page.text).group(1)
    assert client.post(f"/ack/{links[0]}/", data={"confirm": proof}).status_code == 200

    # 4. The providers' signed callbacks: an SMS reply and a Slack button.
    def post(url, data, headers):
        response = client.post(url, data=data, headers=headers)
        return response.status_code, response.text

    status, _ = twilio.sms_reply(post, base_url, PHONE, "1c")
    assert status == 200
    notification = Notification.objects.filter(incident_id=incident_id, channel="slack").first()
    form = urlencode({"payload": json.dumps(button_payload("acknowledge", incident_id, notification.pk))})
    stamp = str(int(time.time()))
    answer = client.post("/integrations/slack/interactivity", content=form, headers={
        "Content-Type": "application/x-www-form-urlencoded", "X-Slack-Request-Timestamp": stamp,
        "X-Slack-Signature": SignatureVerifier(SIGNING_SECRET).generate_signature(timestamp=stamp, body=form),
    })
    assert answer.status_code == 200, answer.text

    # 5. A REST call with a token, a metrics scrape with its bearer token, a sign-in with a password.
    assert client.get("/api/v1/incidents/", headers={"Authorization": f"Token {rest_token}"}).status_code == 200
    assert client.get("/metrics", headers={"Authorization": f"Bearer {METRICS_TOKEN}"}).status_code == 200
    client.get("/login/")
    answer = client.post("/login/", data={"username": "alice", "password": PASSWORD,
                                          "csrfmiddlewaretoken": client.cookies["csrftoken"]})
    assert answer.status_code == 302, answer.text
    return [*links, push_token]
