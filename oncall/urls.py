"""The on-call app's pages: the portal's on-call page, and each person's calendar feed
(`/oncall/calendar/<secret>.ics`, for their calendar app; the secret is the credential),
and the Profile page's time zone and REST token forms."""

from django.urls import path

from oncall import calendar, portal, profile

urlpatterns = [
    path("oncall/", portal.oncall_page, name="oncall"),
    path("oncall/calendar-link/", portal.calendar_link, name="oncall-calendar-link"),
    path("oncall/calendar/<str:secret>.ics", calendar.feed, name="oncall-calendar-feed"),
    # The Profile page is escalation's (`/profile/`); these are its on-call parts.
    path("profile/time-zone/", profile.set_time_zone, name="profile-time-zone"),
    path("profile/token/new/", profile.create_token, name="profile-token-create"),
    path("profile/token/revoke/", profile.revoke_token, name="profile-token-revoke"),
]
