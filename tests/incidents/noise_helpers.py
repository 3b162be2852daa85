"""Shared helpers of the noise-reduction tests: events through the real pipeline, and the
per-process state (rule cache, Redis flapping keys) reset between tests."""

from __future__ import annotations

import itertools
from contextlib import contextmanager

import redis
from django.conf import settings

from incidents.noise import flapping
from incidents.pipeline import Outcome, apply_event
from incidents.rules import cache as rule_cache
from integrations.formats.base import NormalizedEvent

_seq = itertools.count(1)


def trigger(dedup_key: str | None = None, summary: str = "Disk usage > 90% on srv01", **fields) -> NormalizedEvent:
    fields.setdefault("severity", "critical")
    fields.setdefault("source", "prometheus")
    event = NormalizedEvent(action="trigger", dedup_key=dedup_key or f"alert-{next(_seq)}", summary=summary, **fields)
    event.raw = event.to_log()
    return event


def closing(action: str, dedup_key: str) -> NormalizedEvent:
    event = NormalizedEvent(action=action, dedup_key=dedup_key)
    event.raw = {"event_action": action, "dedup_key": dedup_key}
    return event


def ingest(key, event: NormalizedEvent) -> Outcome:
    return apply_event(key, event, format="events_v2")


@contextmanager
def tasks_inline():
    """Celery tasks run in the calling thread (what a worker would do after the commit),
    errors raised: the production code path minus the broker hop."""
    from config.celery import app

    saved = app.conf.task_always_eager, app.conf.task_eager_propagates
    app.conf.task_always_eager, app.conf.task_eager_propagates = True, True
    try:
        yield
    finally:
        app.conf.task_always_eager, app.conf.task_eager_propagates = saved


def paged_key(team, username: str = "oncall", **key_fields):
    """A key whose policy pages one person by email at once (one step, no delay)."""
    from escalation.models import ContactMethod, EscalationPolicy, EscalationStep
    from tests.factories import make_key, make_user

    user = make_user(username, team=team)
    ContactMethod.objects.create(user=user, kind=ContactMethod.Kind.EMAIL, address=f"{username}@example.com")
    policy = EscalationPolicy.objects.create(name=f"page {username}", team=team)
    EscalationStep.objects.create(policy=policy, order=0, delay_minutes=0).users.set([user])
    return make_key(team=team, policy=policy, **key_fields)[0]


def reset_noise_state() -> None:
    """Nothing cached in this process survives a test: the rule cache, the flapping module's
    back-off, and the flapping sorted sets in this run's Redis DB (REDIS_URL)."""
    rule_cache.invalidate()
    flapping._skip_until = float("-inf")
    flapping._last_warning_at = float("-inf")
    client = redis.Redis.from_url(settings.REDIS_URL, socket_timeout=1, socket_connect_timeout=1)
    try:
        keys = list(client.scan_iter("vigil:flap:*", count=1000))
        if keys:
            client.delete(*keys)
    finally:
        client.close()
