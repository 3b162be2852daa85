"""Refuse text no view can store, before any view runs: a NUL character or a lone UTF-16
surrogate in the URL path, a query parameter or a form field.

PostgreSQL's text and jsonb hold neither (psycopg raises on NUL, the UTF-8 codec on a lone
surrogate), so such a value reaching a lookup or a save was a 500 with a traceback, on
every page that filters or stores text (`/oncall/calendar/%00.ics`, `/?q=%00`, a note with
`\\x00`, an admin list filter). Refusing it once, here, keeps every present and future view
safe; JSON bodies are the parsers' business (the doors replace such characters, DRF's
CharField refuses them naming the field).

The answer is the shape the caller reads elsewhere: the REST API's `{"detail": ...}` under
/api/v1/, an HTML page for a browser, and the doors' error body for everything else."""

from __future__ import annotations

import re

from django.http import JsonResponse
from django.shortcuts import render

UNSTORABLE = re.compile("[\x00\ud800-\udfff]")
FORM_TYPES = ("application/x-www-form-urlencoded", "multipart/form-data")


def problem_in(request) -> str | None:
    """What is wrong with the request, in words, or None."""
    if UNSTORABLE.search(request.path_info):
        return "the URL path contains a NUL character or a lone surrogate"
    for name, values in request.GET.lists():
        if UNSTORABLE.search(name) or any(UNSTORABLE.search(v) for v in values):
            return f"the query parameter {_shown(name)} contains a NUL character or a lone surrogate"
    if request.method == "POST" and request.content_type in FORM_TYPES:
        # Read the body first, so request.POST parses a copy and a view that verifies the
        # exact bytes it was sent (Slack's and Twilio's signatures) can still read them.
        request.body  # noqa: B018 - caches the body on the request
        for name, values in request.POST.lists():
            if UNSTORABLE.search(name) or any(UNSTORABLE.search(v) for v in values):
                return f"the form field {_shown(name)} contains a NUL character or a lone surrogate"
    return None


def _shown(name: str) -> str:
    return repr(UNSTORABLE.sub("\ufffd", name[:50]))


def refusal(request, problem: str):
    if request.path_info.startswith("/api/v1/"):
        return JsonResponse({"detail": f"Bad request: {problem}."}, status=400)
    if "text/html" in request.META.get("HTTP_ACCEPT", ""):
        return render(request, "400.html", {"problem": problem}, status=400)
    return JsonResponse(
        {"status": "invalid event", "message": "Bad request", "errors": [problem]}, status=400
    )


class RejectUnstorableInputMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        problem = problem_in(request)
        if problem is not None:
            return refusal(request, problem)
        return self.get_response(request)
