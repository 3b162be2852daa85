"""REST API tokens: one per device or script, named, with an expiry, stored as knox's
digest (SHA-512) and lookup prefix only. The raw token exists in the one answer that
creates it (Profile page, `POST /api/v1/api-tokens/`, `manage.py api_token create`);
afterwards a token is shown by its name and first characters.

Scripts send it as before: `Authorization: Token <token>` (knox.auth.TokenAuthentication)."""

from __future__ import annotations

from datetime import timedelta

from django.conf import settings
from django.db.models import Q, QuerySet
from django.utils import timezone

from oncall.models import ApiToken

SHOWN_PREFIX_LENGTH = 8
MAX_TOKENS_PER_USER = 50
MAX_TTL_DAYS = 3650


class TokenRefused(ValueError):
    """The request names no valid token shape (too many tokens, an expiry out of range)."""


def default_ttl_days() -> int:
    return settings.API_TOKEN_TTL_DAYS


def live_tokens(user) -> QuerySet[ApiToken]:
    """The user's tokens that still authenticate, newest first."""
    return ApiToken.objects.filter(user=user).filter(
        Q(expiry__isnull=True) | Q(expiry__gt=timezone.now())
    )


def create_token(user, name: str, *, ttl_days: int | None = -1) -> tuple[ApiToken, str]:
    """(row, raw token). `ttl_days=None` never expires: only for an explicit choice
    (the command's --never-expires); -1 means the setting's default."""
    name = (name or "").strip()[:100] or "Unnamed token"
    if ttl_days == -1:
        ttl_days = default_ttl_days()
    if ttl_days is not None and not 1 <= ttl_days <= MAX_TTL_DAYS:
        raise TokenRefused(f"An expiry of 1 to {MAX_TTL_DAYS} days.")
    # Expired rows are dead weight: knox deletes them lazily, we do it on every create.
    ApiToken.objects.filter(user=user, expiry__lte=timezone.now()).delete()
    if ApiToken.objects.filter(user=user).count() >= MAX_TOKENS_PER_USER:
        raise TokenRefused(f"At most {MAX_TOKENS_PER_USER} tokens per person: revoke one first.")
    expiry = None if ttl_days is None else timedelta(days=ttl_days)
    token, raw = ApiToken.objects.create(user=user, expiry=expiry, name=name)
    return token, raw


def revoke_token(user, token_id: int) -> bool:
    """Delete one of the user's own tokens; another person's id is simply not found."""
    return ApiToken.objects.filter(user=user, pk=token_id).delete()[0] > 0


def shown_prefix(token: ApiToken) -> str:
    return token.token_key[:SHOWN_PREFIX_LENGTH]
