"""The escalation app's pages: the signed links in notifications (`/ack/<token>/`) and the
escalation health check the operators' monitoring polls."""

from django.urls import path

from escalation import views

urlpatterns = [
    path("ack/<str:token>/", views.link, name="escalation-link"),
    path("health/escalation", views.health, name="health-escalation"),
]
