"""What a door asks Redis before its transaction, in one round trip: the current key
generation (`key_cache`), the rate-limit counters the request goes into (`ratelimit`) and,
for each trigger and resolve it carries, its alert's flapping count (`flapping`).

One pipeline on the process's shared client when the cache's Redis (`REDIS_URL`) and the
flapping Redis (`FLAPPING_REDIS_URL`) are the same; two round trips when they differ. Redis
is an aid: a part whose Redis fails or hangs answers "cannot say" (no limit, the key
memory's time bound, no flapping mark), and its module backs off and warns as it does on
its own. No transaction is open here, so no row lock waits on Redis."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings

from config import redis_clients
from incidents.noise import flapping
from incidents.pipeline import fit_dedup_key
from integrations import key_cache, ratelimit
from integrations.formats.base import NormalizedEvent
from integrations.models import IntegrationKey


@dataclass
class Preflight:
    verdict: ratelimit.Verdict = field(default_factory=lambda: ratelimit.Verdict(False))
    generation: int | None = None  # None: Redis could not say
    # Per event, for `apply_event(flap=...)`: the flapping answer, or READ (the pipeline reads it).
    flaps: list = field(default_factory=list)


@dataclass
class _Part:
    """Commands for one Redis: how to queue them, read their replies, and take a failure."""

    url: str
    replies: int
    queue: Callable[[Any], None]  # (pipeline)
    take: Callable[[Any, list], None]  # (client, this part's replies)
    fail: Callable[[Exception], None]


def run(key: IntegrationKey, *, ip: str, counted: bool, events: list[NormalizedEvent]) -> Preflight:
    """`counted`: the request goes into the rate limit (not when every event is an
    acknowledge, a resolve or a heartbeat). `events`: those that `apply_event` will get."""
    answer = Preflight(flaps=[None] * len(events))
    parts = [part for part in (_cache_part(answer, key, ip, counted), _flapping_part(answer, key, events)) if part]
    for url in dict.fromkeys(part.url for part in parts):  # each Redis once, in order
        _send([part for part in parts if part.url == url])
    return answer


def _send(parts: list[_Part]) -> None:
    client = redis_clients.client(parts[0].url)
    try:
        pipe = client.pipeline(transaction=False)
        for part in parts:
            part.queue(pipe)
        replies = pipe.execute()
        start = 0
        for part in parts:
            # Inside the try: taking the replies may ask Redis once more (a rate-limit
            # bucket left without expiry gets one).
            part.take(client, replies[start:start + part.replies])
            start += part.replies
    except redis_clients.FAILURES as error:
        for part in parts:
            part.fail(error)


def _cache_part(answer: Preflight, key: IntegrationKey, ip: str, counted: bool) -> _Part | None:
    if not ratelimit.available():
        return None  # no Redis behind the cache, or the limiter's back-off after it failed
    buckets = ratelimit.inbound_buckets(ip, key.key_digest) if counted else []

    def queue(pipe) -> None:
        key_cache.queue_generation(pipe)
        ratelimit.queue(pipe, buckets)

    def take(client, replies: list) -> None:
        answer.generation = key_cache.generation_of(replies[0])
        answer.verdict = ratelimit.verdict(client, buckets, replies[1:])

    return _Part(redis_clients.cache_url(), 1 + len(buckets) * ratelimit.REPLIES_PER_BUCKET, queue, take,
                 lambda _error: ratelimit.failed())


def _flapping_part(answer: Preflight, key: IntegrationKey, events: list[NormalizedEvent]) -> _Part | None:
    if not flapping.available():
        return None  # the pipeline's own read would say nothing either
    limits = flapping.limits_of(key)
    reads: list[tuple[int, str]] = []  # (event's index, its dedup key as the pipeline fits it)
    for n, event in enumerate(events):
        if event.action not in flapping.ACTIONS:
            continue  # nothing else changes an alert's state
        if event.incident_ref is not None:
            answer.flaps[n] = flapping.READ  # its dedup key is its incident's: the pipeline reads it
        else:
            reads.append((n, fit_dedup_key(event.dedup_key)))
    if not reads:
        return None

    def queue(pipe) -> None:
        for _n, dedup_key in reads:
            flapping.queue_read(pipe, key.pk, dedup_key, window_seconds=limits.window_seconds)

    def take(_client, replies: list) -> None:
        for (n, dedup_key), before in zip(reads, replies, strict=True):
            answer.flaps[n] = flapping.flap_of(int(before), dedup_key, limits)

    return _Part(settings.FLAPPING_REDIS_URL, len(reads), queue, take, flapping.failed)
