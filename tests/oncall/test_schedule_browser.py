"""The schedule pages in Chromium: a team admin builds a schedule through the UI, the drawn
timeline agrees with `/api/v1/oncall/?at=` hour by hour (across DST changes), responders
cannot edit, strangers cannot see, and the page fits a 375 px phone."""

from datetime import UTC, datetime, timedelta
from urllib.parse import quote

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from oncall.models import Rotation, Schedule, ScheduleOverride, TeamMembership, UserProfile
from tests.factories import make_user

pytestmark = pytest.mark.django_db(transaction=True)


def add_participant(page, name: str):
    page.select_option("#add-participant", label=name)
    page.click("#add-participant-button")
    expect(page.locator("#participants")).to_contain_text(name.split(" (")[0])


def final_segments(page) -> list[tuple[datetime, datetime, set[int]]]:
    rows = page.eval_on_selector_all(
        "g.row-final g.seg", "els => els.map(e => [e.dataset.start, e.dataset.end, e.dataset.users])")
    return [(datetime.fromisoformat(a), datetime.fromisoformat(b), {int(x) for x in users.split(",") if x})
            for a, b, users in rows]


def assert_timeline_agrees_with_api(browser_page, schedule: Schedule, first_day: str) -> int:
    """Every hour of the drawn window (two weeks of the viewer's days: 335 hours across a
    spring-forward), the final row's answer equals the API's. Returns the hours checked."""
    page = browser_page.page
    browser_page.go(f"/oncall/schedules/{schedule.pk}/?weeks=2&from={first_day}")
    segments = final_segments(page)
    window_start, window_end = (datetime.fromisoformat(value) for value in page.eval_on_selector_all(
        "#timeline > p.muted time", "els => els.map(e => e.getAttribute('datetime'))"))
    checked = 0
    for hour in range(int((window_end - window_start) / timedelta(hours=1))):
        at = window_start + timedelta(hours=hour, minutes=30)
        drawn = next((users for a, b, users in segments if a <= at < b), set())
        answer = page.request.get(f"{browser_page.base_url}/api/v1/oncall/?schedule={schedule.pk}"
                                  f"&at={quote(at.isoformat())}").json()
        assert {p["id"] for p in answer["results"][0]["on_call"]} == drawn, at
        checked += 1
    return checked


def test_admin_builds_a_schedule_and_the_timeline_agrees_with_the_api(browser_page, team, responder):
    """Two rotations (one restricted), an override, all through the UI; then every hour of
    two 14-day windows holding the DST changes of Europe/Berlin (29 Mar 2026, the
    schedule's zone) and America/New_York (8 Mar 2026, the viewer's zone)."""
    admin = make_user("ada", team=team, role=TeamMembership.Role.ADMIN, first_name="Ada", last_name="Admin")
    colin = make_user("colin", team=team, first_name="Colin", last_name="Next")
    UserProfile.objects.create(user=admin, time_zone="America/New_York")
    page = browser_page.page
    browser_page.sign_in("ada")

    browser_page.go("/oncall/schedules/")
    page.fill("#id_name", "SRE primary")
    page.fill("#id_time_zone", "Europe/Berlin")
    page.click("#schedule-create")
    expect(page.locator("#rotation-editor")).to_be_visible()
    schedule = Schedule.objects.get(name="SRE primary")
    assert (schedule.team, schedule.time_zone) == (team, "Europe/Berlin")

    # Rotation 1: weekly, Rita and Colin, reordered so Colin goes first.
    add_participant(page, "Rita Responder (rita)")
    add_participant(page, "Colin Next (colin)")
    page.click("button[aria-label='Move Colin Next up']")
    expect(page.locator("#participants li").first).to_contain_text("Colin Next")
    page.fill("#id_name", "Weekly")
    page.select_option("#id_shift_kind", "weekly")
    page.fill("#id_handoff_time", "09:00")
    page.fill("#id_start", "2026-03-02T09:00")
    page.click("#rotation-preview")
    expect(page.locator("#preview-note")).to_be_visible()
    expect(page.locator("#timeline-svg")).to_contain_text("Weekly (layer 0)")
    assert not Rotation.objects.exists()  # the preview saved nothing
    page.click("#rotation-save")
    expect(page.locator(".messages")).to_contain_text("Rotation Weekly saved")

    # Rotation 2: weekday evenings 18:00-22:00, Rita, on top.
    page.click("#new-rotation")
    add_participant(page, "Rita Responder (rita)")
    page.fill("#id_name", "Evenings")
    page.fill("#id_order", "1")
    page.select_option("#id_shift_kind", "daily")
    page.fill("#id_handoff_time", "18:00")
    page.fill("#id_start", "2026-03-02T18:00")
    for day in range(5):
        page.check(f"#id_restrict_weekdays_{day}")
    page.fill("#id_restrict_start", "18:00")
    page.fill("#id_restrict_end", "22:00")
    page.click("#rotation-save")
    expect(page.locator(".messages")).to_contain_text("Rotation Evenings saved")

    # An override: Ada covers Tuesday 10 March 12:00-18:00 Berlin time.
    page.select_option("#id_override-user", label="Ada Admin")
    page.fill("#id_override-start", "2026-03-10T12:00")
    page.fill("#id_override-end", "2026-03-10T18:00")
    page.click("#override-save")
    expect(page.locator(".messages")).to_contain_text("covers the schedule")

    weekly, evenings = schedule.rotations.order_by("order")
    assert list(weekly.participants.values_list("user_id", flat=True)) == [colin.pk, responder.pk]
    assert weekly.start == datetime(2026, 3, 2, 8, tzinfo=UTC) and weekly.shift_kind == "weekly"
    assert (evenings.restrict_weekdays, str(evenings.restrict_start_time), str(evenings.restrict_end_time)) == (
        [0, 1, 2, 3, 4], "18:00:00", "22:00:00")
    override = ScheduleOverride.objects.get(schedule=schedule)
    assert (override.user, override.start, override.end) == (
        admin, datetime(2026, 3, 10, 11, tzinfo=UTC), datetime(2026, 3, 10, 17, tzinfo=UTC))

    # 8 March in New York (the viewer's days) has 23 hours; Berlin's change moves the hand-offs.
    assert assert_timeline_agrees_with_api(browser_page, schedule, "2026-03-02") == 14 * 24 - 1
    assert assert_timeline_agrees_with_api(browser_page, schedule, "2026-03-23") == 14 * 24
    today = timezone.now().astimezone(UTC).date().isoformat()
    assert assert_timeline_agrees_with_api(browser_page, schedule, today) >= 14 * 24 - 1  # the next 14 days

    browser_page.go(f"/oncall/schedules/{schedule.pk}/?weeks=2&from=2026-03-02")
    expect(page.locator("g.row-overrides g.seg")).to_have_count(1)
    browser_page.screenshot("schedule-timeline")
    assert browser_page.dialogs == [] and browser_page.errors == [] and browser_page.csp_violations == []


def test_responders_cannot_edit_and_strangers_cannot_see_and_it_fits_a_phone(phone_page, team, responder,
                                                                            other_team):
    schedule = Schedule.objects.create(name="SRE primary", team=team, time_zone="Europe/Berlin")
    rotation = Rotation.objects.create(schedule=schedule, name="Weekly", start=timezone.now() - timedelta(days=2))
    rotation.participants.create(user=responder, position=0)
    theirs = Schedule.objects.create(name="Payments rota", team=other_team)
    page = phone_page.page
    phone_page.sign_in("rita")
    response = phone_page.go(f"/oncall/schedules/{schedule.pk}/")
    assert response.status == 200
    expect(page.locator("g.row-final g.seg").first).to_be_attached()
    assert page.locator("#rotation-editor").count() == 0 and page.locator("#override-form").count() == 0
    assert page.evaluate("document.documentElement.scrollWidth") <= 375  # the SVG scrolls inside its box
    phone_page.screenshot("phone-schedule", full_page=False)
    assert phone_page.go(f"/oncall/schedules/{schedule.pk}/?edit=new").status == 403
    assert phone_page.go(f"/oncall/schedules/{schedule.pk}/?edit={rotation.pk}").status == 403
    assert phone_page.go(f"/oncall/schedules/{theirs.pk}/").status == 404
    phone_page.go("/oncall/schedules/")
    expect(page.locator("#schedule-list")).to_contain_text("SRE primary")
    expect(page.locator("#schedule-list")).not_to_contain_text("Payments rota")
    assert page.locator("#schedule-form").count() == 0  # responders create no schedules


def test_an_admin_page_fits_a_phone(phone_page, team, responder):
    make_user("ada", team=team, role=TeamMembership.Role.ADMIN)
    schedule = Schedule.objects.create(name="SRE primary", team=team, time_zone="Europe/Berlin")
    phone_page.sign_in("ada")
    phone_page.go(f"/oncall/schedules/{schedule.pk}/?edit=new")
    phone_page.page.select_option("#add-participant", label="Rita Responder (rita)")
    phone_page.page.click("#add-participant-button")
    expect(phone_page.page.locator("#participants")).to_contain_text("Rita Responder")
    assert phone_page.page.evaluate("document.documentElement.scrollWidth") <= 375
