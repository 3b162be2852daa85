"""`/api/v1/schedules/` (rotations and overrides nested) and `/api/v1/oncall/`: team admins
write, members read, other teams get 404 (RELIABILITY T34), and editing a rotation keeps
whoever is on call now on call."""

from datetime import UTC, datetime

import pytest

from oncall.models import Rotation, Schedule, ScheduleOverride, TeamMembership
from oncall.schedule import who_is_on_call
from tests.factories import api_client_for, make_team, make_user

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("fast_hashing")]

NOW = datetime(2026, 3, 25, 12, 0, tzinfo=UTC)


@pytest.fixture
def fast_hashing(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def world(time_machine):
    time_machine.move_to(NOW, tick=False)
    sre, dba = make_team("SRE"), make_team("DBA")
    return {
        "sre": sre,
        "dba": dba,
        "admin": make_user("sre-admin", team=sre, role=TeamMembership.Role.ADMIN),
        "ann": make_user("ann", team=sre),
        "ben": make_user("ben", team=sre),
        "cat": make_user("cat", team=sre),
        "dan": make_user("dan", team=sre),
        "dba_admin": make_user("dba-admin", team=dba, role=TeamMembership.Role.ADMIN),
        "root": make_user("root", is_superuser=True, is_staff=True),
    }


def schedule_body(world, **overrides):
    body = {
        "name": "Primary",
        "team": "sre",
        "time_zone": "Europe/Berlin",
        "rotations": [{
            "name": "weekdays", "shift_kind": "daily", "handoff_time": "09:00:00",
            "start": "2026-03-23T09:00:00+01:00",
            "participants": [world["ann"].pk, world["ben"].pk, world["cat"].pk],
        }],
        "overrides": [],
    }
    body.update(overrides)
    return body


def test_a_team_admin_creates_a_schedule_with_rotations_and_overrides(world):
    client = api_client_for(world["admin"])
    body = schedule_body(world, overrides=[
        {"user": world["dan"].pk, "start": "2026-03-26T00:00:00Z", "end": "2026-03-27T00:00:00Z"}
    ])
    response = client.post("/api/v1/schedules/", body, format="json")
    assert response.status_code == 201, response.json()
    data = response.json()
    assert data["team"] == "sre" and data["time_zone"] == "Europe/Berlin"
    assert data["rotations"][0]["participants"] == [world["ann"].pk, world["ben"].pk, world["cat"].pk]
    assert data["overrides"][0]["user"] == world["dan"].pk
    schedule = Schedule.objects.get(pk=data["id"])
    # Mar 25 is the third day: cat.
    assert who_is_on_call(schedule, NOW) == [world["cat"]]
    assert who_is_on_call(schedule, datetime(2026, 3, 26, 12, tzinfo=UTC)) == [world["dan"]]


def test_a_responder_cannot_create_or_change_a_schedule(world):
    client = api_client_for(world["ann"])
    assert client.post("/api/v1/schedules/", schedule_body(world), format="json").status_code == 403
    schedule = api_client_for(world["admin"]).post("/api/v1/schedules/", schedule_body(world), format="json").json()
    assert client.get(f"/api/v1/schedules/{schedule['id']}/").status_code == 200
    assert client.patch(f"/api/v1/schedules/{schedule['id']}/", {"name": "mine"}, format="json").status_code == 403
    assert client.delete(f"/api/v1/schedules/{schedule['id']}/").status_code == 403


def test_another_teams_schedule_is_a_404_and_never_listed(world):
    created = api_client_for(world["admin"]).post("/api/v1/schedules/", schedule_body(world), format="json").json()
    other = api_client_for(world["dba_admin"])
    assert other.get(f"/api/v1/schedules/{created['id']}/").status_code == 404
    assert other.patch(f"/api/v1/schedules/{created['id']}/", {"name": "x"}, format="json").status_code == 404
    assert other.get("/api/v1/schedules/").json()["count"] == 0
    assert other.get("/api/v1/oncall/").json()["results"] == []
    assert other.post("/api/v1/schedules/", schedule_body(world), format="json").status_code == 400  # not its team
    assert api_client_for(world["root"]).get(f"/api/v1/schedules/{created['id']}/").status_code == 200


def test_a_stranger_cannot_be_put_on_call(world):
    body = schedule_body(world)
    body["rotations"][0]["participants"].append(world["dba_admin"].pk)
    response = api_client_for(world["admin"]).post("/api/v1/schedules/", body, format="json")
    assert response.status_code == 400
    assert f"User {world['dba_admin'].pk} is not a member" in str(response.json())


@pytest.mark.parametrize("bad", [
    {"time_zone": "Mars/Olympus"},
    {"rotations": [{"shift_kind": "daily", "start": "2026-03-23T09:00:00Z", "restrict_weekdays": [7]}]},
    {"rotations": [{"shift_kind": "daily", "start": "2026-03-23T09:00:00Z", "restrict_start_time": "22:00"}]},
    {"overrides": [{"user": 1, "start": "2026-03-27T00:00:00Z", "end": "2026-03-26T00:00:00Z"}]},
])
def test_invalid_schedules_are_refused_naming_the_field(world, bad):
    response = api_client_for(world["admin"]).post("/api/v1/schedules/", schedule_body(world, **bad), format="json")
    assert response.status_code == 400
    assert set(response.json()) & {"time_zone", "rotations", "overrides"}


def test_editing_a_rotation_keeps_the_person_on_call_now_until_their_shift_ends(world):
    client = api_client_for(world["admin"])
    created = client.post("/api/v1/schedules/", schedule_body(world), format="json").json()
    schedule = Schedule.objects.get(pk=created["id"])
    assert who_is_on_call(schedule, NOW) == [world["cat"]]

    rotation = created["rotations"][0]
    rotation["participants"] = [world["dan"].pk, world["ann"].pk, world["cat"].pk]  # ben out, dan in
    response = client.patch(f"/api/v1/schedules/{schedule.pk}/", {"rotations": [rotation]}, format="json")
    assert response.status_code == 200, response.json()

    assert Rotation.objects.filter(schedule=schedule).count() == 1  # edited in place
    assert who_is_on_call(schedule, NOW) == [world["cat"]]  # unchanged right now
    # cat's shift ends at 09:00 Berlin (08:00 UTC) the next day; then the new order goes on.
    assert who_is_on_call(schedule, datetime(2026, 3, 26, 7, 59, tzinfo=UTC)) == [world["cat"]]
    assert who_is_on_call(schedule, datetime(2026, 3, 26, 8, 0, tzinfo=UTC)) == [world["dan"]]
    assert who_is_on_call(schedule, datetime(2026, 3, 27, 8, 0, tzinfo=UTC)) == [world["ann"]]


def test_an_override_is_added_and_removed_through_its_own_endpoints(world):
    client = api_client_for(world["admin"])
    created = client.post("/api/v1/schedules/", schedule_body(world), format="json").json()
    added = client.post(f"/api/v1/schedules/{created['id']}/overrides/",
                        {"user": world["dan"].pk, "start": "2026-03-25T11:00:00Z", "end": "2026-03-25T13:00:00Z"},
                        format="json")
    assert added.status_code == 201
    now = client.get("/api/v1/oncall/").json()["results"][0]
    assert [p["username"] for p in now["on_call"]] == ["dan"]
    removed = client.delete(f"/api/v1/schedules/{created['id']}/overrides/{added.json()['id']}/")
    assert removed.status_code == 204
    assert not ScheduleOverride.objects.exists()
    stranger = client.post(f"/api/v1/schedules/{created['id']}/overrides/",
                           {"user": world["dba_admin"].pk, "start": "2026-03-25T11:00:00Z",
                            "end": "2026-03-25T13:00:00Z"}, format="json")
    assert stranger.status_code == 400


def test_oncall_answers_now_or_at_a_given_instant(world):
    client = api_client_for(world["ann"])
    api_client_for(world["admin"]).post("/api/v1/schedules/", schedule_body(world), format="json")
    now = client.get("/api/v1/oncall/").json()
    assert now["at"] == NOW.isoformat()
    assert [p["username"] for p in now["results"][0]["on_call"]] == ["cat"]
    assert now["results"][0]["schedule"]["team"] == "sre"

    later = client.get("/api/v1/oncall/", {"at": "2026-03-26T09:30:00+01:00"}).json()
    assert [p["username"] for p in later["results"][0]["on_call"]] == ["ann"]
    zulu = client.get("/api/v1/oncall/?at=2026-03-23T07:59:00Z").json()
    assert zulu["results"][0]["on_call"] == []  # before the rotation starts

    assert client.get("/api/v1/oncall/", {"at": "yesterday"}).status_code == 400


def test_my_upcoming_shifts(world):
    api_client_for(world["admin"]).post("/api/v1/schedules/", schedule_body(world), format="json")
    shifts = api_client_for(world["ann"]).get("/api/v1/oncall/shifts/", {"weeks": 1}).json()["results"]
    starts = [s["start"] for s in shifts]
    assert starts[0] == "2026-03-26T08:00:00+00:00"  # Thursday 09:00 CET
    assert "2026-03-29T07:00:00+00:00" in starts  # Sunday 09:00 CEST, after the change
    assert all(s["schedule"]["name"] == "Primary" for s in shifts)
