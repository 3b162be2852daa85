"""The escalation app's pages: the signed links in notifications (`/ack/<token>/`), Web Push
(the app manifest, the service worker, subscribing a browser, the lock screen's buttons)
and the escalation health check the operators' monitoring polls."""

from django.urls import path

from escalation import phone_views, push_views, slack_interactivity, views

urlpatterns = [
    path("ack/<str:token>/", views.link, name="escalation-link"),
    path("health/escalation", views.health, name="health-escalation"),
    # Twilio's callbacks (SMS replies, a paging call's TwiML and keypress), signed by Twilio.
    path("twilio/sms/", phone_views.sms_reply, name="twilio-sms"),
    path("twilio/voice/<int:notification_id>/", phone_views.voice, name="twilio-voice"),
    path("twilio/voice/<int:notification_id>/gather/", phone_views.voice_gather, name="twilio-voice-gather"),
    path("integrations/slack/interactivity", slack_interactivity.interactivity, name="slack-interactivity"),
    path("sw.js", push_views.service_worker, name="service-worker"),
    path("manifest.webmanifest", push_views.manifest, name="web-manifest"),
    path("push/", push_views.page, name="push"),
    path("push/subscribe/", push_views.subscribe, name="push-subscribe"),
    path("push/renew/", push_views.renew, name="push-renew"),
    path("push/action/", push_views.action, name="push-action"),
]
