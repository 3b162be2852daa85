"""The portal's schedule pages: timeline, rotation and override editing, swaps, access."""

import re
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.utils import timezone

from oncall.models import (
    Rotation,
    RotationParticipant,
    Schedule,
    ScheduleOverride,
    SwapRequest,
    TeamMembership,
    UserProfile,
)
from tests.factories import make_user

pytestmark = pytest.mark.django_db
BERLIN = ZoneInfo("Europe/Berlin")


@pytest.fixture
def colleague(team):
    return make_user("colin", team=team, first_name="Colin", last_name="Next")


@pytest.fixture
def admin_web(client_of, team_admin):
    return client_of(team_admin)


@pytest.fixture
def berlin(team, responder, colleague):
    schedule = Schedule.objects.create(name="SRE primary", team=team, time_zone="Europe/Berlin")
    rotation = Rotation.objects.create(schedule=schedule, name="Weekly", shift_kind=Rotation.ShiftKind.WEEKLY,
                                       handoff_time="09:00", start=datetime(2026, 1, 5, 9, tzinfo=BERLIN))
    RotationParticipant.objects.create(rotation=rotation, user=responder, position=0)
    RotationParticipant.objects.create(rotation=rotation, user=colleague, position=1)
    return schedule


def rotation_post(**fields):
    data = {"name": "Nights", "order": "1", "shift_kind": "daily", "shift_hours": "24", "handoff_time": "09:00",
            "start": "2026-03-02T09:00", "restrict_start": "", "restrict_end": ""}
    data.update(fields)
    return data


def test_members_see_the_timeline_with_layers_overrides_and_the_final_row(web, berlin, colleague):
    ScheduleOverride.objects.create(schedule=berlin, user=colleague, start=datetime(2026, 3, 3, 12, tzinfo=UTC),
                                    end=datetime(2026, 3, 3, 18, tzinfo=UTC))
    page = web.get(f"/oncall/schedules/{berlin.pk}/?weeks=2&from=2026-03-02").content.decode()
    assert 'data-kind="rotation"' in page and 'data-kind="overrides"' in page and 'data-kind="final"' in page
    assert "Europe/Berlin" in page and 'id="final-shifts"' in page
    # Rita has week 1 (from Mon 5 Jan 09:00 Berlin), so the week of 2 Mar (week 9) is Colin's.
    assert f'data-start="2026-03-03T12:00:00+00:00" data-end="2026-03-03T18:00:00+00:00" data-users="{colleague.pk}"' in page
    assert "Edit" not in page.split('id="rotations"')[1].split("</ul>")[0]  # a responder gets no edit links


def test_a_responder_cannot_reach_any_edit_page(web, berlin):
    base = f"/oncall/schedules/{berlin.pk}"
    rotation = berlin.rotations.get()
    override = ScheduleOverride.objects.create(schedule=berlin, user_id=rotation.participants.first().user_id,
                                               start=timezone.now(), end=timezone.now() + timedelta(hours=1))
    assert web.get(f"{base}/?edit=new").status_code == 403
    assert web.get(f"{base}/?edit={rotation.pk}").status_code == 403
    for url in (f"{base}/rotations/", f"{base}/rotations/draft/", f"{base}/rotations/preview/",
                f"{base}/rotations/{rotation.pk}/delete/", f"{base}/overrides/",
                f"{base}/overrides/{override.pk}/delete/", f"{base}/settings/"):
        assert web.post(url, rotation_post(op="add")).status_code == 403, url
    assert web.post("/oncall/schedules/new/", {"name": "x"}).status_code == 403
    assert Rotation.objects.filter(pk=rotation.pk).exists() and ScheduleOverride.objects.filter(pk=override.pk).exists()


def test_another_teams_schedule_is_a_404_everywhere(client_of, other_team, berlin):
    stranger = make_user("sam", team=other_team, role=TeamMembership.Role.ADMIN)
    web = client_of(stranger)
    base = f"/oncall/schedules/{berlin.pk}"
    assert "SRE primary" not in web.get("/oncall/schedules/").content.decode()
    assert web.get(f"{base}/").status_code == 404
    assert web.get(f"{base}/timeline/").status_code == 404
    for url in (f"{base}/rotations/", f"{base}/overrides/", f"{base}/swaps/", f"{base}/settings/",
                f"{base}/rotations/{berlin.rotations.get().pk}/delete/"):
        assert web.post(url, rotation_post()).status_code == 404, url


def test_a_rotation_start_is_read_in_the_schedules_zone_not_the_viewers(admin_web, team_admin, berlin, responder):
    UserProfile.objects.create(user=team_admin, time_zone="America/New_York")
    response = admin_web.post(f"/oncall/schedules/{berlin.pk}/rotations/",
                              {**rotation_post(), "participant": [str(responder.pk)]})
    assert response.status_code == 302, response.content.decode()[:2000]
    rotation = Rotation.objects.get(name="Nights")
    assert rotation.start == datetime(2026, 3, 2, 8, tzinfo=UTC)  # 09:00 in Berlin (CET)
    assert list(rotation.participants.values_list("user_id", flat=True)) == [responder.pk]


def test_rotation_form_refuses_strangers_and_half_restrictions(admin_web, berlin, other_team):
    stranger = make_user("sam", team=other_team)
    response = admin_web.post(f"/oncall/schedules/{berlin.pk}/rotations/",
                              {**rotation_post(restrict_start="18:00"), "participant": [str(stranger.pk)]})
    assert response.status_code == 400
    page = response.content.decode()
    assert "Only members of the schedule&#x27;s team can take part." in page
    assert "Give both restriction times, or neither." in page
    assert not Rotation.objects.filter(name="Nights").exists()


def test_participants_are_added_moved_and_removed_without_saving(admin_web, berlin, responder, colleague):
    url = f"/oncall/schedules/{berlin.pk}/rotations/draft/"
    page = admin_web.post(url, {**rotation_post(), "participant": [str(responder.pk)], "op": "add",
                                "add_participant": str(colleague.pk)}).content.decode()
    assert re.findall(r'name="participant" value="(\d+)"', page) == [str(responder.pk), str(colleague.pk)]
    page = admin_web.post(url, {**rotation_post(), "participant": [str(responder.pk), str(colleague.pk)],
                                "op": "up:1"}).content.decode()
    assert re.findall(r'name="participant" value="(\d+)"', page) == [str(colleague.pk), str(responder.pk)]
    page = admin_web.post(url, {**rotation_post(), "participant": [str(colleague.pk), str(responder.pk)],
                                "op": "remove:0"}).content.decode()
    assert re.findall(r'name="participant" value="(\d+)"', page) == [str(responder.pk)]
    assert 'value="Nights"' in page  # the rest of the form survives the round trip
    assert admin_web.post(url, {"op": "explode"}).status_code == 400
    assert Rotation.objects.count() == 1


def test_preview_draws_the_change_and_saves_nothing(admin_web, berlin, colleague):
    response = admin_web.post(f"/oncall/schedules/{berlin.pk}/rotations/preview/?weeks=1&from=2026-03-02",
                              {**rotation_post(start="2026-03-02T09:00"), "participant": [str(colleague.pk)]})
    page = response.content.decode()
    assert 'id="preview-note"' in page and "Nights (layer 1)" in page
    assert Rotation.objects.count() == 1 and not Rotation.objects.filter(name="Nights").exists()


def test_the_zone_picker_refuses_a_zone_not_in_the_list(admin_web, berlin, team):
    response = admin_web.post(f"/oncall/schedules/{berlin.pk}/settings/",
                              {"settings-name": "SRE primary", "settings-team": team.pk,
                               "settings-time_zone": "Berlin"})
    assert response.status_code == 400
    assert "is not a time zone in the list" in response.content.decode()
    page = admin_web.get(f"/oncall/schedules/{berlin.pk}/").content.decode()
    assert '<datalist id="zone-names">' in page and '<option value="America/New_York">' in page
    response = admin_web.post("/oncall/schedules/new/", {"name": "Payments", "team": team.pk,
                                                         "time_zone": "America/New_York"})
    assert Schedule.objects.get(name="Payments").time_zone == "America/New_York"
    assert response["Location"].endswith("?edit=new")


def test_an_override_is_typed_in_the_schedules_zone(admin_web, berlin, colleague):
    response = admin_web.post(f"/oncall/schedules/{berlin.pk}/overrides/",
                              {"override-user": colleague.pk, "override-start": "2026-07-01T10:00",
                               "override-end": "2026-07-01T12:00"})
    assert response.status_code == 302
    override = ScheduleOverride.objects.get()
    assert (override.start, override.end) == (datetime(2026, 7, 1, 8, tzinfo=UTC), datetime(2026, 7, 1, 10, tzinfo=UTC))
    bad = admin_web.post(f"/oncall/schedules/{berlin.pk}/overrides/",
                         {"override-user": colleague.pk, "override-start": "2026-07-01T12:00",
                          "override-end": "2026-07-01T10:00"})
    assert bad.status_code == 400 and ScheduleOverride.objects.count() == 1


def current_holder(schedule):
    from oncall.schedule import who_is_on_call

    return who_is_on_call(schedule)[0]


def test_a_swap_becomes_an_override_when_the_other_person_accepts(client_of, berlin, responder, colleague):
    now = timezone.now()
    holder = current_holder(berlin)
    other = colleague if holder == responder else responder
    start, end = (now + timedelta(minutes=5)).astimezone(BERLIN), (now + timedelta(hours=2)).astimezone(BERLIN)
    form = {"swap-other": other.pk, "swap-start": f"{start:%Y-%m-%dT%H:%M}", "swap-end": f"{end:%Y-%m-%dT%H:%M}"}
    # The person asked cannot hand over a shift that is not theirs.
    assert client_of(other).post(f"/oncall/schedules/{berlin.pk}/swaps/",
                                 {**form, "swap-other": holder.pk}).status_code == 400
    assert client_of(holder).post(f"/oncall/schedules/{berlin.pk}/swaps/", form).status_code == 302
    swap = SwapRequest.objects.get()
    assert swap.status == "pending" and not ScheduleOverride.objects.exists()
    assert client_of(holder).post(f"/oncall/swaps/{swap.pk}/accept/").status_code == 403  # not theirs to answer
    assert client_of(other).post(f"/oncall/swaps/{swap.pk}/accept/").status_code == 302
    swap.refresh_from_db()
    assert swap.status == "accepted" and swap.override.user == other
    assert (swap.override.start, swap.override.end) == (swap.start, swap.end)
    assert client_of(other).post(f"/oncall/swaps/{swap.pk}/decline/").status_code == 403  # already answered


def test_a_declined_swap_changes_nothing(client_of, berlin, responder, colleague):
    holder = current_holder(berlin)
    other = colleague if holder == responder else responder
    swap = SwapRequest.objects.create(schedule=berlin, requester=holder, other=other, start=timezone.now(),
                                      end=timezone.now() + timedelta(hours=1))
    assert client_of(other).post(f"/oncall/swaps/{swap.pk}/decline/").status_code == 302
    swap.refresh_from_db()
    assert swap.status == "declined" and not ScheduleOverride.objects.exists()
    assert client_of(other).post(f"/oncall/swaps/{swap.pk}/explode/").status_code == 404


def test_the_timeline_page_runs_a_fixed_number_of_queries(admin_web, berlin, team, django_assert_max_num_queries):
    people = [make_user(f"p{n}", team=team) for n in range(6)]
    start = datetime(2026, 3, 2, tzinfo=UTC)
    for n in range(9):
        rotation = Rotation.objects.create(schedule=berlin, name=f"R{n}", order=n + 1, shift_kind="daily",
                                           handoff_time="08:00", start=start, restrict_weekdays=[n % 7])
        RotationParticipant.objects.bulk_create(
            RotationParticipant(rotation=rotation, user=p, position=i) for i, p in enumerate(people))
    ScheduleOverride.objects.bulk_create(
        ScheduleOverride(schedule=berlin, user=people[n % 6], start=start + timedelta(hours=6 * n),
                         end=start + timedelta(hours=6 * n + 3)) for n in range(50))
    assert berlin.rotations.count() == 10 and berlin.overrides.count() == 50
    with django_assert_max_num_queries(11) as captured:
        response = admin_web.get(f"/oncall/schedules/{berlin.pk}/?weeks=4&from=2026-03-02&edit=new")
    assert response.status_code == 200
    assert response.content.decode().count('data-kind="rotation"') == 10
    # The same page for a schedule with one rotation and no overrides costs the same.
    small = Schedule.objects.create(name="Small", team=team)
    rotation = Rotation.objects.create(schedule=small, start=start)
    RotationParticipant.objects.create(rotation=rotation, user=people[0])
    with django_assert_max_num_queries(len(captured.captured_queries)):
        admin_web.get(f"/oncall/schedules/{small.pk}/?weeks=4&from=2026-03-02&edit=new")


def test_the_oncall_page_says_until_when_in_the_viewers_zone(client_of, team, berlin, responder):
    UserProfile.objects.create(user=responder, time_zone="Europe/Berlin")
    page = client_of(responder).get("/oncall/").content.decode()
    now_part = re.sub(r'title="[^"]*"', "", page.split("Now:")[1].split("Next:")[0])  # UTC only in tooltips
    assert "09:00 CET" in now_part or "09:00 CEST" in now_part
    assert "UTC" not in now_part and "(in " in now_part  # absolute and relative
