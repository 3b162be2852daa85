from django.apps import AppConfig
from django.contrib.auth.signals import user_logged_in


def remember_time_zone(sender, request, user, **kwargs):
    """Put the person's zone in their new session at sign-in, so no page pays a query for
    it (`oncall.middleware`). A cache fill, not control flow: without it the middleware
    reads the profile itself on the first request."""
    if request is not None and hasattr(request, "session"):
        from oncall.profile import remember_time_zone as remember  # apps load before models

        remember(request, user)


class OncallConfig(AppConfig):
    name = "oncall"
    verbose_name = "Teams and on-call"

    def ready(self):
        user_logged_in.connect(remember_time_zone, dispatch_uid="oncall.remember_time_zone")
