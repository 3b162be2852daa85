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


def test_the_admin_reads_a_rotation_start_in_the_schedules_zone(client):
    """A superuser whose own zone is UTC types Monday 09:00 for a Berlin schedule: the
    rotation starts at 09:00 Berlin time (08:00 UTC), and the form shows 09:00 back."""
    root = make_user("root", is_superuser=True, is_staff=True)
    client.force_login(root)
    schedule = Schedule.objects.create(name="Primary", team=make_team("SRE"), time_zone="Europe/Berlin")
    rotation = Rotation.objects.create(schedule=schedule, start=datetime(2026, 1, 1, tzinfo=UTC))
    response = client.post(f"/admin/oncall/rotation/{rotation.pk}/change/", {
        "schedule": schedule.pk, "name": "", "order": "0", "shift_kind": "weekly", "shift_hours": "24",
        "handoff_time": "09:00:00", "start_0": "2026-03-02", "start_1": "09:00:00", "restrict_weekdays": "[]",
        "restrict_start_time": "", "restrict_end_time": "",
        "participants-TOTAL_FORMS": "0", "participants-INITIAL_FORMS": "0",
    })
    assert response.status_code == 302, response.content.decode()[:3000]
    rotation.refresh_from_db()
    assert rotation.start == datetime(2026, 3, 2, 8, tzinfo=UTC)
    page = client.get(f"/admin/oncall/rotation/{rotation.pk}/change/").content.decode()
    assert 'value="09:00:00"' in page and "time zone (Europe/Berlin)." in page
