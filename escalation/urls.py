"""The escalation app's pages: the signed links in notifications (`/ack/<token>/`) and the
escalation health check the operators' monitoring polls."""

from django.urls import path

from escalation import phone_views, slack_interactivity, views

urlpatterns = [
    path("ack/<str:token>/", views.link, name="escalation-link"),
    path("health/escalation", views.health, name="health-escalation"),
    # Twilio's callbacks (SMS replies, a paging call's TwiML and keypress), signed by Twilio.
    path("twilio/sms/", phone_views.sms_reply, name="twilio-sms"),
    path("twilio/voice/<int:notification_id>/", phone_views.voice, name="twilio-voice"),
    path("twilio/voice/<int:notification_id>/gather/", phone_views.voice_gather, name="twilio-voice-gather"),
    path("integrations/slack/interactivity", slack_interactivity.interactivity, name="slack-interactivity"),
]
