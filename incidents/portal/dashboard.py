"""The dashboard: open incidents by team and severity, MTTA/MTTR, incidents per day as a
server-drawn SVG chart (no chart library, no script), and the noisiest keys and rules.

Everything is scoped to the user's teams, in a fixed handful of aggregate queries."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

from django.contrib.auth.decorators import login_required
from django.db.models import Avg, Count, DurationField, ExpressionWrapper, F, Q
from django.db.models.functions import TruncDate
from django.shortcuts import render
from django.utils import timezone
from django.views.decorators.http import require_GET

from incidents.models import Event, Incident, Severity, SuppressionRule
from integrations.models import IntegrationKey
from oncall.models import Team

CHART_DAYS = 30
NOISY_DAYS = 7
TOP = 5


@dataclass
class TeamRow:
    name: str
    counts: list[int]  # in Severity order
    total: int


def open_by_team_and_severity(incidents) -> tuple[list[TeamRow], list[int]]:
    rows: dict[str, dict[str, int]] = {}
    for row in incidents.open().values("team__name", "severity").annotate(n=Count("id")):
        rows.setdefault(row["team__name"] or "(no team)", {})[row["severity"]] = row["n"]
    table = [
        TeamRow(name, [counts.get(s, 0) for s in Severity.values], sum(counts.values()))
        for name, counts in sorted(rows.items())
    ]
    totals = [sum(r.counts[i] for r in table) for i in range(len(Severity.values))]
    return table, totals


@dataclass
class ResponseTimes:
    days: int
    incidents: int
    acknowledged: int
    resolved: int
    mtta: timedelta | None
    mttr: timedelta | None


def response_times(incidents, days: int, now) -> ResponseTimes:
    """Mean time to acknowledge (over acknowledged incidents) and to resolve (over resolved
    ones), for incidents that started in the last `days` days."""
    to_ack = ExpressionWrapper(F("acknowledged_at") - F("first_seen_at"), output_field=DurationField())
    to_resolve = ExpressionWrapper(F("resolved_at") - F("first_seen_at"), output_field=DurationField())
    acked = Q(acknowledged_at__isnull=False)
    resolved = Q(resolved_at__isnull=False)
    row = incidents.filter(first_seen_at__gte=now - timedelta(days=days)).aggregate(
        incidents=Count("id"),
        acknowledged=Count("id", filter=acked),
        resolved=Count("id", filter=resolved),
        mtta=Avg(to_ack, filter=acked),
        mttr=Avg(to_resolve, filter=resolved),
    )
    return ResponseTimes(days=days, **row)


@dataclass
class Bar:
    day: date
    count: int
    x: float
    y: float
    width: float
    height: float

    @property
    def center(self) -> float:
        return round(self.x + self.width / 2, 1)


@dataclass
class Chart:
    width: int
    height: int
    bars: list[Bar]
    max_count: int
    baseline: float
    ticks: list[Bar]  # the bars whose date is printed under the axis
    total: int


def per_day_chart(incidents, today: date, days: int = CHART_DAYS) -> Chart:
    """Bar geometry in Python so the template only prints numbers into <rect> attributes."""
    start = today - timedelta(days=days - 1)
    counts = {
        row["day"]: row["n"]
        for row in incidents.filter(first_seen_at__date__gte=start)
        .annotate(day=TruncDate("first_seen_at"))
        .values("day")
        .annotate(n=Count("id"))
    }
    width, height, top, bottom, left, right = 600, 180, 12, 24, 28, 14
    plot_height = height - top - bottom
    slot = (width - left - right) / days
    peak = max(counts.values(), default=0)
    scale = plot_height / peak if peak else 0
    bars = []
    for i in range(days):
        day = start + timedelta(days=i)
        n = counts.get(day, 0)
        h = round(n * scale, 1)
        bars.append(
            Bar(day, n, x=round(left + i * slot + 1, 1), y=round(top + plot_height - h, 1),
                width=round(slot - 2, 1), height=h)
        )
    # A date under every seventh bar, counted back from today so today is always labelled.
    ticks = [b for i, b in enumerate(bars) if (days - 1 - i) % 7 == 0]
    return Chart(width, height, bars, peak, baseline=top + plot_height, ticks=ticks, total=sum(counts.values()))


def noisiest_keys(user, now):
    keys = IntegrationKey.objects.for_user(user).values("pk")
    return list(
        Event.objects.filter(integration_key__in=keys, received_at__gte=now - timedelta(days=NOISY_DAYS))
        .values("integration_key_id", "integration_key__name", "integration_key__key_prefix")
        .annotate(
            events=Count("id"),
            created=Count("id", filter=Q(outcome=Event.Outcome.CREATED)),
            suppressed=Count("id", filter=Q(outcome=Event.Outcome.SUPPRESSED)),
            rejected=Count("id", filter=Q(outcome=Event.Outcome.REJECTED)),
        )
        .order_by("-events")[:TOP]
    )


def noisiest_rules(user):
    rules = SuppressionRule.objects.filter(hit_count__gt=0)
    if not user.is_superuser:
        teams = Team.objects.for_user(user).values("pk")
        rules = rules.filter(Q(team__in=teams) | Q(integration_key__team__in=teams))
    return list(rules.select_related("team", "integration_key").order_by("-hit_count")[:TOP])


@login_required
@require_GET
def dashboard(request):
    now = timezone.now()
    incidents = Incident.objects.visible_to(request.user)
    by_team, totals = open_by_team_and_severity(incidents)
    return render(
        request,
        "dashboard/dashboard.html",
        {
            "section": "dashboard",
            "severities": Severity.choices,
            "by_team": by_team,
            "severity_totals": totals,
            "open_total": sum(totals),
            "response_times": [response_times(incidents, 7, now), response_times(incidents, 30, now)],
            "chart": per_day_chart(incidents, timezone.localdate(now)),
            "noisy_keys": noisiest_keys(request.user, now),
            "noisy_rules": noisiest_rules(request.user),
            "noisy_days": NOISY_DAYS,
        },
    )
