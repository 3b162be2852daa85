"""DRF exception handler: every error a client sees has the same JSON shape."""

from django.http import JsonResponse
from django.views.defaults import page_not_found
from rest_framework.views import exception_handler as drf_exception_handler

from config.middleware import database_unavailable_response, is_database_outage


def exception_handler(exc, context):
    if is_database_outage(exc):
        return database_unavailable_response()
    return drf_exception_handler(exc, context)


def not_found(request, exception):
    """handler404: a URL no route matches (`/api/v1/incidents/1.5/`) answers JSON under /api/,
    where scripts parse every answer, and Django's page everywhere else."""
    if request.path.startswith("/api/"):
        return JsonResponse({"detail": "Not found."}, status=404)
    return page_not_found(request, exception)
