"""Refuse bodies over INBOUND_MAX_BODY_BYTES with 413 before reading them.

Django's own limit answers 400 and only after buffering; a chunked body (no
Content-Length) is read here up to the limit + 1 byte and no further."""

import io

from django.conf import settings
from django.http import JsonResponse
from gunicorn.http.errors import ParseException

# What reading a broken body raises: gunicorn's parse errors for a malformed chunk size or a
# missing chunk terminator, OSError (gunicorn's NoMoreData, a dropped connection) elsewhere.
BODY_READ_ERRORS = (ParseException, OSError, ValueError)

CHUNK = 64 * 1024


def malformed_body_response(exc: Exception) -> JsonResponse:
    response = JsonResponse(
        {
            "status": "invalid event",
            "message": "Malformed request body",
            "errors": [f"the chunked request body could not be read ({type(exc).__name__})"],
        },
        status=400,
    )
    # The connection's framing is lost: the next request on it could not be found.
    response["Connection"] = "close"
    return response


def too_large_response(limit: int) -> JsonResponse:
    response = JsonResponse(
        {
            "status": "invalid event",
            "message": "Request entity too large",
            "errors": [f"request body is larger than {limit} bytes"],
        },
        status=413,
    )
    response["Connection"] = "close"
    return response


class BodySizeLimitMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        limit = settings.INBOUND_MAX_BODY_BYTES
        length = request.META.get("CONTENT_LENGTH")
        if length:
            try:
                if int(length) > limit:
                    return too_large_response(limit)
            except ValueError:
                pass
        elif "chunked" in request.META.get("HTTP_TRANSFER_ENCODING", "").lower():
            stream = request.META.get("wsgi.input")
            if stream is not None:
                body = bytearray()
                try:
                    while len(body) <= limit:
                        chunk = stream.read(min(CHUNK, limit + 1 - len(body)))
                        if not chunk:
                            break
                        body += chunk
                except BODY_READ_ERRORS as exc:
                    return malformed_body_response(exc)
                if len(body) > limit:
                    return too_large_response(limit)
                # Hand Django the de-chunked body it could not read without a length.
                request._body = bytes(body)
                request._stream = io.BytesIO(request._body)
                request.META["CONTENT_LENGTH"] = str(len(body))
        return self.get_response(request)
