"""The escalation app's pages: the signed links in notifications (`/ack/<token>/`) and the
escalation health check the operators' monitoring polls."""

from django.urls import path

from escalation import slack_interactivity, views

urlpatterns = [
    path("ack/<str:token>/", views.link, name="escalation-link"),
    path("health/escalation", views.health, name="health-escalation"),
    path("integrations/slack/interactivity", slack_interactivity.interactivity, name="slack-interactivity"),
]
