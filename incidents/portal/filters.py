"""The incident list's filters: read from the query string, applied inside the user's teams.

Every filter narrows `Incident.objects.visible_to(user)`, never widens it: `?team=` naming
another team or `?key=` naming another team's key simply match nothing."""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlencode

from django.db.models import Case, Count, Exists, IntegerField, OuterRef, Q, Value, When

from incidents.models import Alert, Incident, Severity

STATUS_CHOICES = [("", "Any status"), ("open", "Open")] + list(Incident.Status.choices)
SEVERITY_CHOICES = [("", "Any severity")] + list(Severity.choices)
SEARCH_MAX = 200


@dataclass
class IncidentFilters:
    team: str = ""
    status: str = ""
    severity: str = ""
    key: str = ""
    q: str = ""

    @classmethod
    def from_query(cls, params) -> IncidentFilters:
        status = params.get("status", "")
        severity = params.get("severity", "")
        key = params.get("key", "")
        return cls(
            team=params.get("team", "")[:100],
            status=status if status in dict(STATUS_CHOICES) else "",
            severity=severity if severity in Severity.values else "",
            key=key if key.isdecimal() else "",
            q=params.get("q", "").strip()[:SEARCH_MAX],
        )

    @property
    def active(self) -> bool:
        return any((self.team, self.status, self.severity, self.key, self.q))

    def querystring(self, **override) -> str:
        """The filters as a query string (for pagination and the live refresh)."""
        values = {
            "team": self.team, "status": self.status, "severity": self.severity,
            "key": self.key, "q": self.q,
        }
        values.update(override)
        return urlencode({k: v for k, v in values.items() if v not in ("", None)})

    def scope(self, queryset):
        """Every filter except status: the per-status counts are taken over this."""
        if self.team:
            queryset = queryset.filter(team__slug=self.team)
        if self.severity:
            queryset = queryset.filter(severity=self.severity)
        if self.key:
            queryset = queryset.filter(integration_key_id=int(self.key))
        if self.q:
            alert_matches = Alert.objects.filter(incident=OuterRef("pk"), dedup_key__icontains=self.q)
            queryset = queryset.filter(
                Q(summary__icontains=self.q) | Q(dedup_key__icontains=self.q) | Exists(alert_matches)
            )
        return queryset

    def apply(self, queryset):
        queryset = self.scope(queryset)
        if self.status == "open":
            queryset = queryset.open()
        elif self.status:
            queryset = queryset.filter(status=self.status)
        return queryset


def open_first(queryset):
    """Triggered, then acknowledged, then resolved; newest first within each."""
    return queryset.annotate(
        status_rank=Case(
            When(status=Incident.Status.TRIGGERED, then=Value(0)),
            When(status=Incident.Status.ACKNOWLEDGED, then=Value(1)),
            default=Value(2),
            output_field=IntegerField(),
        )
    ).order_by("status_rank", "-id")


def status_counts(queryset) -> dict[str, int]:
    """Per-status counts in one query."""
    counts = queryset.aggregate(
        **{
            status: Count("id", filter=Q(status=status))
            for status in Incident.Status.values
        }
    )
    counts["open"] = counts[Incident.Status.TRIGGERED] + counts[Incident.Status.ACKNOWLEDGED]
    counts["all"] = counts["open"] + counts[Incident.Status.RESOLVED]
    return counts
