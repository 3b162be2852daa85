"""The shape every ingest door shares: read the body, authenticate the key, parse with the
door's format, apply the rate limit, hand each event to the one pipeline, answer.

A door subclass says only where its key lives, which format parses it, and how its
success answer looks. It holds no business rules."""

from __future__ import annotations

import base64
import binascii
import logging
from collections.abc import Callable

from django.db import DatabaseError, transaction
from django.http import HttpRequest
from django.utils import timezone
from rest_framework.parsers import JSONParser
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.views import APIView

from incidents.pipeline import Outcome, apply_event, log_rejected
from integrations import keys
from integrations.body import BodyError, parse_json_object
from integrations.formats.base import FormatError, NormalizedEvent
from integrations.models import IntegrationKey
from integrations.ratelimit import check_inbound, client_ip

logger = logging.getLogger("vigil.doors")

LAST_USED_RESOLUTION_SECONDS = 60


def without_key(raw: bytes, raw_key: str | None) -> bytes:
    """The body with the presented key replaced by its display prefix: a body that carries
    its own routing key must not leave a working key in the event log (or a database dump)."""
    if not raw_key:
        return raw
    needle = raw_key.strip().encode("utf-8")
    if not needle:
        return raw
    return raw.replace(needle, (keys.display_prefix(raw_key.strip()) + "…").encode("utf-8"))


def error_body(errors: list[str], message: str = "Event object is invalid", status: str = "invalid event") -> dict:
    return {"status": status, "message": message, "errors": errors}


def bearer_token(request: HttpRequest) -> str | None:
    header = request.META.get("HTTP_AUTHORIZATION", "")
    scheme, _, value = header.partition(" ")
    if scheme.lower() == "bearer" and value.strip():
        return value.strip()
    return None


def basic_password(request: HttpRequest) -> str | None:
    """Grafana's Basic auth: the key is the password (the user name is ignored)."""
    header = request.META.get("HTTP_AUTHORIZATION", "")
    scheme, _, value = header.partition(" ")
    if scheme.lower() != "basic" or not value.strip():
        return None
    try:
        decoded = base64.b64decode(value.strip(), validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        return None
    _user, sep, password = decoded.partition(":")
    return password if sep and password else None


class Door(APIView):
    """Subclasses set `format_slug` and `parse`, and may override `raw_key`,
    `invalid_key_response`, `success_response` and `body_error_response`."""

    # Doors authenticate by integration key only: session cookies and tokens are ignored,
    # which also makes them CSRF-exempt.
    authentication_classes: list = []
    permission_classes = [AllowAny]
    # The body is read as JSON whatever the Content-Type (see handle); this only tells the
    # OpenAPI document what to show.
    parser_classes = [JSONParser]
    format_slug: str = ""
    parse: Callable[[dict], list[NormalizedEvent]]
    success_status = 202
    #: Body must parse before the key can be found (the key is in the body).
    key_in_body = False
    #: False for doors that ignore the body (heartbeats): any body, or none, is fine.
    reads_body = True

    # --- what a subclass may change -------------------------------------------------
    def raw_key(self, request, body: dict | None, path_key: str | None) -> str | None:
        return path_key or bearer_token(request)

    def invalid_key_response(self) -> Response:
        return Response(
            error_body(["Invalid integration key"], "Unauthorized", "unauthorized"), status=401
        )

    def body_error_response(self, error: BodyError) -> Response:
        return Response(error_body([error.message]), status=400)

    def success_response(self, outcomes: list[Outcome]) -> Response:
        first = outcomes[0] if outcomes else None
        return Response(
            {
                "status": "success",
                "message": "Event processed",
                "dedup_key": first.dedup_key if first else None,
                "incident_id": first.incident_id if first else None,
            },
            status=self.success_status,
        )

    def parse_events(self, body: dict, request, integration: IntegrationKey) -> list[NormalizedEvent]:
        return type(self).parse(body)

    def refuse(self, request, integration: IntegrationKey) -> Response | None:
        """A second credential some formats carry (PagerTree's token): a response refuses."""
        return None

    def apply_events(
        self, integration: IntegrationKey, events: list[NormalizedEvent], *, ip: str, body_text: str
    ) -> list[Outcome]:
        single = len(events) == 1
        return [
            apply_event(
                integration, event, format=self.format_slug, client_ip=ip,
                body_text=body_text if single else None,
            )
            for event in events
        ]

    # --- the one flow ------------------------------------------------------------------
    def post(self, request, key: str | None = None):
        return self.handle(request, key)

    def handle(self, request, path_key: str | None):
        raw = request._request.body
        body = None if self.reads_body else {}
        body_error = None
        try:
            if self.reads_body:
                body = parse_json_object(raw)
        except BodyError as exc:
            body_error = exc
        if body_error is not None and self.key_in_body:
            # The key is inside what could not be read.
            return self.body_error_response(body_error)

        presented = self.raw_key(request, body, path_key)
        integration = IntegrationKey.objects.authenticate(presented)
        if integration is None:
            return self.invalid_key_response()  # nothing is written for an unknown key
        refusal = self.refuse(request, integration)
        if refusal is not None:
            return refusal
        # The event log keeps the body as received, except the working key itself.
        raw = without_key(raw, presented)
        if body_error is not None:
            return self.body_error_response(body_error)

        ip = client_ip(request._request)
        try:
            events = self.parse_events(body, request, integration)
        except FormatError as exc:
            verdict = check_inbound(request._request, ip=ip, key_digest=integration.key_digest)
            if verdict.limited:
                return self.rate_limited_response(verdict.retry_after)
            log_rejected(integration, format=self.format_slug, errors=exc.errors,
                         raw=raw.decode("utf-8", errors="replace"), client_ip=ip)
            return Response(error_body(exc.errors), status=400)

        if not (events and all(e.is_closing for e in events)):
            verdict = check_inbound(request._request, ip=ip, key_digest=integration.key_digest)
            if verdict.limited:
                return self.rate_limited_response(verdict.retry_after)

        outcomes = self.apply_events(integration, events, ip=ip, body_text=raw.decode("utf-8", errors="replace"))
        self.touch(integration)
        return self.success_response(outcomes)

    def rate_limited_response(self, retry_after: int) -> Response:
        response = Response(
            error_body(
                ["rate limit exceeded"],
                "Requests are arriving too quickly. Please retry later.",
                "throttle event",
            ),
            status=429,
        )
        response["Retry-After"] = str(retry_after)
        return response

    @staticmethod
    def touch(integration: IntegrationKey) -> None:
        """Record last use, at most once a minute per key, to keep the hot path lean."""
        now = timezone.now()
        last = integration.last_used_at
        if last is None or (now - last).total_seconds() >= LAST_USED_RESOLUTION_SECONDS:
            try:
                with transaction.atomic():
                    IntegrationKey.objects.filter(pk=integration.pk).update(last_used_at=now)
            except DatabaseError as exc:
                # The events are already committed: a lost timestamp must not turn their 2xx
                # into a 503, which would make the sender send them again.
                logger.warning("could not record the last use of key %s…: %s",
                               integration.key_prefix, type(exc).__name__)
