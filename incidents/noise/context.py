"""Template context: why flapping detection is off, for the banner in base.html."""

from django.conf import settings


def flapping_status(request) -> dict:
    if settings.FLAPPING_REDIS_URL:
        return {}
    return {"flapping_off_reason": "no Redis configured"}
