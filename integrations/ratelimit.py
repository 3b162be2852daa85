"""The inbound rate limit, as API.md words it: per client IP (django-ratelimit over
django-redis, failing open when Redis is down), never refusing a request whose events are
all acknowledges or resolves, with an optional per-key limit, exempt CIDRs, and
X-Forwarded-For believed only from trusted proxies."""

from __future__ import annotations

import ipaddress
import logging
import re
import time
from dataclasses import dataclass
from functools import lru_cache

from django.conf import settings
from django_ratelimit.core import get_usage
from django_redis import get_redis_connection
from redis.exceptions import RedisError

logger = logging.getLogger("vigil.ratelimit")
_last_warning = [0.0]
WARN_EVERY_SECONDS = 60
# After the cache fails, this process skips it this long: with a hung Redis every check
# costs two socket timeouts (django-ratelimit's add, then incr) on a request thread, which
# at 20 req/s exhausts gunicorn's threads (RELIABILITY.md T08).
SKIP_AFTER_FAILURE_SECONDS = 5
_skip_until = [0.0]


@lru_cache(maxsize=32)
def _networks(cidrs: tuple[str, ...]) -> tuple:
    return tuple(ipaddress.ip_network(c, strict=False) for c in cidrs)


def _in(ip: str, cidrs: list[str]) -> bool:
    if not cidrs:
        return False
    try:
        address = ipaddress.ip_address(ip)
    except ValueError:
        return False
    return any(address in net for net in _networks(tuple(cidrs)))


def client_ip(request) -> str:
    """The socket address, unless it is a trusted proxy: then the right-most address of
    X-Forwarded-For that is not itself a trusted proxy."""
    remote = request.META.get("REMOTE_ADDR", "") or "0.0.0.0"
    proxies = settings.INBOUND_TRUSTED_PROXIES
    if not proxies or not _in(remote, proxies):
        return remote
    forwarded = [p.strip() for p in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",") if p.strip()]
    for candidate in reversed(forwarded):
        try:
            ipaddress.ip_address(candidate)
        except ValueError:
            break
        if not _in(candidate, proxies):
            return candidate
    return remote


@dataclass
class Verdict:
    limited: bool
    retry_after: int = 0
    scope: str = ""


def _check(request, group: str, value: str, rate: str) -> Verdict:
    usage = get_usage(request, group=group, key=lambda _g, _r: value, rate=rate, increment=True)
    if usage is None:
        _skip_until[0] = time.monotonic() + SKIP_AFTER_FAILURE_SECONDS
        _warn_fail_open()
        return Verdict(False)
    if usage["should_limit"]:
        return Verdict(True, max(1, usage["time_left"]), group)
    return Verdict(False)


def reset_backoff() -> None:
    """Use the cache again at once (tests start every case with a fresh process state)."""
    _skip_until[0] = 0.0


def _warn_fail_open() -> None:
    now = time.monotonic()
    if now - _last_warning[0] >= WARN_EVERY_SECONDS:
        _last_warning[0] = now
        logger.warning("rate limiter unavailable (Redis down?); letting requests through")


def check_inbound(request, *, ip: str, key_digest: str | None) -> Verdict:
    if _in(ip, settings.INBOUND_RATE_LIMIT_EXEMPT):
        return Verdict(False)
    if time.monotonic() < _skip_until[0]:
        return Verdict(False)  # failing open while Redis recovers
    if settings.INBOUND_RATE_LIMIT:
        verdict = _check(request, "inbound-ip", ip, settings.INBOUND_RATE_LIMIT)
        if verdict.limited:
            return verdict
    if settings.INBOUND_RATE_LIMIT_PER_KEY and key_digest:
        return _check(request, "inbound-key", key_digest, settings.INBOUND_RATE_LIMIT_PER_KEY)
    return Verdict(False)


RATE = re.compile(r"(\d+)/(\d*)([smhd])")
PERIOD_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def per_window(rate: str) -> tuple[int, int]:
    """`30/m` -> (30, 60); `100/5m` -> (100, 300): django-ratelimit's rate notation."""
    match = RATE.fullmatch(rate.strip().lower())
    if match is None:
        raise ValueError(f"not a rate like 30/m: {rate!r}")
    count, multiple, period = match.groups()
    return int(count), int(multiple or 1) * PERIOD_SECONDS[period]


def count_failed_auth(ip: str) -> Verdict:
    """Count one request whose key did not authenticate, per client IP, and say whether
    the client is past INBOUND_FAILED_AUTH_LIMIT (T51). Only failures are counted and only
    failures are refused: a valid key from the same address (a NAT shared with a guesser,
    or with a sender still using a revoked key) is never held back by this limit.

    One round trip (a fixed window: create with its expiry, increment, read the expiry);
    fails open, like the inbound limit, when Redis does not answer."""
    rate = settings.INBOUND_FAILED_AUTH_LIMIT
    if not rate or _in(ip, settings.INBOUND_RATE_LIMIT_EXEMPT) or time.monotonic() < _skip_until[0]:
        return Verdict(False)
    limit, window = per_window(rate)
    bucket = f"vigil:failed-auth:{ip}"
    try:
        pipe = get_redis_connection("default").pipeline(transaction=False)
        pipe.set(bucket, 0, ex=window, nx=True)
        pipe.incr(bucket)
        pipe.ttl(bucket)
        _created, count, ttl = pipe.execute()
    except (RedisError, OSError, NotImplementedError):  # NotImplementedError: no Redis cache
        _skip_until[0] = time.monotonic() + SKIP_AFTER_FAILURE_SECONDS
        _warn_fail_open()
        return Verdict(False)
    if count > limit:
        return Verdict(True, max(1, ttl), "failed-auth")
    return Verdict(False)
