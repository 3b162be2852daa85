"""The on-call app's pages: the portal's on-call page, and each person's calendar feed
(`/oncall/calendar/<secret>.ics`, for their calendar app; the secret is the credential),
the Teams pages (members, invitations; the Users page for superusers), the emailed
invitation link, and the Profile page's time zone and REST token forms."""

from django.urls import path

from oncall import calendar, invitation_views, portal, portal_teams, profile

urlpatterns = [
    path("oncall/", portal.oncall_page, name="oncall"),
    path("oncall/calendar-link/", portal.calendar_link, name="oncall-calendar-link"),
    path("oncall/calendar/<str:secret>.ics", calendar.feed, name="oncall-calendar-feed"),
    path("teams/", portal_teams.team_list, name="teams"),
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
