"""The ingest doors. Each is a few lines: where the key lives, which format, what answer."""

import hmac

from drf_spectacular.utils import OpenApiExample, OpenApiParameter, extend_schema
from rest_framework.response import Response

from incidents.changes import record_change
from integrations import keys, schemas
from integrations.body import BodyError
from integrations.doors import Door, basic_password, bearer_token, error_body
from integrations.formats import FORMATS

ERRORS = {
    400: schemas.ErrorBody,
    401: schemas.ErrorBody,
    413: schemas.ErrorBody,
    429: schemas.ErrorBody,
}
PATH_KEY = OpenApiParameter(
    "key", str, OpenApiParameter.PATH, description="The integration key (`ik_...`)."
)


def ingest_schema(*, request, ok_status: int, ok_body, example: dict, summary: str, path_key=False, **extra):
    """One extend_schema per door: its request shape, an example, and the common errors."""
    responses = {ok_status: ok_body, **ERRORS}
    return extend_schema(
        summary=summary,
        request=request,
        responses=responses,
        examples=[OpenApiExample("example", value=example, request_only=True)],
        parameters=[PATH_KEY] if path_key else None,
        auth=[],
        tags=["ingest"],
        **extra,
    )


# --- PagerDuty-compatible doors: the key is in the body, errors in PagerDuty's words --------


class PagerDutyDoor(Door):
    key_in_body = True
    key_field = "routing_key"

    def raw_key(self, request, body, path_key):
        key = body.get(self.key_field) if body else None
        if not key:
            # Older clients send the key in a header.
            key = request.META.get("HTTP_X_ROUTING_KEY")
        return key if isinstance(key, str) else None

    def invalid_key_response(self):
        return Response(error_body(["Invalid routing key"]), status=400)

    def body_error_response(self, error: BodyError):
        if error.parse_error:
            return Response(
                error_body(
                    ["JSON parse error", error.message],
                    "Event object format is unrecognized",
                    "Unrecognized object",
                ),
                status=400,
            )
        return Response(error_body([error.message]), status=400)


class EventsApiDoor(PagerDutyDoor):
    """PagerDuty Events API v2: `/api/events/ingest` and `/v2/enqueue`."""

    format_slug = "events_v2"
    parse = staticmethod(FORMATS["events_v2"])

    @ingest_schema(
        summary="Inbound Events (PagerDuty Events API v2 compatible)",
        request=schemas.EventsV2Request,
        ok_status=202,
        ok_body=schemas.EventAccepted,
        example=schemas.EVENTS_V2_EXAMPLE,
    )
    def post(self, request, key=None):
        return self.handle(request, key)


class ChangeEventsDoor(PagerDutyDoor):
    """PagerDuty change events: stored beside incidents, never paging."""

    format_slug = "change_events"
    parse = staticmethod(FORMATS["change_events"])

    def apply_events(self, integration, events, *, ip, body_text):
        for event in events:
            record_change(integration, event, body_text=body_text)
        return []

    def success_response(self, outcomes):
        return Response({"status": "success", "message": "Change event processed"}, status=202)

    @ingest_schema(
        summary="Change events (PagerDuty change events compatible)",
        request=schemas.ChangeEventRequest,
        ok_status=202,
        ok_body=schemas.ChangeAccepted,
        example=schemas.CHANGE_EVENT_EXAMPLE,
    )
    def post(self, request, key=None):
        return self.handle(request, key)


class EventsV1Door(PagerDutyDoor):
    """PagerDuty Events API v1 (legacy), for old Alertmanager configs with `service_key`."""

    format_slug = "events_v1"
    parse = staticmethod(FORMATS["events_v1"])
    key_field = "service_key"
    success_status = 200

    def success_response(self, outcomes):
        return Response(
            {"status": "success", "message": "Event processed", "incident_key": outcomes[0].dedup_key},
            status=self.success_status,
        )

    @ingest_schema(
        summary="Events API v1 (legacy PagerDuty generic endpoint)",
        request=schemas.EventsV1Request,
        ok_status=200,
        ok_body=schemas.EventsV1Accepted,
        example=schemas.EVENTS_V1_EXAMPLE,
    )
    def post(self, request, key=None):
        return self.handle(request, key)


# --- bearer-token and key-in-URL doors: 401 for a missing or unknown key ---------------------


class EventApiDoor(Door):
    """EventAPI: a small JSON alert with `Authorization: Bearer ik_...`."""

    format_slug = "eventapi"
    parse = staticmethod(FORMATS["eventapi"])

    def raw_key(self, request, body, path_key):
        return bearer_token(request)

    @ingest_schema(
        summary="EventAPI (bearer token)",
        request=schemas.EventApiRequest,
        ok_status=202,
        ok_body=schemas.EventAccepted,
        example=schemas.EVENTAPI_EXAMPLE,
    )
    def post(self, request, key=None):
        return self.handle(request, key)


class PagerTreeDoor(Door):
    """PagerTree webhook; the optional `pagertree-token` header is a second credential."""

    format_slug = "pagertree"
    parse = staticmethod(FORMATS["pagertree"])
    success_status = 200

    def refuse(self, request, integration):
        if not integration.pagertree_token_digest:
            return None
        token = request.META.get("HTTP_PAGERTREE_TOKEN", "")
        if token and hmac.compare_digest(keys.digest(token), integration.pagertree_token_digest):
            return None
        return Response(error_body(["Invalid pagertree-token"], "Unauthorized", "unauthorized"), status=401)

    @ingest_schema(
        summary="PagerTree webhook",
        request=schemas.PagerTreeRequest,
        ok_status=200,
        ok_body=schemas.EventAccepted,
        example=schemas.PAGERTREE_EXAMPLE,
        path_key=True,
    )
    def post(self, request, key=None):
        return self.handle(request, key)


class TemperstackDoor(Door):
    format_slug = "temperstack"
    parse = staticmethod(FORMATS["temperstack"])
    success_status = 200

    @ingest_schema(
        summary="Temperstack webhook",
        request=schemas.TemperstackRequest,
        ok_status=200,
        ok_body=schemas.EventAccepted,
        example=schemas.TEMPERSTACK_EXAMPLE,
        path_key=True,
    )
    def post(self, request, key=None):
        return self.handle(request, key)


class SpikeDoor(Door):
    format_slug = "spike"
    parse = staticmethod(FORMATS["spike"])
    success_status = 200

    def success_response(self, outcomes):
        response = super().success_response(outcomes)
        response.data = {"Ok": True, **response.data}
        return response

    @ingest_schema(
        summary="Spike webhook",
        request=schemas.SpikeRequest,
        ok_status=200,
        ok_body=schemas.SpikeAccepted,
        example=schemas.SPIKE_EXAMPLE,
        path_key=True,
    )
    def post(self, request, key=None):
        return self.handle(request, key)


class BatchDoor(Door):
    """Alertmanager-shaped notifications: one event per alert, one outcome per event."""

    success_status = 200

    def parse_events(self, body, request, integration):
        return type(self).parse(
            body,
            group_by_group_key=integration.group_by_alertmanager_group_key,
            watchdog_alertnames=integration.watchdog_alertnames or (),
        )

    def success_response(self, outcomes):
        return Response(
            {"status": "success", "events": [o.as_dict() for o in outcomes]}, status=self.success_status
        )


class AlertmanagerDoor(BatchDoor):
    """Prometheus Alertmanager webhook (`http_config.authorization` bearer, or key in path)."""

    format_slug = "alertmanager"
    parse = staticmethod(FORMATS["alertmanager"])

    @ingest_schema(
        summary="Prometheus Alertmanager webhook (native)",
        request=schemas.AlertmanagerRequest,
        ok_status=200,
        ok_body=schemas.BatchAccepted,
        example=schemas.ALERTMANAGER_EXAMPLE,
    )
    def post(self, request, key=None):
        return self.handle(request, key)


class AlertmanagerPathKeyDoor(AlertmanagerDoor):
    """The same door with the key in the URL, for senders that cannot set a header."""

    @ingest_schema(
        summary="Prometheus Alertmanager webhook (native, key in the path)",
        request=schemas.AlertmanagerRequest,
        ok_status=200,
        ok_body=schemas.BatchAccepted,
        example=schemas.ALERTMANAGER_EXAMPLE,
        path_key=True,
        operation_id="alertmanager_ingest_key_in_path",
    )
    def post(self, request, key=None):
        return self.handle(request, key)


class GrafanaDoor(BatchDoor):
    """Grafana alerting webhook contact point: bearer, Basic (key as password) or path."""

    format_slug = "grafana"
    parse = staticmethod(FORMATS["grafana"])

    def raw_key(self, request, body, path_key):
        return path_key or bearer_token(request) or basic_password(request)

    @ingest_schema(
        summary="Grafana alerting webhook (native)",
        request=schemas.GrafanaRequest,
        ok_status=200,
        ok_body=schemas.BatchAccepted,
        example=schemas.GRAFANA_EXAMPLE,
    )
    def post(self, request, key=None):
        return self.handle(request, key)

    @ingest_schema(
        summary="Grafana alerting webhook (native, PUT)",
        request=schemas.GrafanaRequest,
        ok_status=200,
        ok_body=schemas.BatchAccepted,
        example=schemas.GRAFANA_EXAMPLE,
    )
    def put(self, request, key=None):
        return self.handle(request, key)


class GrafanaPathKeyDoor(GrafanaDoor):
    """The same door with the key in the URL."""

    @ingest_schema(
        summary="Grafana alerting webhook (native, key in the path)",
        request=schemas.GrafanaRequest,
        ok_status=200,
        ok_body=schemas.BatchAccepted,
        example=schemas.GRAFANA_EXAMPLE,
        path_key=True,
        operation_id="grafana_ingest_key_in_path",
    )
    def post(self, request, key=None):
        return self.handle(request, key)

    @ingest_schema(
        summary="Grafana alerting webhook (native, key in the path, PUT)",
        request=schemas.GrafanaRequest,
        ok_status=200,
        ok_body=schemas.BatchAccepted,
        example=schemas.GRAFANA_EXAMPLE,
        path_key=True,
        operation_id="grafana_ingest_key_in_path_put",
    )
    def put(self, request, key=None):
        return self.handle(request, key)


class HeartbeatDoor(Door):
    """Any GET, HEAD or POST to the key's heartbeat URL is a beat; the body is not read."""

    format_slug = "heartbeat"
    parse = staticmethod(FORMATS["heartbeat"])
    reads_body = False
    success_status = 200

    def success_response(self, outcomes):
        return Response({"status": "success", "message": "PONG"}, status=200)

    @extend_schema(
        summary="Heartbeat",
        request=None,
        responses={200: schemas.Pong, 401: schemas.ErrorBody, 429: schemas.ErrorBody},
        parameters=[PATH_KEY],
        auth=[],
        tags=["ingest"],
    )
    def get(self, request, key=None):
        return self.handle(request, key)

    @extend_schema(
        summary="Heartbeat (POST; any body is ignored)",
        request=None,
        responses={200: schemas.Pong, 401: schemas.ErrorBody, 413: schemas.ErrorBody, 429: schemas.ErrorBody},
        parameters=[PATH_KEY],
        auth=[],
        tags=["ingest"],
    )
    def post(self, request, key=None):
        return self.handle(request, key)

