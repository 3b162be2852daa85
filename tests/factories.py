"""Small make_* helpers that build real rows (no mocks of our own models)."""

import itertools

from django.contrib.auth import get_user_model

from escalation.models import EscalationPolicy
from integrations.models import IntegrationKey
from oncall.models import Team, TeamMembership

_seq = itertools.count(1)


def make_user(username=None, *, team=None, role=TeamMembership.Role.RESPONDER, **fields):
    username = username or f"user{next(_seq)}"
    user = get_user_model().objects.create_user(
        username=username, password=fields.pop("password", "correct horse battery"),
        email=fields.pop("email", f"{username}@example.com"), **fields
    )
    if team is not None:
        TeamMembership.objects.create(team=team, user=user, role=role)
    return user


def make_team(name=None):
    name = name or f"Team {next(_seq)}"
    return Team.objects.create(name=name, slug=name.lower().replace(" ", "-"))


def make_policy(name=None, team=None):
    return EscalationPolicy.objects.create(name=name or f"Policy {next(_seq)}", team=team)


def make_key(*, team=None, policy=None, **fields) -> tuple[IntegrationKey, str]:
    """An integration key and its raw secret."""
    policy = policy or make_policy(team=team)
    return IntegrationKey.create_with_raw_key(
        name=fields.pop("name", f"key {next(_seq)}"), escalation_policy=policy, team=team, **fields
    )


def make_incident(key: IntegrationKey, dedup_key=None, **event_fields):
    """An incident made the real way: a trigger through the one pipeline."""
    from incidents.models import Incident
    from incidents.pipeline import apply_event
    from integrations.formats.base import NormalizedEvent

    event = NormalizedEvent(
        action="trigger",
        dedup_key=dedup_key or f"dedup-{next(_seq)}",
        summary=event_fields.pop("summary", "Disk usage > 90% on srv01"),
        severity=event_fields.pop("severity", "critical"),
        source=event_fields.pop("source", "prometheus"),
        **event_fields,
    )
    event.raw = event.to_log()
    outcome = apply_event(key, event, format="events_v2")
    return Incident.objects.get(pk=outcome.incident_id)


def api_client_for(user, **client_options):
    """An APIClient that sends a REST token of the user's (`Authorization: Token ...`), as a script does."""
    from rest_framework.test import APIClient

    client = APIClient(**client_options)
    client.credentials(HTTP_AUTHORIZATION=f"Token {make_api_token(user)}")
    return client


def make_api_token(user, name="tests") -> str:
    """A new REST token of the user's (knox digest row); the raw token."""
    from oncall.tokens import create_token

    return create_token(user, name)[1]
