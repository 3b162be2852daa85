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


# Axes stores the name in a 255-character column; Django's user names are at most 150.
USERNAME_STORED_CHARACTERS = 150


def attempted_username(request, credentials: dict | None = None) -> str | None:
    """The name axes records and locks out, read as axes does (credentials, else the form),
    cut to what a user name can be: a 10,000-character name was a 500 on the sign-in page
    (the column overflowed, RELIABILITY T48)."""
    source = credentials if credentials else getattr(request, "POST", {})
    name = source.get("username") if source else None
    return name[:USERNAME_STORED_CHARACTERS] if isinstance(name, str) else name
