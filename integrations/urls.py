"""Door paths. Every path also answers with a trailing slash."""

from django.urls import re_path

from integrations import views

urlpatterns = [
    re_path(r"^api/events/ingest/?$", views.EventsApiDoor.as_view(), name="door-events-ingest"),
    re_path(r"^v2/enqueue/?$", views.EventsApiDoor.as_view(), name="door-v2-enqueue"),
]
