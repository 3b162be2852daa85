"""Refuse bodies over INBOUND_MAX_BODY_BYTES with 413 before reading them.

Django's own limit answers 400 and only after buffering; a chunked body (no
Content-Length) is read here up to the limit + 1 byte and no further."""

import io

from django.conf import settings
from django.http import JsonResponse

CHUNK = 64 * 1024


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
                while len(body) <= limit:
                    chunk = stream.read(min(CHUNK, limit + 1 - len(body)))
                    if not chunk:
                        break
                    body += chunk
                if len(body) > limit:
                    return too_large_response(limit)
                # Hand Django the de-chunked body it could not read without a length.
                request._body = bytes(body)
                request._stream = io.BytesIO(request._body)
                request.META["CONTENT_LENGTH"] = str(len(body))
        return self.get_response(request)
