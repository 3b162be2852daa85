"""The incidents app's portal pages. Fixed prefixes only: nothing here may shadow an ingest
door (the Spike door is `/<key>/push-events`)."""

from django.urls import path

from incidents.portal import dashboard, maintenance, noise, views

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
    path("dashboard/", dashboard.dashboard, name="dashboard"),
    path("maintenance/", maintenance.maintenance_page, name="maintenance"),
    path("maintenance/new/", maintenance.create_window, name="maintenance-create"),
    path("maintenance/<int:pk>/end/", maintenance.end_window, name="maintenance-end"),
    path("maintenance/<int:pk>/cancel/", maintenance.cancel_window, name="maintenance-cancel"),
    # Noise rules: a team's suppression rules and the rule tester (members read and test,
    # team admins edit).
    path("noise/", noise.noise_index, name="noise-index"),
    path("noise/<slug:slug>/", noise.noise_page, name="noise"),
    path("noise/<slug:slug>/test/", noise.test_rules, name="noise-test"),
    path("noise/<slug:slug>/rules/new/", noise.rule_create, name="noise-rule-create"),
    path("noise/<slug:slug>/rules/<int:pk>/", noise.rule_edit, name="noise-rule-edit"),
    path("noise/<slug:slug>/rules/<int:pk>/expire/", noise.rule_expire, name="noise-rule-expire"),
    path("noise/<slug:slug>/rules/<int:pk>/delete/", noise.rule_delete, name="noise-rule-delete"),
]
