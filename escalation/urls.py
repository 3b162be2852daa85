"""The escalation app's pages: the signed links in notifications (`/ack/<token>/`), Web Push
(the app manifest, the service worker, subscribing a browser, the lock screen's buttons)
and the escalation health check the operators' monitoring polls."""

from django.urls import path

from escalation import push_views, views

urlpatterns = [
    path("ack/<str:token>/", views.link, name="escalation-link"),
    path("health/escalation", views.health, name="health-escalation"),
    path("sw.js", push_views.service_worker, name="service-worker"),
    path("manifest.webmanifest", push_views.manifest, name="web-manifest"),
    path("push/", push_views.page, name="push"),
    path("push/subscribe/", push_views.subscribe, name="push-subscribe"),
    path("push/renew/", push_views.renew, name="push-renew"),
    path("push/action/", push_views.action, name="push-action"),
]
