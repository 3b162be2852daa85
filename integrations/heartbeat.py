"""The heartbeat check: a key with a heartbeat interval whose last beat (or, before the
first beat, its creation) is older than interval + grace gets one incident, through the
same pipeline as every alert. The next beat resolves it (incidents.pipeline). Named
heartbeats (Opsgenie's pings, several per key) are checked the same way, each on its own."""

from __future__ import annotations

from datetime import timedelta

from django.utils import timezone

from incidents.models import Incident
from incidents.pipeline import Outcome, apply_event
from integrations.formats import heartbeat
from integrations.models import IntegrationKey, NamedHeartbeat


def silent_keys(now) -> list[tuple[IntegrationKey, int]]:
    """Keys overdue for a beat, with how long they have been silent, in seconds."""
    overdue = []
    for key in IntegrationKey.objects.active().filter(heartbeat_interval_seconds__isnull=False):
        last = key.last_heartbeat_at or key.created_at
        allowed = timedelta(seconds=key.heartbeat_interval_seconds + key.heartbeat_grace_seconds)
        if now - last > allowed:
            overdue.append((key, int((now - last).total_seconds())))
    return overdue


def silent_named_heartbeats(now) -> list[tuple[NamedHeartbeat, int]]:
    overdue = []
    named = NamedHeartbeat.objects.filter(integration_key__revoked_at__isnull=True).select_related(
        "integration_key"
    )
    for beat in named:
        last = beat.last_ping_at or beat.created_at
        if now - last > timedelta(seconds=beat.interval_seconds + beat.grace_seconds):
            overdue.append((beat, int((now - last).total_seconds())))
    return overdue


def already_raised(key: IntegrationKey, since, dedup_key: str = heartbeat.HEARTBEAT_DEDUP_KEY) -> bool:
    """At most one incident per silence: one was opened since the last beat (open, or
    already resolved by a person), so the check says nothing more until beats resume."""
    return Incident.objects.filter(integration_key=key, dedup_key=dedup_key, created_at__gte=since).exists()


def check_heartbeats(now=None) -> list[Outcome]:
    now = now or timezone.now()
    outcomes = []
    for key, silent in silent_keys(now):
        if already_raised(key, key.last_heartbeat_at or key.created_at):
            continue
        event = heartbeat.missed(
            key.name, silent, key.heartbeat_interval_seconds, key.heartbeat_grace_seconds
        )
        outcomes.append(apply_event(key, event, format="heartbeat"))
    for beat, silent in silent_named_heartbeats(now):
        key = beat.integration_key
        if already_raised(key, beat.last_ping_at or beat.created_at, heartbeat.named_dedup_key(beat.name)):
            continue
        event = heartbeat.missed(key.name, silent, beat.interval_seconds, beat.grace_seconds, heartbeat_name=beat.name)
        outcomes.append(apply_event(key, event, format="heartbeat"))
    return outcomes
