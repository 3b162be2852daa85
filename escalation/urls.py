"""The escalation app's pages: a person's Profile page (contact methods and notification
rules; its time zone and token forms are oncall's), the escalation policy pages, the signed links in notifications
(`/ack/<token>/`), the providers' callbacks (Twilio, Slack), Web Push (the app manifest, the
service worker, subscribing a browser, the lock screen's buttons) and the escalation health
check the operators' monitoring polls."""

from django.urls import path

from escalation import phone_views, policy_pages, profile, push_views, slack_interactivity, views

urlpatterns = [
    path("profile/", profile.profile_page, name="profile"),
    path("profile/methods/new/", profile.add_method, name="profile-method-add"),
    path("profile/methods/<int:pk>/send-code/", profile.send_code, name="profile-method-send-code"),
    path("profile/methods/<int:pk>/verify/", profile.verify_method, name="profile-method-verify"),
    path("profile/methods/<int:pk>/test/", profile.test_method, name="profile-method-test"),
    path("profile/methods/<int:pk>/rotate-secret/", profile.rotate_signing_secret,
         name="profile-method-rotate-secret"),
    path("profile/methods/<int:pk>/enable/", profile.enable_method, name="profile-method-enable"),
    path("profile/methods/<int:pk>/delete/", profile.delete_method, name="profile-method-delete"),
    path("profile/rules/new/", profile.add_rule, name="profile-rule-add"),
    path("profile/rules/<int:pk>/delete/", profile.delete_rule, name="profile-rule-delete"),
    # Escalation policies: the sentence, the keys using it, the preview; the step editor for team admins.
    path("escalation/policies/", policy_pages.policy_list, name="policies"),
    path("escalation/policies/new/", policy_pages.policy_create, name="policy-create"),
    path("escalation/policies/<int:pk>/", policy_pages.policy_detail, name="policy"),
    path("escalation/policies/<int:pk>/preview/", policy_pages.policy_preview, name="policy-preview"),
    path("escalation/policies/<int:pk>/save/", policy_pages.policy_save, name="policy-save"),
    path("escalation/policies/<int:pk>/draft/", policy_pages.policy_draft, name="policy-draft"),
    path("escalation/policies/<int:pk>/keys/", policy_pages.policy_attach_key, name="policy-attach-key"),
    path("escalation/policies/<int:pk>/delete/", policy_pages.policy_delete, name="policy-delete"),
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
