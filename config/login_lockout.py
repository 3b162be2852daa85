"""Sign-in brute-force lockout (django-axes), for the login form and the admin only.

Ingest doors authenticate by integration key and REST calls by token; neither calls
`django.contrib.auth.authenticate`, so neither can be locked out by this."""

from axes.backends import AxesStandaloneBackend


class LoginLockoutBackend(AxesStandaloneBackend):
    """Axes' check, for every authenticate() that comes with a request (the sign-in form,
    the admin, DRF's token view). A call without one (the test client's `login()`, a
    management command) is not reachable by an attacker and goes on to ModelBackend, where
    Axes would refuse it outright."""

    def authenticate(self, request, username=None, password=None, **kwargs):
        if request is None:
            return None
        return super().authenticate(request, username, password, **kwargs)
