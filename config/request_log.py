"""One log line per request, and the request id that ties a request to the tasks it enqueues.

The id is the sender's `X-Request-ID` when it is sane (1-64 characters of letters, digits and
`-_.:`), otherwise a fresh one; it is answered in the `X-Request-ID` header and set in
`config.logcontext.request_id`, which `config.tasklog` puts into every task published while
the request runs. First in MIDDLEWARE, so a refused body (413) is logged with its id too."""

from __future__ import annotations

import logging
import re
import time
import uuid

from django.utils.functional import SimpleLazyObject, empty

from config import logcontext
from integrations.ratelimit import client_ip

logger = logging.getLogger("vigil.request")

HEADER = "X-Request-ID"
SANE_REQUEST_ID = re.compile(r"[A-Za-z0-9._:-]{1,64}")


def request_id_from(request) -> str:
    incoming = request.META.get("HTTP_X_REQUEST_ID", "")
    if SANE_REQUEST_ID.fullmatch(incoming):
        return incoming
    return uuid.uuid4().hex


def _signed_in_user_id(request) -> int | None:
    """The user id only when authentication already ran: never a session query of our own
    (the database may be the reason this request failed)."""
    user = request.__dict__.get("user")
    if isinstance(user, SimpleLazyObject):
        if user._wrapped is empty:
            return None
        user = user._wrapped
    if user is not None and getattr(user, "is_authenticated", False):
        return user.pk
    return None


class RequestLogMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        rid = request_id_from(request)
        token = logcontext.request_id.set(rid)
        started = time.perf_counter()
        try:
            response = self.get_response(request)
            response[HEADER] = rid
            logger.info(
                "%s %s %s",
                request.method,
                request.get_full_path(),
                response.status_code,
                extra={
                    "method": request.method,
                    "path": request.get_full_path(),
                    "status": response.status_code,
                    "duration_ms": round((time.perf_counter() - started) * 1000, 2),
                    "user_id": _signed_in_user_id(request),
                    "client_ip": client_ip(request),
                },
            )
            return response
        finally:
            logcontext.request_id.reset(token)
