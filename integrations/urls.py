"""Door paths. Every path also answers with a trailing slash: `(?:/)?` rather than `/?`, so
the OpenAPI document shows the path as API.md writes it."""

from django.urls import re_path

from integrations import views

SLASH = r"(?:/)?$"
KEY = r"(?P<key>[^/]+)"

urlpatterns = [
    re_path(r"^api/events/ingest" + SLASH, views.EventsApiDoor.as_view(), name="door-events-ingest"),
    re_path(r"^v2/enqueue" + SLASH, views.EventsApiDoor.as_view(), name="door-v2-enqueue"),
    re_path(r"^v2/change/enqueue" + SLASH, views.ChangeEventsDoor.as_view(), name="door-change-enqueue"),
    re_path(
        r"^generic/2010-04-15/create_event\.json" + SLASH, views.EventsV1Door.as_view(), name="door-events-v1"
    ),
    re_path(r"^api/webhook/ingest" + SLASH, views.EventApiDoor.as_view(), name="door-eventapi"),
    re_path(r"^integration/" + KEY + SLASH, views.PagerTreeDoor.as_view(), name="door-pagertree"),
    re_path(
        r"^api/integration/webhook/" + KEY + SLASH, views.TemperstackDoor.as_view(), name="door-temperstack"
    ),
    re_path(r"^api/integrations/alertmanager" + SLASH, views.AlertmanagerDoor.as_view(), name="door-alertmanager"),
    re_path(
        r"^api/integrations/alertmanager/" + KEY + SLASH,
        views.AlertmanagerPathKeyDoor.as_view(),
        name="door-alertmanager-key",
    ),
    re_path(r"^api/integrations/grafana" + SLASH, views.GrafanaDoor.as_view(), name="door-grafana"),
    re_path(
        r"^api/integrations/grafana/" + KEY + SLASH, views.GrafanaPathKeyDoor.as_view(), name="door-grafana-key"
    ),
    re_path(r"^api/heartbeat/" + KEY + SLASH, views.HeartbeatDoor.as_view(), name="door-heartbeat"),
    # Last: one free path segment before /push-events must not shadow the doors above.
    re_path(r"^" + KEY + r"/push-events" + SLASH, views.SpikeDoor.as_view(), name="door-spike"),
]
