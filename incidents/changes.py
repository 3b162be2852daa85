"""Change events (deploys, config changes): stored with the key's team and shown as
"recent changes" beside incidents. A change never opens an incident or pages anyone, so it
does not go through the pipeline; this is its one way in."""

from __future__ import annotations

import json
from datetime import datetime

from django.db.models import Q

from incidents.models import ChangeEvent
from integrations.formats.base import NormalizedEvent
from integrations.models import IntegrationKey

SUMMARY_MAX = 1024


def record_change(
    key: IntegrationKey, event: NormalizedEvent, *, body_text: str | None = None
) -> ChangeEvent:
    return ChangeEvent.objects.create(
        integration_key=key,
        team_id=key.team_id,
        summary=event.summary[:SUMMARY_MAX],
        source=event.source[:1024],
        timestamp=event.occurred_at,
        custom_details=event.details,
        links=event.links,
        raw=body_text if body_text is not None else json.dumps(event.raw, ensure_ascii=False, default=str),
    )


def recent_changes(*, team_id: int | None, integration_key_id: int | None, since: datetime, limit: int = 20):
    """The changes of a key or its team received since `since`, newest first (for the
    incident page: what changed shortly before this broke)."""
    scope = Q(integration_key_id=integration_key_id) if integration_key_id else Q(pk__in=[])
    if team_id:
        scope |= Q(team_id=team_id)
    return ChangeEvent.objects.filter(scope, received_at__gte=since).order_by("-received_at", "-id")[:limit]
