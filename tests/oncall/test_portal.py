from datetime import timedelta

import pytest
from django.utils import timezone

from oncall.models import CalendarFeedToken, Rotation, RotationParticipant, Schedule, ScheduleOverride
from tests.factories import make_user

pytestmark = pytest.mark.django_db


@pytest.fixture
def weekly(team, responder):
    colleague = make_user("colin", team=team, first_name="Colin", last_name="Next")
    schedule = Schedule.objects.create(name="SRE primary", team=team)
    rotation = Rotation.objects.create(
        schedule=schedule, shift_kind=Rotation.ShiftKind.DAILY, handoff_time="09:00",
        start=timezone.now() - timedelta(days=10),
    )
    RotationParticipant.objects.create(rotation=rotation, user=responder, position=0)
    RotationParticipant.objects.create(rotation=rotation, user=colleague, position=1)
    return schedule


def test_oncall_page_shows_who_is_on_call_now_and_next(web, weekly, responder):
    ScheduleOverride.objects.create(
        schedule=weekly, user=responder, start=timezone.now() - timedelta(hours=1),
        end=timezone.now() + timedelta(hours=2),
    )
    page = web.get("/oncall/").content.decode()
    assert "SRE primary" in page
    now_part = page.split("Now:")[1].split("Next:")[0]
    assert "Rita Responder" in now_part
    # Equal answers in a row merge into one shift, so "next" is always someone else.
    assert "Colin Next" in page.split("Next:")[1]


def test_my_upcoming_shifts_are_listed(web, weekly):
    page = web.get("/oncall/").content.decode()
    assert 'id="my-shifts"' in page
    assert page.count("SRE primary") >= 2


def test_another_teams_schedules_are_not_shown(web, other_team):
    Schedule.objects.create(name="Payments rota", team=other_team)
    assert "Payments rota" not in web.get("/oncall/").content.decode()


def test_calendar_link_is_created_then_replaced(web, responder):
    assert "Create my calendar link" in web.get("/oncall/").content.decode()
    web.post("/oncall/calendar-link/")
    first = CalendarFeedToken.objects.get(user=responder).secret
    assert f"/oncall/calendar/{first}.ics" in web.get("/oncall/").content.decode()
    web.post("/oncall/calendar-link/")
    second = CalendarFeedToken.objects.get(user=responder).secret
    assert second != first
    page = web.get("/oncall/").content.decode()
    assert second in page and first not in page
