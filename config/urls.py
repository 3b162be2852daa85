from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView

from config import health
from escalation import views as escalation_views

# JSON for a URL under /api/ that no route matches (config/api.py).
handler404 = "config.api.not_found"

urlpatterns = [
    path("healthz", health.healthz, name="healthz"),
    path("admin/", admin.site.urls),
    path("api/schema/", SpectacularAPIView.as_view(), name="schema"),
    path("api/v1/", include("config.api_urls")),
    path("ack/", include("escalation.urls")),
    path("health/escalation", escalation_views.health, name="health-escalation"),
    path("oncall/calendar/", include("oncall.urls")),
    path("", include("integrations.urls")),
    path("login/", auth_views.LoginView.as_view(redirect_authenticated_user=True), name="login"),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("", include("incidents.urls")),
]
