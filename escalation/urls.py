"""The escalation app's pages: a person's Profile page (contact methods and notification
rules; its time zone and token forms are oncall's), the signed links in notifications
(`/ack/<token>/`) and the escalation health check the operators' monitoring polls."""

from django.urls import path

from escalation import profile, views

urlpatterns = [
    path("profile/", profile.profile_page, name="profile"),
    path("profile/methods/new/", profile.add_method, name="profile-method-add"),
    path("profile/methods/<int:pk>/send-code/", profile.send_code, name="profile-method-send-code"),
    path("profile/methods/<int:pk>/verify/", profile.verify_method, name="profile-method-verify"),
    path("profile/methods/<int:pk>/test/", profile.test_method, name="profile-method-test"),
    path("profile/methods/<int:pk>/enable/", profile.enable_method, name="profile-method-enable"),
    path("profile/methods/<int:pk>/delete/", profile.delete_method, name="profile-method-delete"),
    path("profile/rules/new/", profile.add_rule, name="profile-rule-add"),
    path("profile/rules/<int:pk>/delete/", profile.delete_rule, name="profile-rule-delete"),
    path("ack/<str:token>/", views.link, name="escalation-link"),
    path("health/escalation", views.health, name="health-escalation"),
]
