"""Turn a database outage into 503 + Retry-After, never a 2xx and never an HTML traceback."""

import logging

from django.db import DatabaseError, InterfaceError, OperationalError
from django.http import JsonResponse

logger = logging.getLogger("vigil.db")

RETRY_AFTER_SECONDS = 5


def database_unavailable_response() -> JsonResponse:
    response = JsonResponse(
        {
            "status": "unavailable",
            "message": "The database is unavailable; the event was not stored. Retry later.",
            "errors": ["database unavailable"],
        },
        status=503,
    )
    response["Retry-After"] = str(RETRY_AFTER_SECONDS)
    return response


def is_database_outage(exc: BaseException) -> bool:
    # OperationalError covers refused connections, timeouts and statement_timeout;
    # InterfaceError covers a connection that died under us.
    return isinstance(exc, (OperationalError, InterfaceError)) or (
        isinstance(exc, DatabaseError) and "statement timeout" in str(exc)
    )


class DatabaseUnavailableMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        return self.get_response(request)

    def process_exception(self, request, exception):
        if is_database_outage(exception):
            logger.error("database unavailable: %s", type(exception).__name__)
            return database_unavailable_response()
        return None
