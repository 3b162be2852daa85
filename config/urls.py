from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView

from config import health, metrics

# JSON for a URL under /api/ that no route matches (config/api.py).
handler404 = "config.api.not_found"

urlpatterns = [
    path("healthz", health.healthz, name="healthz"),
    path("readyz", health.readyz, name="readyz"),
    path("metrics", metrics.metrics, name="metrics"),
    path("admin/", admin.site.urls),
    path("api/schema/", SpectacularAPIView.as_view(), name="schema"),
    path("api/v1/", include("config.api_urls")),
    path("", include("escalation.urls")),
    path("", include("oncall.urls")),
    # The doors (integrations.urls) come before the portal pages: their paths are fixed by
    # API.md, and the Spike door's `/<key>/push-events` is the one free first segment.
    path("", include("integrations.urls")),
    path("", include("integrations.portal_urls")),
    path("", include("importers.urls")),
    path("login/", auth_views.LoginView.as_view(redirect_authenticated_user=True), name="login"),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("", include("incidents.urls")),
]
