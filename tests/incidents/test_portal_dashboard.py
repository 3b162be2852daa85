from datetime import timedelta

import pytest
from django.utils import timezone

from incidents.models import Incident, SuppressionRule
from tests.factories import make_incident

pytestmark = pytest.mark.django_db


def test_dashboard_counts_open_incidents_by_team_and_severity(web, key, other_incident):
    make_incident(key, dedup_key="a", severity="critical")
    make_incident(key, dedup_key="b", severity="critical")
    make_incident(key, dedup_key="c", severity="info")
    page = web.get("/dashboard/").content.decode()
    table = page.split('id="open-by-team"')[1].split("</table>")[0]
    assert '<th scope="row">SRE</th><td class="num">2</td><td class="num">0</td><td class="num">0</td><td class="num">1</td>' in table
    assert "Payments" not in page  # another team's incident is not counted


def test_mtta_and_mttr_are_averages_over_the_period(web, key):
    now = timezone.now()
    for n, (ack, res) in enumerate([(2, 10), (4, 30)]):
        incident = make_incident(key, dedup_key=f"m{n}")
        start = now - timedelta(days=1)
        Incident.objects.filter(pk=incident.pk).update(
            first_seen_at=start, acknowledged_at=start + timedelta(minutes=ack),
            resolved_at=start + timedelta(minutes=res), status="resolved",
        )
    old = make_incident(key, dedup_key="old")
    start = now - timedelta(days=20)
    Incident.objects.filter(pk=old.pk).update(
        first_seen_at=start, acknowledged_at=start + timedelta(minutes=60), status="acknowledged"
    )
    page = web.get("/dashboard/").content.decode()
    assert 'id="mtta-7">3m 0s<' in page
    assert 'id="mttr-7">20m 0s<' in page
    assert 'id="mtta-30">22m 0s<' in page  # (2 + 4 + 60) / 3


def test_incidents_per_day_is_a_server_drawn_svg(web, key):
    for n in range(3):
        make_incident(key, dedup_key=f"d{n}")
    page = web.get("/dashboard/").content.decode()
    chart = page.split('id="per-day-chart"')[1].split("</svg>")[0]
    assert chart.count('<rect class="bar"') == 1
    assert "3 incidents</title>" in chart
    assert "<script" not in page.split("</head>")[1]


def test_noisiest_keys_and_rules_are_listed(web, key, team, other_key):
    for n in range(4):
        make_incident(key, dedup_key=f"n{n}")
    make_incident(other_key, dedup_key="theirs")
    SuppressionRule.objects.create(team=team, field="summary", operator="contains", value="staging",
                                   hit_count=42, name="Ignore staging")
    page = web.get("/dashboard/").content.decode()
    keys_table = page.split('id="noisy-keys"')[1].split("</table>")[0]
    assert key.name in keys_table and other_key.name not in keys_table
    assert "Ignore staging" in page and ">42<" in page


def test_dashboard_queries_are_bounded(web, key, django_assert_max_num_queries):
    for n in range(50):
        make_incident(key, dedup_key=f"q{n}")
    with django_assert_max_num_queries(10):
        assert web.get("/dashboard/").status_code == 200
