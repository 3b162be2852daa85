"""The on-call app's pages: the portal's on-call page, and each person's calendar feed
(`/oncall/calendar/<secret>.ics`, for their calendar app; the secret is the credential),
and the Profile page's time zone and REST token forms."""

from django.urls import path

from oncall import calendar, portal, profile, schedule_pages, swaps

urlpatterns = [
    path("oncall/", portal.oncall_page, name="oncall"),
    path("oncall/calendar-link/", portal.calendar_link, name="oncall-calendar-link"),
    path("oncall/calendar/<str:secret>.ics", calendar.feed, name="oncall-calendar-feed"),
    # The schedule pages (timeline for members; rotations and overrides for team admins).
    path("oncall/schedules/", schedule_pages.schedule_list, name="schedules"),
    path("oncall/schedules/new/", schedule_pages.schedule_create, name="schedule-create"),
    path("oncall/schedules/<int:pk>/", schedule_pages.schedule_detail, name="schedule"),
    path("oncall/schedules/<int:pk>/timeline/", schedule_pages.schedule_timeline, name="schedule-timeline"),
    path("oncall/schedules/<int:pk>/settings/", schedule_pages.schedule_settings, name="schedule-settings"),
    path("oncall/schedules/<int:pk>/rotations/", schedule_pages.rotation_save, name="rotation-save"),
    path("oncall/schedules/<int:pk>/rotations/draft/", schedule_pages.rotation_draft, name="rotation-draft"),
    path("oncall/schedules/<int:pk>/rotations/preview/", schedule_pages.rotation_preview, name="rotation-preview"),
    path("oncall/schedules/<int:pk>/rotations/<int:rotation_id>/delete/", schedule_pages.rotation_delete,
         name="rotation-delete"),
    path("oncall/schedules/<int:pk>/overrides/", schedule_pages.override_create, name="override-create"),
    path("oncall/schedules/<int:pk>/overrides/<int:override_id>/delete/", schedule_pages.override_delete,
         name="override-delete"),
    path("oncall/schedules/<int:pk>/swaps/", swaps.swap_create, name="swap-create"),
    path("oncall/swaps/<int:swap_id>/<str:answer>/", swaps.swap_answer, name="swap-answer"),
    # The Profile page is escalation's (`/profile/`); these are its on-call parts.
    path("profile/time-zone/", profile.set_time_zone, name="profile-time-zone"),
    path("profile/token/new/", profile.create_token, name="profile-token-create"),
    path("profile/token/revoke/", profile.revoke_token, name="profile-token-revoke"),
]
