"""The responder portal's pages. Fixed prefixes only: nothing here may shadow an ingest
door (the Spike door is `/<key>/push-events`)."""

from django.urls import path

from incidents import portal_dashboard, portal_maintenance, views
from integrations import portal as integrations_portal
from oncall import portal as oncall_portal

urlpatterns = [
    path("", views.incident_list, name="incident-list"),
    path("incidents/", views.incident_list),
    path("incidents/<int:pk>/", views.incident_detail, name="incident-detail"),
    path("incidents/<int:pk>/live/", views.incident_live, name="incident-live"),
    path("incidents/<int:pk>/acknowledge/", views.acknowledge, name="incident-acknowledge"),
    path("incidents/<int:pk>/resolve/", views.resolve, name="incident-resolve"),
    path("incidents/<int:pk>/notes/", views.add_note, name="incident-note"),
    path("incidents/<int:pk>/escalate/", views.escalate, name="incident-escalate"),
    path("incidents/<int:pk>/reassign/", views.reassign, name="incident-reassign"),
    path("dashboard/", portal_dashboard.dashboard, name="dashboard"),
    path("maintenance/", portal_maintenance.maintenance_page, name="maintenance"),
    path("maintenance/new/", portal_maintenance.create_window, name="maintenance-create"),
    path("maintenance/<int:pk>/end/", portal_maintenance.end_window, name="maintenance-end"),
    path("maintenance/<int:pk>/cancel/", portal_maintenance.cancel_window, name="maintenance-cancel"),
    path("oncall/", oncall_portal.oncall_page, name="oncall"),
    path("oncall/calendar-link/", oncall_portal.calendar_link, name="oncall-calendar-link"),
    path("integrations/", integrations_portal.key_list, name="integrations"),
    path("integrations/new/", integrations_portal.create_key, name="integration-create"),
    path("integrations/<int:pk>/", integrations_portal.key_detail, name="integration-detail"),
    path("integrations/<int:pk>/rotate/", integrations_portal.rotate_key, name="integration-rotate"),
    path("integrations/<int:pk>/revoke/", integrations_portal.revoke_key, name="integration-revoke"),
]
