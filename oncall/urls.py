"""The on-call app's pages: the portal's on-call page, and each person's calendar feed
(`/oncall/calendar/<secret>.ics`, for their calendar app; the secret is the credential),
the Teams pages (members, invitations; the Users page for superusers), the emailed
invitation link, and the Profile page's time zone and REST token forms."""

from django.urls import path

from oncall import calendar, invitation_views, portal, portal_teams, profile, schedule_pages, swaps

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
    path("teams/", portal_teams.team_list, name="teams"),
    path("teams/new/", portal_teams.team_create, name="team-create"),
    path("teams/<slug:slug>/", portal_teams.team_detail, name="team-detail"),
    path("teams/<slug:slug>/invite/", portal_teams.invite, name="team-invite"),
    path("teams/<slug:slug>/invitations/<int:pk>/revoke/", portal_teams.revoke_invitation,
         name="team-invitation-revoke"),
    path("teams/<slug:slug>/invitations/<int:pk>/resend/", portal_teams.resend_invitation,
         name="team-invitation-resend"),
    path("teams/<slug:slug>/members/<int:user_id>/role/", portal_teams.change_role, name="team-member-role"),
    path("teams/<slug:slug>/members/<int:user_id>/remove/", portal_teams.remove_member, name="team-member-remove"),
    path("users/", portal_teams.user_list, name="users"),
    # The emailed invitation link (the token is a credential: config/redaction.py hides it).
    path("invitations/<str:token>/", invitation_views.invitation_page, name="team-invitation"),
    path("invitations/<str:token>/signup/", invitation_views.invitation_signup, name="team-invitation-signup"),
    path("invitations/<str:token>/accept/", invitation_views.invitation_accept, name="team-invitation-accept"),
    # The Profile page is escalation's (`/profile/`); these are its on-call parts.
    path("profile/time-zone/", profile.set_time_zone, name="profile-time-zone"),
    path("profile/token/new/", profile.create_token, name="profile-token-create"),
    path("profile/token/<int:pk>/revoke/", profile.revoke_token, name="profile-token-revoke"),
]
