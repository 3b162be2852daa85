"""Who an incident may be reassigned to: a member of its team, or one of its team's schedules.

The choice arrives as "user:<id>" or "schedule:<id>" and is checked against the same lists
the form offered, so a forged id of another team's person or schedule is refused."""

from __future__ import annotations

from django.contrib.auth import get_user_model

from incidents.models import Incident
from oncall.models import Schedule


def reassign_targets(incident: Incident) -> tuple[list, list]:
    """(people, schedules) of the incident's team, two queries."""
    if incident.team_id is None:
        return [], []
    people = list(
        get_user_model()
        .objects.filter(team_memberships__team_id=incident.team_id, is_active=True)
        .order_by("username")
        .only("id", "username", "first_name", "last_name")
    )
    schedules = list(Schedule.objects.filter(team_id=incident.team_id).only("id", "name"))
    return people, schedules


def resolve_target(incident: Incident, value: str) -> dict | None:
    kind, _, raw_id = value.partition(":")
    if not raw_id.isdecimal() or incident.team_id is None:
        return None
    if kind == "user":
        user = (
            get_user_model()
            .objects.filter(pk=int(raw_id), is_active=True, team_memberships__team_id=incident.team_id)
            .first()
        )
        return {"user": user} if user else None
    if kind == "schedule":
        schedule = Schedule.objects.filter(pk=int(raw_id), team_id=incident.team_id).first()
        return {"schedule": schedule} if schedule else None
    return None
