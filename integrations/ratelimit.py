"""The inbound rate limit, as API.md words it: per client IP, with an optional per-key
limit, exempt CIDRs, and X-Forwarded-For believed only from trusted proxies; never refusing
a request whose events are all acknowledges, resolves or heartbeats (the door decides
which requests are counted). Plus the failed-authentication limit of T51.

Each limit is a fixed-window counter in the cache's Redis: a bucket is created with its
window as expiry, incremented, and its expiry read (SET NX EX, INCR, TTL), so the window
starts with a client's first request. The commands only queue into a pipeline the caller
sends: the door sends its buckets with its other reads in one round trip
(`integrations/preflight.py`), `count` sends them on their own. When Redis does not answer
the limits fail open, and this process leaves Redis alone for a few seconds."""

from __future__ import annotations

import ipaddress
import logging
import re
import time
from dataclasses import dataclass
from functools import lru_cache

from django.conf import settings

from config import redis_clients

logger = logging.getLogger("vigil.ratelimit")
_last_warning = [0.0]
WARN_EVERY_SECONDS = 60
# After Redis fails, this process skips it this long: with a hung Redis every check costs a
# socket timeout on a request thread, which at 20 req/s exhausts gunicorn's threads
# (RELIABILITY.md T08).
SKIP_AFTER_FAILURE_SECONDS = 5
_skip_until = [0.0]
# Replies one bucket adds to the pipeline: SET NX EX, INCR, TTL.
REPLIES_PER_BUCKET = 3


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


RATE = re.compile(r"(\d+)/(\d*)([smhd])")
PERIOD_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def per_window(rate: str) -> tuple[int, int]:
    """`30/m` -> (30, 60); `100/5m` -> (100, 300)."""
    match = RATE.fullmatch(rate.strip().lower())
    if match is None:
        raise ValueError(f"not a rate like 30/m: {rate!r}")
    count, multiple, period = match.groups()
    return int(count), int(multiple or 1) * PERIOD_SECONDS[period]


@dataclass(frozen=True)
class Bucket:
    """One counter: `limit` requests per `window` seconds for one value of one scope."""

    scope: str
    value: str
    limit: int
    window: int

    @property
    def name(self) -> str:
        return f"vigil:rate:{self.scope}:{self.value}"


def _bucket(scope: str, value: str, rate: str) -> Bucket:
    limit, window = per_window(rate)
    return Bucket(scope, value, limit, window)


def available() -> bool:
    """Whether to ask Redis now: there is one, and it is not in its back-off."""
    return time.monotonic() >= _skip_until[0] and bool(redis_clients.cache_url())


def inbound_buckets(ip: str, key_digest: str | None) -> list[Bucket]:
    """The buckets one counted request goes into; none for an exempt sender."""
    if _in(ip, settings.INBOUND_RATE_LIMIT_EXEMPT):
        return []
    buckets = []
    if settings.INBOUND_RATE_LIMIT:
        buckets.append(_bucket("inbound-ip", ip, settings.INBOUND_RATE_LIMIT))
    if settings.INBOUND_RATE_LIMIT_PER_KEY and key_digest:
        buckets.append(_bucket("inbound-key", key_digest, settings.INBOUND_RATE_LIMIT_PER_KEY))
    return buckets


def queue(pipe, buckets: list[Bucket]) -> None:
    """Add the buckets' commands to `pipe` (REPLIES_PER_BUCKET replies each)."""
    for bucket in buckets:
        pipe.set(bucket.name, 0, ex=bucket.window, nx=True)
        pipe.incr(bucket.name)
        pipe.ttl(bucket.name)


def verdict(client, buckets: list[Bucket], replies: list) -> Verdict:
    """The first bucket past its limit, from the replies `queue`'s commands got."""
    found = Verdict(False)
    for n, bucket in enumerate(buckets):
        _created, count, ttl = replies[n * REPLIES_PER_BUCKET:(n + 1) * REPLIES_PER_BUCKET]
        if ttl < 0:
            # The window ended between SET NX and INCR, so INCR made a bucket without an
            # expiry, which would never reset: give it one (a rare second round trip).
            client.expire(bucket.name, bucket.window)
            ttl = bucket.window
        if count > bucket.limit and not found.limited:
            found = Verdict(True, max(1, ttl), bucket.scope)
    return found


def count(buckets: list[Bucket]) -> Verdict:
    """Count one request in `buckets`, in one round trip of its own; fails open."""
    if not buckets or not available():
        return Verdict(False)
    client = redis_clients.client(redis_clients.cache_url())
    try:
        pipe = client.pipeline(transaction=False)
        queue(pipe, buckets)
        return verdict(client, buckets, pipe.execute())
    except redis_clients.FAILURES:
        failed()
        return Verdict(False)


def failed() -> None:
    """Redis did not answer: let requests through, and leave it alone for a few seconds."""
    _skip_until[0] = time.monotonic() + SKIP_AFTER_FAILURE_SECONDS
    now = time.monotonic()
    if now - _last_warning[0] >= WARN_EVERY_SECONDS:
        _last_warning[0] = now
        logger.warning("rate limiter unavailable (Redis down?); letting requests through")


def reset_backoff() -> None:
    """Use Redis again at once (tests start every case with a fresh process state)."""
    _skip_until[0] = 0.0


def count_failed_auth(ip: str) -> Verdict:
    """Count one request whose key did not authenticate, per client IP, and say whether
    the client is past INBOUND_FAILED_AUTH_LIMIT (T51). Only failures are counted and only
    failures are refused: a valid key from the same address (a NAT shared with a guesser,
    or with a sender still using a revoked key) is never held back by this limit."""
    rate = settings.INBOUND_FAILED_AUTH_LIMIT
    if not rate or _in(ip, settings.INBOUND_RATE_LIMIT_EXEMPT):
        return Verdict(False)
    return count([_bucket("failed-auth", ip, rate)])
