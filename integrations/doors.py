"""The one ingest door: it reads a `DoorSpec` (see `integrations/formats/spec.py`) and
does what every door does: read the body, authenticate the key, check the spec's second
credential, apply the rate limit, parse with the spec's format, hand each event to the one
pipeline (or, for change events, to `incidents.changes`), answer.

It holds no business rules and no per-format code: what differs between doors is data in
their specs. `integrations/urls.py` makes one view per door path from the list of specs."""

from __future__ import annotations

import hmac
import logging
import time

from django.db import DatabaseError, transaction
from django.utils import timezone
from prometheus_client import Histogram
from rest_framework.parsers import JSONParser
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.views import APIView

from incidents.changes import record_change
from incidents.pipeline import Outcome, apply_event, log_rejected
from integrations import keys
from integrations.body import BodyError, parse_json_object
from integrations.door_openapi import DoorSchema
from integrations.formats.base import FormatError, NormalizedEvent
from integrations.formats.spec import DoorPath, DoorSpec, Presented
from integrations.models import IntegrationKey
from integrations.ratelimit import check_inbound, client_ip, count_failed_auth

logger = logging.getLogger("vigil.doors")

LAST_USED_RESOLUTION_SECONDS = 60
# Observed in this process (the default registry); /metrics shows the answering process's
# own histogram, so with several gunicorn workers each scrape sees one worker's share.
INGEST_SECONDS = Histogram(
    "vigil_ingest_seconds", "Time a door took to answer, from request to response.", ["door"],
    buckets=(0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0),
)


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


class Door(APIView):
    """One door path of one spec: `Door.as_view(spec=..., door_path=...)`."""

    # Doors authenticate by integration key only: session cookies and tokens are ignored,
    # which also makes them CSRF-exempt.
    authentication_classes: list = []
    permission_classes = [AllowAny]
    # The body is read as JSON whatever the Content-Type (see handle); this only tells the
    # OpenAPI document what to show.
    parser_classes = [JSONParser]
    schema = DoorSchema()
    # Set per door path by `for_path` (as_view only takes names the class already has).
    spec: DoorSpec = None
    door_path: DoorPath = None

    @classmethod
    def for_path(cls, spec: DoorSpec, door_path: DoorPath):
        # OPTIONS stays answered as on any DRF view; every other method is the path's.
        return cls.as_view(spec=spec, door_path=door_path, http_method_names=[*door_path.answers, "options"])

    # What OPTIONS (DRF's metadata) calls this door.
    def get_view_name(self) -> str:
        return self.door_path.summaries[self.door_path.methods[0]]

    def get_view_description(self, html=False) -> str:
        return self.spec.description

    def get(self, request, key: str | None = None):
        return self.handle(request, key)

    def dispatch(self, request, *args, **kwargs):
        started = time.perf_counter()
        try:
            return super().dispatch(request, *args, **kwargs)
        finally:
            INGEST_SECONDS.labels(door=self.spec.slug).observe(time.perf_counter() - started)

    post = put = get

    # --- the answers that depend on the spec ------------------------------------------
    def invalid_key_response(self) -> Response:
        if self.spec.pagerduty_errors:
            return Response(error_body(["Invalid routing key"]), status=400)
        return Response(error_body(["Invalid integration key"], "Unauthorized", "unauthorized"), status=401)

    def body_error_response(self, error: BodyError) -> Response:
        if error.parse_error and self.spec.pagerduty_errors:
            return Response(
                error_body(
                    ["JSON parse error", error.message],
                    "Event object format is unrecognized",
                    "Unrecognized object",
                ),
                status=400,
            )
        return Response(error_body([error.message]), status=400)

    def refuse(self, request, integration: IntegrationKey) -> Response | None:
        """The spec's second credential (PagerTree's token), checked only when the key has
        one configured: a response refuses the request."""
        header = self.spec.token_header
        if not header or not integration.pagertree_token_digest:
            return None
        token = request.headers.get(header, "")
        if token and hmac.compare_digest(keys.digest(token), integration.pagertree_token_digest):
            return None
        return Response(error_body([f"Invalid {header}"], "Unauthorized", "unauthorized"), status=401)

    def parse_events(self, body: dict, integration: IntegrationKey) -> list[NormalizedEvent]:
        if self.spec.takes_key_options:
            return self.spec.parse(
                body,
                group_by_group_key=integration.group_by_alertmanager_group_key,
                watchdog_alertnames=integration.watchdog_alertnames or (),
            )
        return self.spec.parse(body)

    def apply_events(
        self, integration: IntegrationKey, events: list[NormalizedEvent], *, ip: str, body_text: str
    ) -> list[Outcome]:
        if self.spec.records_changes:
            for event in events:
                record_change(integration, event, body_text=body_text)
            return []
        single = len(events) == 1
        return [
            apply_event(
                integration, event, format=self.spec.slug, client_ip=ip,
                body_text=body_text if single else None,
            )
            for event in events
        ]

    # --- the one flow ------------------------------------------------------------------
    def handle(self, request, path_key: str | None):
        spec = self.spec
        raw = request._request.body
        body = None if spec.reads_body else {}
        body_error = None
        try:
            if spec.reads_body:
                body = parse_json_object(raw)
        except BodyError as exc:
            body_error = exc
        if body_error is not None and spec.key_in_body:
            # The key is inside what could not be read.
            return self.body_error_response(body_error)

        presented = spec.read_key(Presented(request.headers, body, path_key))
        integration = IntegrationKey.objects.authenticate(presented)
        refusal = self.invalid_key_response() if integration is None else self.refuse(request, integration)
        if refusal is not None:
            # Nothing is written for an unknown key; a client that keeps guessing gets 429.
            verdict = count_failed_auth(client_ip(request._request))
            return self.rate_limited_response(verdict.retry_after) if verdict.limited else refusal
        # The event log keeps the body as received, except the working key itself.
        raw = without_key(raw, presented)
        if body_error is not None:
            return self.body_error_response(body_error)

        ip = client_ip(request._request)
        try:
            events = self.parse_events(body, integration)
        except FormatError as exc:
            verdict = check_inbound(request._request, ip=ip, key_digest=integration.key_digest)
            if verdict.limited:
                return self.rate_limited_response(verdict.retry_after)
            log_rejected(integration, format=spec.slug, errors=exc.errors,
                         raw=raw.decode("utf-8", errors="replace"), client_ip=ip)
            return Response(error_body(exc.errors), status=400)

        if not (events and all(e.never_limited for e in events)):
            verdict = check_inbound(request._request, ip=ip, key_digest=integration.key_digest)
            if verdict.limited:
                return self.rate_limited_response(verdict.retry_after)

        outcomes = self.apply_events(integration, events, ip=ip, body_text=raw.decode("utf-8", errors="replace"))
        self.touch(integration)
        return Response(spec.ok_body(outcomes), status=spec.ok_status)
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
