"""The WSGI application: a door request (a machine-to-machine POST to one of the ingest paths
of `integrations.urls`) runs through a short middleware stack, everything else through the
whole of settings.MIDDLEWARE.

A door authenticates by its integration key only and answers JSON: sessions, CSRF, the
signed-in user and their time zone, messages, htmx, axes' lockouts, the CSP header and
whitenoise's static files have nothing to do there, and cost about a millisecond of CPU per
request. The door stack keeps, in their settings order, everything that does apply: the
request id and log line, the 413 before the body is read, the 400 for input PostgreSQL cannot
store, the security headers, host validation (CommonMiddleware), X-Frame-Options, and the 503
when the database is down. The
portal, the admin and the REST API are untouched: their paths never match a door's pattern."""

from __future__ import annotations

import re

from django.conf import settings
from django.core.handlers.wsgi import WSGIHandler

# What a door request never needs of settings.MIDDLEWARE. A list of what is left out, not of
# what is kept: a middleware added to settings later runs on the doors too unless it is
# named here (input_guard's 400 for NUL and lone surrogates, say, must).
DOOR_SKIPS = frozenset({
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "csp.middleware.CSPMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "oncall.middleware.UserTimeZoneMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    "axes.middleware.AxesMiddleware",
})


def door_middleware() -> list[str]:
    return [path for path in settings.MIDDLEWARE if path not in DOOR_SKIPS]


def door_path_patterns() -> tuple[re.Pattern, ...]:
    """Every door route of integrations.urls (mounted at the root), matched against PATH_INFO
    without its leading slash."""
    from integrations.urls import urlpatterns

    return tuple(p.pattern.regex for p in urlpatterns)


# Door requests resolve against the doors' own patterns (mounted at the root in config.urls,
# so the paths are the same): the whole URLconf would try about 70 portal and API patterns
# first. Nothing a door runs reverses a URL.
DOOR_URLCONF = "integrations.urls"


class DoorHandler(WSGIHandler):
    """Django's WSGI handler with the door middleware and the door URLconf only."""

    def get_response(self, request):
        request.urlconf = DOOR_URLCONF
        return super().get_response(request)

    def load_middleware(self, is_async=False):
        # Django builds the chain from settings.MIDDLEWARE; it runs once, at start-up, before
        # any request is served, so the swap is seen by this handler alone.
        full = settings.MIDDLEWARE
        settings.MIDDLEWARE = door_middleware()
        try:
            super().load_middleware(is_async)
        finally:
            settings.MIDDLEWARE = full


class Application:
    def __init__(self):
        self.portal = WSGIHandler()
        self.doors = DoorHandler()
        self.door_paths = door_path_patterns()

    def is_door(self, path_info: str) -> bool:
        path = path_info[1:] if path_info.startswith("/") else path_info
        return any(pattern.match(path) for pattern in self.door_paths)

    def __call__(self, environ, start_response):
        handler = self.doors if self.is_door(environ.get("PATH_INFO", "")) else self.portal
        return handler(environ, start_response)
