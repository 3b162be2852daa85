"""The admin pages for teams and schedules (rotations and overrides inline; a rotation's
participants on the rotation's own page)."""

from datetime import UTC, datetime

import pytest

from oncall.models import CalendarFeedToken, Rotation, Schedule
from tests.factories import make_team, make_user

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("fast_hashing")]


@pytest.fixture
def fast_hashing(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


def test_every_oncall_admin_page_opens(client):
    root = make_user("root", is_superuser=True, is_staff=True)
    client.force_login(root)
    team = make_team("SRE")
    schedule = Schedule.objects.create(name="Primary", team=team)
    rotation = Rotation.objects.create(schedule=schedule, start=datetime(2026, 1, 1, tzinfo=UTC))
    token = CalendarFeedToken.objects.create(user=root)
    pages = [
        "/admin/oncall/team/", f"/admin/oncall/team/{team.pk}/change/",
        "/admin/oncall/schedule/", f"/admin/oncall/schedule/{schedule.pk}/change/", "/admin/oncall/schedule/add/",
        f"/admin/oncall/rotation/{rotation.pk}/change/", "/admin/oncall/calendarfeedtoken/",
        f"/admin/oncall/calendarfeedtoken/{token.pk}/change/",
    ]
    for page in pages:
        response = client.get(page)
        assert response.status_code == 200, page
    assert token.secret.encode() not in client.get(pages[-1]).content  # the secret is never shown
