"""The ingest doors. Each is a few lines: where the key lives, which format, what answer."""

from drf_spectacular.utils import OpenApiExample, extend_schema
from rest_framework.response import Response

from integrations import schemas
from integrations.body import BodyError
from integrations.doors import Door, error_body
from integrations.formats import FORMATS


class EventsApiDoor(Door):
    """PagerDuty Events API v2: `/api/events/ingest` and `/v2/enqueue`."""

    format_slug = "events_v2"
    parse = staticmethod(FORMATS["events_v2"])
    key_in_body = True

    def raw_key(self, request, body, path_key):
        key = body.get("routing_key") if body else None
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

    @extend_schema(
        operation_id="events_v2_enqueue",
        summary="Inbound Events (PagerDuty Events API v2 compatible)",
        request=schemas.EventsV2Request,
        responses={202: schemas.EventAccepted, 400: schemas.ErrorBody, 413: schemas.ErrorBody, 429: schemas.ErrorBody},
        examples=[OpenApiExample("trigger", value=schemas.EVENTS_V2_EXAMPLE, request_only=True)],
        auth=[],
        tags=["ingest"],
    )
    def post(self, request, key=None):
        return self.handle(request, key)
