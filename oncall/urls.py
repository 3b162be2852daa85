"""The on-call app's pages: the portal's on-call page, and each person's calendar feed
(`/oncall/calendar/<secret>.ics`, for their calendar app; the secret is the credential)."""

from django.urls import path

from oncall import calendar, portal

urlpatterns = [
    path("oncall/", portal.oncall_page, name="oncall"),
    path("oncall/calendar-link/", portal.calendar_link, name="oncall-calendar-link"),
    path("oncall/calendar/<str:secret>.ics", calendar.feed, name="oncall-calendar-feed"),
]
