"""Liveness: answers without touching the database, so it stays up when PostgreSQL is slow."""

from django.http import JsonResponse


def healthz(request):
    return JsonResponse({"status": "ok"})
