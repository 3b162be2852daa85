"""Every page shows times in the viewer's own time zone (set on their Profile page)."""

from __future__ import annotations

import zoneinfo

from django.conf import settings
from django.utils import timezone

from oncall.profile import TIME_ZONE_SESSION_KEY, remember_time_zone


class UserTimeZoneMiddleware:
    """Activates the signed-in person's zone for the request. The zone is read from the
    session, where sign-in put it (no query per request); requests without a session
    cookie (the doors, token-authenticated API calls) never touch the user or the session."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        zone = self._zone_of(request)
        if zone is not None:
            timezone.activate(zone)
        try:
            return self.get_response(request)
        finally:
            timezone.deactivate()

    def _zone_of(self, request) -> zoneinfo.ZoneInfo | None:
        if settings.SESSION_COOKIE_NAME not in request.COOKIES or not request.user.is_authenticated:
            return None
        name = request.session.get(TIME_ZONE_SESSION_KEY)
        if name is None:  # a session from before sign-in stored it (oncall.apps)
            name = remember_time_zone(request, request.user)
        try:
            return zoneinfo.ZoneInfo(name)
        except (zoneinfo.ZoneInfoNotFoundError, ValueError):
            return None
