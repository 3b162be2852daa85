"""`/ack/<token>/`: the signed links in notifications."""

from django.urls import path

from escalation import views

urlpatterns = [
    path("<str:token>/", views.link, name="escalation-link"),
]
