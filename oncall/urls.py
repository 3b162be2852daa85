"""`/oncall/calendar/<secret>.ics`: a person's shifts, for their calendar app."""

from django.urls import path

from oncall import calendar

urlpatterns = [
    path("<str:secret>.ics", calendar.feed, name="oncall-calendar-feed"),
]
