"""A local Twilio: the REST paths the `twilio` package calls for Messages and Calls, answering
Twilio's JSON shapes (and its error bodies), recording what Vigil sent; and Twilio's side of
the callbacks: SMS replies and a call's TwiML fetch and keypress, posted back to Vigil signed
with `X-Twilio-Signature` computed by twilio's own RequestValidator.

Runs on pytest-httpserver, so a real Celery worker in another process reaches it too
(TWILIO_API_BASE_URL = `fake.base_url`)."""

from __future__ import annotations

import json
import re
import threading
import time
import uuid
import xml.etree.ElementTree as ET
from collections.abc import Callable
from dataclasses import dataclass, field
from urllib.parse import urlsplit

import pytest
from twilio.request_validator import RequestValidator
from werkzeug import Request, Response

API = "2010-04-01"
ACCOUNT_SID = "AC" + "1234567890abcdef" * 2
AUTH_TOKEN = "fake-twilio-auth-token-0f3c9d7e5b1a"
FROM_NUMBER = "+15005550006"  # Twilio's own magic test "from" number

# (url, form fields, headers) -> (status, body text): the Django test client or httpx.
Poster = Callable[[str, dict, dict], tuple[int, str]]


@dataclass
class Sent:
    to: str
    params: dict
    sid: str
    received_at: float = field(default_factory=time.monotonic)

    @property
    def body(self) -> str:
        return self.params.get("Body", "")


class FakeTwilio:
    def __init__(self, httpserver, account_sid: str = ACCOUNT_SID, auth_token: str = AUTH_TOKEN):
        self.server = httpserver
        self.account_sid = account_sid
        self.auth_token = auth_token
        self.messages: list[Sent] = []
        self.calls: list[Sent] = []
        self.invalid_numbers: set[str] = set()
        self.refused_auth = 0
        self._fail: list[tuple[int, int, str]] = []  # (HTTP status, Twilio code, message)
        self._delay: list[float] = []
        self._lock = threading.Lock()
        resource = re.compile(rf"^/{API}/Accounts/(?P<sid>[^/]+)/(?P<what>Messages|Calls)\.json$")
        httpserver.expect_request(resource, method="POST").respond_with_handler(self._handle)

    @property
    def base_url(self) -> str:
        return self.server.url_for("").rstrip("/")

    # --- what the tests arrange ----------------------------------------------------------

    def fail_next(self, status: int, code: int, message: str) -> None:
        with self._lock:
            self._fail.append((status, code, message))

    def delay_next(self, seconds: float) -> None:
        with self._lock:
            self._delay.append(seconds)

    def wait_for_messages(self, count: int, timeout: float) -> list[Sent]:
        return self._wait(self.messages, count, timeout)

    def wait_for_calls(self, count: int, timeout: float) -> list[Sent]:
        return self._wait(self.calls, count, timeout)

    def _wait(self, sent: list[Sent], count: int, timeout: float) -> list[Sent]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self._lock:
                if len(sent) >= count:
                    return list(sent)
            time.sleep(0.02)
        raise TimeoutError(f"expected {count} within {timeout} s, got {[s.to for s in sent]}")

    # --- the REST API ----------------------------------------------------------------------

    def _error(self, status: int, code: int, message: str) -> Response:
        return Response(
            _json({"code": code, "message": message, "more_info": f"https://www.twilio.com/docs/errors/{code}",
                   "status": status}),
            status=status, content_type="application/json",
        )

    def _handle(self, request: Request) -> Response:
        match = re.match(rf"^/{API}/Accounts/(?P<sid>[^/]+)/(?P<what>Messages|Calls)\.json$", request.path)
        auth = request.authorization
        if (auth is None or auth.username != self.account_sid or auth.password != self.auth_token
                or match["sid"] != self.account_sid):
            self.refused_auth += 1
            return self._error(401, 20003, "Authenticate")
        with self._lock:
            delay = self._delay.pop(0) if self._delay else 0
            failure = self._fail.pop(0) if self._fail else None
        if delay:
            time.sleep(delay)
        if failure:
            return self._error(*failure)
        params = request.form.to_dict()
        to = params.get("To", "")
        if to in self.invalid_numbers:
            return self._error(400, 21211, f"The 'To' number {to} is not a valid phone number.")
        if "From" not in params and "MessagingServiceSid" not in params:
            return self._error(400, 21603, "A 'From' or 'MessagingServiceSid' parameter is required to send a message")
        if match["what"] == "Messages":
            if not params.get("Body"):
                return self._error(400, 21602, "Message body is required.")
            sent = Sent(to, params, "SM" + uuid.uuid4().hex)
            with self._lock:
                self.messages.append(sent)
            return Response(_json(self._message_json(sent)), status=201, content_type="application/json")
        if not params.get("Url") and not params.get("Twiml"):
            return self._error(400, 21205, "Url parameter is required.")
        sent = Sent(to, params, "CA" + uuid.uuid4().hex)
        with self._lock:
            self.calls.append(sent)
        return Response(_json(self._call_json(sent)), status=201, content_type="application/json")

    def _message_json(self, sent: Sent) -> dict:
        now = time.strftime("%a, %d %b %Y %H:%M:%S +0000", time.gmtime())
        uri = f"/{API}/Accounts/{self.account_sid}/Messages/{sent.sid}.json"
        return {
            "account_sid": self.account_sid, "api_version": API, "body": sent.body,
            "date_created": now, "date_sent": None, "date_updated": now, "direction": "outbound-api",
            "error_code": None, "error_message": None, "from": sent.params.get("From"),
            "messaging_service_sid": sent.params.get("MessagingServiceSid"), "num_media": "0",
            "num_segments": "1", "price": None, "price_unit": "USD", "sid": sent.sid, "status": "queued",
            "subresource_uris": {"media": uri.replace(".json", "/Media.json")}, "to": sent.to, "uri": uri,
        }

    def _call_json(self, sent: Sent) -> dict:
        now = time.strftime("%a, %d %b %Y %H:%M:%S +0000", time.gmtime())
        return {
            "account_sid": self.account_sid, "annotation": None, "answered_by": None, "api_version": API,
            "caller_name": None, "date_created": now, "date_updated": now, "direction": "outbound-api",
            "duration": None, "end_time": None, "forwarded_from": None, "from": sent.params.get("From"),
            "from_formatted": sent.params.get("From"), "group_sid": None, "parent_call_sid": None,
            "phone_number_sid": None, "price": None, "price_unit": "USD", "sid": sent.sid, "start_time": None,
            "status": "queued", "to": sent.to, "to_formatted": sent.to,
            "uri": f"/{API}/Accounts/{self.account_sid}/Calls/{sent.sid}.json",
        }

    # --- Twilio calling Vigil back -------------------------------------------------------------

    def signature(self, url: str, params: dict, token: str | None = None) -> str:
        return RequestValidator(token or self.auth_token).compute_signature(url, params)

    def post_signed(self, post: Poster, url: str, params: dict, *, token: str | None = None,
                    signature: str | None = None) -> tuple[int, str]:
        headers = {"X-Twilio-Signature": signature if signature is not None else self.signature(url, params, token)}
        if signature == "":
            headers = {}
        return post(url, params, headers)

    def sms_reply(self, post: Poster, site_url: str, from_: str, body: str, **signing) -> tuple[int, str]:
        """A person texting `body` to our number (Twilio's incoming-message webhook fields)."""
        params = {
            "MessageSid": "SM" + uuid.uuid4().hex, "SmsSid": "", "AccountSid": self.account_sid,
            "From": from_, "To": FROM_NUMBER, "Body": body, "NumMedia": "0", "NumSegments": "1",
            "SmsStatus": "received", "ApiVersion": API,
        }
        params["SmsSid"] = params["MessageSid"]
        return self.post_signed(post, f"{site_url}/twilio/sms/", params, **signing)

    def _call_params(self, call: Sent) -> dict:
        return {"CallSid": call.sid, "AccountSid": self.account_sid, "From": call.params.get("From", ""),
                "To": call.to, "CallStatus": "in-progress", "Direction": "outbound-api", "ApiVersion": API}

    def answer(self, post: Poster, call: Sent, **signing) -> tuple[int, str]:
        """The person picks up: Twilio fetches the call's TwiML from its Url."""
        return self.post_signed(post, call.params["Url"], self._call_params(call), **signing)

    def press(self, post: Poster, call: Sent, twiml: str, digits: str, **signing) -> tuple[int, str]:
        """The person presses `digits` during the TwiML's <Gather>: Twilio posts to its action."""
        gather = ET.fromstring(twiml).find("Gather")
        assert gather is not None, twiml
        params = {**self._call_params(call), "Digits": digits, "FinishedOnKey": ""}
        return self.post_signed(post, gather.attrib["action"], params, **signing)


def _json(value) -> str:
    return json.dumps(value)


def said(twiml: str) -> list[str]:
    """Every <Say> in a TwiML document, in order (inside <Gather> too)."""
    return [el.text or "" for el in ET.fromstring(twiml).iter("Say")]


def texted(twiml: str) -> list[str]:
    """The <Message> bodies of a messaging TwiML answer."""
    return [el.text or "" for el in ET.fromstring(twiml).iter("Message")]


@pytest.fixture
def fake_twilio(httpserver, settings) -> FakeTwilio:
    """Twilio configured for Vigil and pointed at the local fake (the auth token is one
    only the fake and the signing of callbacks know)."""
    fake = FakeTwilio(httpserver)
    settings.TWILIO_ACCOUNT_SID = fake.account_sid
    settings.TWILIO_AUTH_TOKEN = fake.auth_token
    settings.TWILIO_FROM_NUMBER = FROM_NUMBER
    settings.TWILIO_MESSAGING_SERVICE_SID = ""
    settings.TWILIO_API_BASE_URL = fake.base_url
    settings.TWILIO_TIMEOUT_SECONDS = 2
    return fake


def django_poster(client) -> Poster:
    """Post with Django's test client (the path of the signed URL; the signature covers the
    public URL, as behind a reverse proxy)."""

    def post(url: str, data: dict, headers: dict) -> tuple[int, str]:
        response = client.post(urlsplit(url).path, data, headers=headers)
        return response.status_code, response.content.decode()

    return post
