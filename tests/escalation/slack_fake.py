"""A local stand-in for Slack's Web API (pytest-httpserver) and Slack's side of the
interactivity endpoint: interaction payloads signed with slack_sdk's own
`SignatureVerifier.generate_signature`.

The fake answers `conversations.open`, `chat.postMessage`, `chat.update`, `users.info`,
`chat.postEphemeral` and a `response_url` the way Slack documents them, records every call
(method, arguments, Authorization header), and can be told to fail a method once (an
`ok: false` error, an HTTP status with headers, or a hang past the client's timeout)."""

from __future__ import annotations

import itertools
import json
import re
import threading
import time
from dataclasses import dataclass, field
from urllib.parse import urlencode

from slack_sdk.signature import SignatureVerifier
from werkzeug import Request, Response

BOT_TOKEN = "xoxb-1111-2222-test-bot-token-never-logged"
SIGNING_SECRET = "8f742231b10e8888abcd99yyyzzz85a5"
TEAM_ID = "T0VIGIL01"


@dataclass
class Call:
    method: str
    args: dict
    authorization: str


@dataclass
class FakeSlack:
    base_url: str
    hooks_url: str
    calls: list[Call] = field(default_factory=list)
    members: dict[str, dict] = field(default_factory=dict)  # member id -> users.info "user"
    failures: dict[str, list[tuple]] = field(default_factory=dict)
    _ts: itertools.count = field(default_factory=lambda: itertools.count(1))
    _lock: threading.Lock = field(default_factory=threading.Lock)

    # --- what the test says -------------------------------------------------------------

    def member(self, member_id: str, email: str, **extra) -> None:
        self.members[member_id] = {"id": member_id, "team_id": TEAM_ID, "name": member_id.lower(),
                                   "deleted": False, "is_bot": False, "profile": {"email": email}, **extra}

    def fail_next(self, method: str, *, error: str = "", status: int = 200, headers: dict | None = None,
                  hang: float = 0.0) -> None:
        self.failures.setdefault(method, []).append((error, status, headers or {}, hang))

    def of(self, method: str) -> list[Call]:
        with self._lock:
            return [c for c in self.calls if c.method == method]

    # --- the server side --------------------------------------------------------------------

    def handle(self, request: Request) -> Response:
        method = "response_url" if request.path.startswith("/hooks/") else request.path.rsplit("/", 1)[-1]
        args: dict = dict(request.args.items())
        args.update(request.form.items())
        if request.mimetype == "application/json":
            args.update(json.loads(request.get_data(as_text=True) or "{}"))
        with self._lock:
            self.calls.append(Call(method, args, request.headers.get("Authorization", "")))
            failure = self.failures.get(method, []).pop(0) if self.failures.get(method) else None
        if failure:
            error, status, headers, hang = failure
            if hang:
                time.sleep(hang)
            body = {"ok": False, "error": error or "ratelimited"}
            return Response(json.dumps(body), status=status, headers=headers, content_type="application/json")
        if request.path.startswith("/hooks/"):
            return Response("ok", content_type="text/plain")
        if request.headers.get("Authorization") != f"Bearer {BOT_TOKEN}":
            return self.ok(ok=False, error="invalid_auth")
        if method == "conversations.open":
            return self.ok(channel={"id": "D" + args["users"][1:]})
        if method == "chat.postMessage":
            return self.ok(channel=args["channel"], ts=f"1700000000.{next(self._ts):06d}",
                           message={"text": args.get("text", "")})
        if method == "chat.update":
            return self.ok(channel=args["channel"], ts=args["ts"], text=args.get("text", ""))
        if method == "chat.postEphemeral":
            return self.ok(message_ts="1700000001.000001")
        if method == "users.info":
            member = self.members.get(args.get("user", ""))
            return self.ok(user=member) if member else self.ok(ok=False, error="user_not_found")
        return self.ok(ok=False, error="unknown_method")

    @staticmethod
    def ok(ok: bool = True, **data) -> Response:
        return Response(json.dumps({"ok": ok, **data}), content_type="application/json")


def start_fake(httpserver) -> FakeSlack:
    fake = FakeSlack(base_url=httpserver.url_for("/api/"), hooks_url=httpserver.url_for("/hooks/"))
    httpserver.expect_request(re.compile(r"^/(api|hooks)/.*")).respond_with_handler(fake.handle)
    return fake


# --- Slack's side of the interactivity endpoint -------------------------------------------


def button_payload(action: str, incident_id, notification_id="", *, user="U0ALICE", response_url="",
                   channel="D0ALICE") -> dict:
    """A `block_actions` payload as Slack sends it when a button of our message is pressed."""
    return {
        "type": "block_actions",
        "team": {"id": TEAM_ID, "domain": "vigil-test"},
        "user": {"id": user, "username": user.lower(), "name": user.lower(), "team_id": TEAM_ID},
        "api_app_id": "A0VIGIL01",
        "token": "legacy-verification-token-unused",
        "container": {"type": "message", "message_ts": "1700000000.000001", "channel_id": channel},
        "trigger_id": "123.456.abc",
        "channel": {"id": channel, "name": "directmessage"},
        "message": {"type": "message", "ts": "1700000000.000001", "text": "page"},
        "response_url": response_url,
        "actions": [{
            "action_id": f"vigil_{action}", "block_id": f"vigil_incident_{incident_id}",
            "text": {"type": "plain_text", "text": action.title()}, "value": f"{incident_id}:{notification_id}",
            "style": "primary", "type": "button", "action_ts": "1700000002.000001",
        }],
    }


def signed_post(client, payload: dict, *, secret: str = SIGNING_SECRET, timestamp: int | None = None,
                signature: str | None = None):
    """POST the payload as Slack does (form-encoded `payload=<json>`), signed with the
    signing secret by slack_sdk's own signer."""
    body = urlencode({"payload": json.dumps(payload)})
    ts = str(int(time.time()) if timestamp is None else timestamp)
    if signature is None:
        signature = SignatureVerifier(secret).generate_signature(timestamp=ts, body=body)
    return client.post("/integrations/slack/interactivity", data=body,
                       content_type="application/x-www-form-urlencoded",
                       headers={"X-Slack-Request-Timestamp": ts, "X-Slack-Signature": signature})
