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
import uuid

from django.db import DatabaseError, transaction
from django.utils import timezone
from prometheus_client import Histogram
from rest_framework.negotiation import BaseContentNegotiation
from rest_framework.parsers import JSONParser
from rest_framework.permissions import AllowAny
from rest_framework.renderers import JSONRenderer
from rest_framework.response import Response
from rest_framework.views import APIView

from incidents.changes import record_change
from incidents.models import Event
from incidents.noise import flapping
from incidents.pipeline import Outcome, apply_events, log_rejected
from integrations import key_cache, keys, preflight
from integrations.body import BodyError, parse_json_object
from integrations.door_openapi import DoorSchema
from integrations.formats.base import FormatError, NormalizedEvent
from integrations.formats.spec import DoorPath, DoorSpec, Presented, Receipt, RecordedRequest
from integrations.key_scrub import hide_in, hide_in_body
from integrations.models import IntegrationKey
from integrations.ratelimit import client_ip, count_failed_auth

logger = logging.getLogger("vigil.doors")

LAST_USED_RESOLUTION_SECONDS = 60
# Observed in this process (the default registry); /metrics shows the answering process's
# own histogram, so with several gunicorn workers each scrape sees one worker's share.
INGEST_SECONDS = Histogram(
    "vigil_ingest_seconds", "Time a door took to answer, from request to response.", ["door"],
    buckets=(0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0),
)


def error_body(errors: list[str], message: str = "Event object is invalid", status: str = "invalid event") -> dict:
    return {"status": status, "message": message, "errors": errors}


class AlwaysJSON(BaseContentNegotiation):
    """Doors answer JSON whatever `Accept` says: real senders ask for PagerDuty's
    `application/vnd.pagerduty+json;version=2` or `text/plain`, and a 406 would lose
    their alert. The body is read as JSON whatever its Content-Type (see `handle`)."""

    def select_parser(self, request, parsers):
        return parsers[0]

    def select_renderer(self, request, renderers, format_suffix=None):
        return renderers[0], renderers[0].media_type


def recorded_request(integration: IntegrationKey, request_id: str) -> RecordedRequest | None:
    """The first event an earlier request of this key logged, by its request id."""
    try:
        wanted = uuid.UUID(request_id)
    except ValueError:
        return None
    event = (
        Event.objects.filter(integration_key=integration, request_id=wanted)
        .order_by("id")
        .only("action", "outcome", "incident_id", "dedup_key", "received_at", "reason")
        .first()
    )
    if event is None:
        return None
    return RecordedRequest(event.action, event.outcome, event.incident_id, event.dedup_key,
                           event.received_at, event.reason)


class Door(APIView):
    """One door path of one spec: `Door.as_view(spec=..., door_path=...)`."""

    # Doors authenticate by integration key only: session cookies and tokens are ignored,
    # which also makes them CSRF-exempt.
    authentication_classes: list = []
    permission_classes = [AllowAny]
    # The body is read as JSON whatever the Content-Type (see handle); this only tells the
    # OpenAPI document what to show.
    parser_classes = [JSONParser]
    renderer_classes = [JSONRenderer]
    content_negotiation_class = AlwaysJSON
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

    def get(self, request, key: str | None = None, **params):
        return self.handle(request, key, params)

    def dispatch(self, request, *args, **kwargs):
        started = time.perf_counter()
        try:
            return super().dispatch(request, *args, **kwargs)
        finally:
            INGEST_SECONDS.labels(door=self.spec.slug).observe(time.perf_counter() - started)

    post = put = patch = get

    # --- the answers that depend on the spec ------------------------------------------
    def respond(self, body: dict, status: int) -> Response:
        """Every answer leaves through here: a vendor-shaped spec (Opsgenie) rewrites it,
        adding the request's id and the seconds it took."""
        if self.spec.answer is not None:
            receipt = Receipt(str(self.request_id), round(time.perf_counter() - self.started, 3))
            body = self.spec.answer(status, body, receipt)
        return Response(body, status=status)

    def invalid_key_response(self) -> Response:
        if self.spec.pagerduty_errors:
            return self.respond(error_body(["Invalid routing key"]), 400)
        return self.respond(error_body(["Invalid integration key"], "Unauthorized", "unauthorized"), 401)

    def body_error_response(self, error: BodyError) -> Response:
        if error.parse_error and self.spec.pagerduty_errors:
            return self.respond(
                error_body(
                    ["JSON parse error", error.message],
                    "Event object format is unrecognized",
                    "Unrecognized object",
                ),
                400,
            )
        # Vendors that tell syntax from meaning (Opsgenie: 400 vs 422) get their status.
        return self.respond(error_body([error.message]), 400 if error.parse_error else self.spec.invalid_status)

    def refuse(self, request, integration: IntegrationKey) -> Response | None:
        """The spec's second credential (PagerTree's token), checked only when the key has
        one configured: a response refuses the request."""
        header = self.spec.token_header
        if not header or not integration.pagertree_token_digest:
            return None
        token = request.headers.get(header, "")
        if token and hmac.compare_digest(keys.digest(token), integration.pagertree_token_digest):
            return None
        return self.respond(error_body([f"Invalid {header}"], "Unauthorized", "unauthorized"), 401)

    def parse_events(self, body: dict, integration: IntegrationKey, params: dict) -> list[NormalizedEvent]:
        if self.door_path.parse is not None:
            return self.door_path.parse(body, params)
        return self.spec.parse_for_key(
            body,
            group_by_group_key=integration.group_by_alertmanager_group_key,
            watchdog_alertnames=integration.watchdog_alertnames or (),
        )

    def apply_events(
        self, integration: IntegrationKey, events: list[NormalizedEvent], *, ip: str, body_text: str,
        user_agent: str = "", flaps: list | None = None,
    ) -> list[Outcome]:
        if self.spec.records_changes:
            for event in events:
                record_change(integration, event, body_text=body_text)
            return []
        # One event: the log keeps the body as received; several: each its own part.
        return apply_events(
            integration, events, format=self.spec.slug, client_ip=ip,
            body_text=body_text if len(events) == 1 else None, request_id=self.stored_request_id,
            user_agent=user_agent, flaps=flaps,
        )

    # --- the one flow ------------------------------------------------------------------
    @property
    def reads_body(self) -> bool:
        own = self.door_path.reads_body
        return self.spec.reads_body if own is None else own

    @property
    def stored_request_id(self) -> uuid.UUID | None:
        """Only vendor-shaped doors report their request ids, so only they store them."""
        return self.request_id if self.spec.answer is not None else None

    def handle(self, request, path_key: str | None, path_params: dict):
        spec = self.spec
        self.started = time.perf_counter()
        self.request_id = uuid.uuid4()
        raw = request._request.body
        reads_body = self.reads_body
        body = None if reads_body else {}
        body_error = None
        try:
            if reads_body:
                body = {} if self.door_path.body_optional and not raw.strip() else parse_json_object(raw)
        except BodyError as exc:
            body_error = exc
        if body_error is not None and spec.key_in_body:
            # The key is inside what could not be read.
            return self.body_error_response(body_error)

        presented = spec.read_key(Presented(request.headers, body, path_key))
        found = key_cache.lookup(presented)
        integration = found.key
        refusal = self.refusal(request, integration)
        if refusal is not None:
            return self.refused(request, refusal)
        # The event log keeps the body as received, except the working key itself, however
        # the body wrote it (T50); what the format parses from it is cleaned below.
        raw, key_in_body = hide_in_body(raw, presented)
        if body_error is not None:
            return self.body_error_response(body_error)
        if self.door_path.report is not None:
            status, answer = self.door_path.report(recorded_request(integration, path_params.get("request_id", "")))
            return self.respond(answer, status)

        ip = client_ip(request._request)
        # The query string's parameters first: a path parameter of the same name wins.
        params = {**request._request.GET.dict(), **path_params}
        # Who sent it, for the key's revoke page; a header already read, no query. NUL
        # cannot be stored in PostgreSQL text.
        agent = request.headers.get("User-Agent", "").replace("\x00", "")[:200]
        format_error = None
        try:
            events = self.parse_events(body, integration, params)
            if key_in_body:
                events = hide_in(events, presented)
        except FormatError as exc:
            events, format_error = [], exc

        # Redis, once, before anything is written: the key generation, the rate limit
        # (closing pages and heartbeats are never counted) and the events' flapping counts.
        counted = format_error is not None or not (events and all(e.never_limited for e in events))
        check = preflight.run(integration, ip=ip, counted=counted,
                              events=[] if spec.records_changes else events)
        flaps = check.flaps
        confirmed = key_cache.confirm(found, check.generation)
        if confirmed is not found:
            # A key changed in some process since this one remembered it: as the database says now.
            if confirmed.key is None or flapping.limits_of(confirmed.key) != flapping.limits_of(integration):
                flaps = None  # read for limits that no longer hold: the pipeline reads them again
            integration = confirmed.key
            refusal = self.refusal(request, integration)
            if refusal is not None:
                return self.refused(request, refusal)
        if check.verdict.limited:
            return self.rate_limited_response(check.verdict.retry_after)
        if format_error is not None:
            log_rejected(integration, format=spec.slug,
                         errors=hide_in(format_error.errors, presented) if key_in_body else format_error.errors,
                         raw=raw.decode("utf-8", errors="replace"), client_ip=ip, user_agent=agent)
            return self.respond(error_body(format_error.errors), spec.invalid_status)

        outcomes = self.apply_events(integration, events, ip=ip, body_text=raw.decode("utf-8", errors="replace"),
                                     user_agent=agent, flaps=flaps)
        self.touch(integration)
        ok_body = self.door_path.ok_body or spec.ok_body
        return self.respond(ok_body(outcomes), spec.ok_status)

    def refusal(self, request, integration: IntegrationKey | None) -> Response | None:
        """The answer to a key that does not authenticate, or None for one that does."""
        return self.invalid_key_response() if integration is None else self.refuse(request, integration)

    def refused(self, request, refusal: Response) -> Response:
        # Nothing is written for an unknown key; a client that keeps guessing gets 429.
        verdict = count_failed_auth(client_ip(request._request))
        return self.rate_limited_response(verdict.retry_after) if verdict.limited else refusal

    def rate_limited_response(self, retry_after: int) -> Response:
        response = self.respond(
            error_body(
                ["rate limit exceeded"],
                "Requests are arriving too quickly. Please retry later.",
                "throttle event",
            ),
            429,
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
                integration.last_used_at = now
                key_cache.remember_use(integration)
            except DatabaseError as exc:
                # The events are already committed: a lost timestamp must not turn their 2xx
                # into a 503, which would make the sender send them again.
                logger.warning("could not record the last use of key %s…: %s",
                               integration.key_prefix, type(exc).__name__)
