"""The iCalendar feed a person subscribes to: their shifts for the next weeks, at a secret
URL that only works until it is replaced."""

from datetime import UTC, datetime

import icalendar
import pytest

from oncall.models import Rotation, RotationParticipant, Schedule, ScheduleOverride
from tests.factories import api_client_for, make_team, make_user

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("fast_hashing")]

NOW = datetime(2026, 3, 25, 12, 0, tzinfo=UTC)


@pytest.fixture
def fast_hashing(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def ann_on_a_rotation(time_machine, settings):
    time_machine.move_to(NOW, tick=False)
    settings.ONCALL_CALENDAR_WEEKS = 2
    team = make_team("SRE")
    ann, ben = make_user("ann", team=team), make_user("ben", team=team)
    schedule = Schedule.objects.create(name="Primary", team=team, time_zone="Europe/Berlin")
    rotation = Rotation.objects.create(schedule=schedule, shift_kind="daily", handoff_time="09:00",
                                       start=datetime(2026, 3, 23, 8, tzinfo=UTC))
    RotationParticipant.objects.create(rotation=rotation, user=ann, position=0)
    RotationParticipant.objects.create(rotation=rotation, user=ben, position=1)
    ScheduleOverride.objects.create(schedule=schedule, user=ann, start=datetime(2026, 3, 28, 12, tzinfo=UTC),
                                    end=datetime(2026, 3, 28, 14, tzinfo=UTC))
    return ann


def feed_path(user) -> str:
    url = api_client_for(user).post("/api/v1/oncall/calendar/").json()["url"]
    return url.split("127.0.0.1:8000", 1)[1]


def events(response) -> list:
    calendar = icalendar.Calendar.from_ical(response.content)
    return sorted(calendar.walk("VEVENT"), key=lambda e: e.decoded("dtstart"))


def test_the_feed_lists_my_shifts_in_utc_across_the_dst_change(client, ann_on_a_rotation):
    response = client.get(feed_path(ann_on_a_rotation))
    assert response.status_code == 200
    assert response["Content-Type"] == "text/calendar; charset=utf-8"
    spans = [(e.decoded("dtstart"), e.decoded("dtend")) for e in events(response)]
    assert (datetime(2026, 3, 25, 8, tzinfo=UTC), datetime(2026, 3, 26, 8, tzinfo=UTC)) in spans
    assert (datetime(2026, 3, 28, 12, tzinfo=UTC), datetime(2026, 3, 28, 14, tzinfo=UTC)) in spans  # override
    # Sunday Mar 29 is the first CEST day: 09:00 local is 07:00 UTC.
    assert (datetime(2026, 3, 29, 7, tzinfo=UTC), datetime(2026, 3, 30, 7, tzinfo=UTC)) in spans
    summaries = {str(e["summary"]) for e in events(response)}
    assert summaries == {"On call: Primary"}


def test_the_calendar_url_is_null_until_made_and_dies_when_replaced(client, ann_on_a_rotation):
    api = api_client_for(ann_on_a_rotation)
    assert api.get("/api/v1/oncall/calendar/").json() == {"url": None}
    first = feed_path(ann_on_a_rotation)
    assert api.get("/api/v1/oncall/calendar/").json()["url"].endswith(first)
    second = feed_path(ann_on_a_rotation)  # POST again: replaced
    assert first != second
    assert client.get(first).status_code == 404
    assert client.get(second).status_code == 200


def test_an_unknown_secret_is_a_404(client, db):
    assert client.get("/oncall/calendar/not-a-secret.ics").status_code == 404
