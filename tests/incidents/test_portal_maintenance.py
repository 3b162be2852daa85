"""The portal's Maintenance page (issue 5: "visible in the portal"): who sees which windows,
who schedules and ends them, what ending one early does to the incidents it held, and the
maintenance notes on the incident list and detail pages."""

import re
from datetime import UTC, timedelta

import pytest
from django.utils import timezone

from incidents.models import Incident, MaintenanceWindow, TimelineEntry
from tests.factories import make_incident, make_key, make_user

pytestmark = pytest.mark.django_db

XSS_REASON = "<script>alert(1)</script>"


def window(reason="database upgrade", *, started_minutes_ago=5, minutes_left=60, **scope):
    now = timezone.now()
    return MaintenanceWindow.objects.create(
        start=now - timedelta(minutes=started_minutes_ago), end=now + timedelta(minutes=minutes_left),
        reason=reason, **scope,
    )


def ended_window(reason, *, days_ago, **scope):
    end = timezone.now() - timedelta(days=days_ago)
    return MaintenanceWindow.objects.create(start=end - timedelta(hours=1), end=end, reason=reason, **scope)


def listed_window_ids(body: str, section: str) -> list[int]:
    match = re.search(rf'<ul class="window-list" id="windows-{section}">(.*?)</ul>', body, re.S)
    return [int(i) for i in re.findall(r'data-window-id="(\d+)"', match.group(1))] if match else []


def utc(value) -> str:
    return f"{value.astimezone(UTC):%Y-%m-%d %H:%M} UTC"


@pytest.fixture
def admin_web(client_of, team_admin):
    return client_of(team_admin)


@pytest.fixture
def superuser(db):
    return make_user("root", is_superuser=True, is_staff=True)


# --- who sees what -------------------------------------------------------------------------------


def test_sign_in_is_required(client):
    response = client.get("/maintenance/")
    assert response.status_code == 302 and response.url.startswith("/login/")


def test_a_member_sees_their_teams_and_keys_windows_and_global_ones_by_state(
    web, team, key, other_team, other_key
):
    team_now = window("team upgrade", team=team)
    key_later = window("key migration", integration_key=key, started_minutes_ago=-120, minutes_left=180)
    global_done = ended_window("global network work", days_ago=2)
    window("payments upgrade", team=other_team)
    window("payments key", integration_key=other_key)
    ended_window("long ago", days_ago=40, team=team)

    response = web.get("/maintenance/")
    assert response.status_code == 200
    body = response.content.decode()
    assert listed_window_ids(body, "active") == [team_now.pk]
    assert listed_window_ids(body, "upcoming") == [key_later.pk]
    assert listed_window_ids(body, "recent") == [global_done.pk]
    assert "payments" not in body and "long ago" not in body
    # Scope, times with their time zone, and who created it.
    assert "Team SRE" in body and f"Key {key.name} ({key.key_prefix}…, SRE)" in body and "Everything" in body
    assert utc(team_now.start) in body and utc(team_now.end) in body
    assert 'aria-current="page">Maintenance</a>' in body


def test_a_superuser_sees_every_window(client_of, superuser, other_team, team):
    theirs, ours = window("payments upgrade", team=other_team), window("sre upgrade", team=team)
    body = client_of(superuser).get("/maintenance/").content.decode()
    assert sorted(listed_window_ids(body, "active")) == sorted([theirs.pk, ours.pk])


def test_an_active_window_says_how_many_incidents_it_holds(web, team, key, other_key):
    active = window(integration_key=key)
    make_incident(key, dedup_key="a")
    make_incident(key, dedup_key="b")
    window("payments", integration_key=other_key)
    make_incident(other_key, dedup_key="not mine")  # held, but another team's: not counted
    body = web.get("/maintenance/").content.decode()
    assert re.search(rf'data-window-id="{active.pk}".*?data-held="2">2 incidents held<', body, re.S)


# --- scheduling ---------------------------------------------------------------------------------


def test_a_team_admin_schedules_a_window_for_their_team_starting_now(admin_web, team, team_admin):
    before = timezone.now()
    response = admin_web.post("/maintenance/new/", {
        "scope": f"team:{team.pk}", "start": "", "end": "", "duration": "120", "reason": "Kernel upgrade",
    })
    assert response.status_code == 302 and response.url == "/maintenance/"
    created = MaintenanceWindow.objects.get()
    assert created.team == team and created.integration_key is None and created.created_by == team_admin
    assert before <= created.start <= timezone.now()
    assert created.end - created.start == timedelta(hours=2)
    page = admin_web.get("/maintenance/").content.decode()
    assert "Maintenance scheduled for Team SRE: pages are held now" in page
    assert listed_window_ids(page, "active") == [created.pk]


def test_a_team_admin_schedules_a_window_for_one_of_their_keys_with_an_end_time(admin_web, key):
    start = (timezone.now() + timedelta(days=1)).replace(second=0, microsecond=0)
    end = start + timedelta(minutes=45)
    response = admin_web.post("/maintenance/new/", {
        "scope": f"key:{key.pk}", "start": f"{start:%Y-%m-%dT%H:%M}", "end": f"{end:%Y-%m-%dT%H:%M}",
        "duration": "60", "reason": "Prometheus migration",  # an explicit end wins over the duration
    })
    assert response.status_code == 302
    created = MaintenanceWindow.objects.get()
    assert created.integration_key == key and created.team is None
    assert (created.start, created.end) == (start, end)
    assert listed_window_ids(admin_web.get("/maintenance/").content.decode(), "upcoming") == [created.pk]


def test_a_responder_may_not_schedule_maintenance(web, team):
    response = web.post("/maintenance/new/", {"scope": f"team:{team.pk}", "duration": "60", "reason": "x"})
    assert response.status_code == 403
    assert not MaintenanceWindow.objects.exists()
    page = web.get("/maintenance/").content.decode()
    assert 'id="new-window-form"' not in page and "Only a team's admins schedule maintenance" in page


@pytest.mark.parametrize("scope", ["other team", "other key", "everything"])
def test_a_team_admin_cannot_schedule_for_another_team_or_for_everything(admin_web, other_team, other_key, scope):
    value = {"other team": f"team:{other_team.pk}", "other key": f"key:{other_key.pk}", "everything": "everything"}
    response = admin_web.post("/maintenance/new/", {"scope": value[scope], "duration": "60", "reason": "x"})
    assert response.status_code == 400
    assert "Select a valid choice" in response.content.decode()
    assert not MaintenanceWindow.objects.exists()


def test_only_a_superuser_schedules_a_window_over_everything(client_of, superuser, admin_web):
    assert 'value="everything"' not in admin_web.get("/maintenance/").content.decode()
    su_web = client_of(superuser)
    assert 'value="everything"' in su_web.get("/maintenance/").content.decode()
    response = su_web.post("/maintenance/new/", {"scope": "everything", "duration": "30", "reason": "DC move"})
    assert response.status_code == 302
    created = MaintenanceWindow.objects.get()
    assert created.team is None and created.integration_key is None


@pytest.mark.parametrize(
    ("start", "end", "duration", "message"),
    [
        (timedelta(hours=2), timedelta(hours=1), "", "A maintenance window must end after it starts."),
        (timedelta(hours=1), timedelta(hours=1), "", "A maintenance window must end after it starts."),
        (timedelta(hours=-3), timedelta(hours=-1), "", "This window would already be over"),
        (timedelta(0), None, "", "Give an end time or choose a duration."),
        (timedelta(0), timedelta(days=40), "", "A window can last at most 31 days."),
    ],
)
def test_a_window_must_end_after_it_starts_and_in_the_future(admin_web, team, start, end, duration, message):
    now = timezone.now().replace(second=0, microsecond=0)
    response = admin_web.post("/maintenance/new/", {
        "scope": f"team:{team.pk}", "start": f"{now + start:%Y-%m-%dT%H:%M}",
        "end": f"{now + end:%Y-%m-%dT%H:%M}" if end is not None else "", "duration": duration, "reason": "x",
    })
    assert response.status_code == 400
    assert message in response.content.decode()
    assert not MaintenanceWindow.objects.exists()


def test_actions_need_the_csrf_token(client_of, team_admin, team):
    active = window(team=team)
    browser = client_of(team_admin, enforce_csrf_checks=True)
    assert browser.post("/maintenance/new/", {"scope": f"team:{team.pk}", "reason": "x"}).status_code == 403
    assert browser.post(f"/maintenance/{active.pk}/end/").status_code == 403
    assert MaintenanceWindow.objects.get().end == active.end


def test_the_page_only_reads(admin_web, team):
    active = window(team=team)
    assert admin_web.get(f"/maintenance/{active.pk}/end/").status_code == 405
    assert admin_web.get("/maintenance/new/").status_code == 405


# --- ending early and cancelling ----------------------------------------------------------------


def test_ending_a_window_early_releases_its_held_incidents_at_once(
    admin_web, team_admin, key, other_key, django_capture_on_commit_callbacks
):
    active = window(integration_key=key)
    held = make_incident(key, dedup_key="held")
    window("payments", integration_key=other_key)
    elsewhere = make_incident(other_key, dedup_key="payments")
    assert held.escalation_held_reason == "maintenance: database upgrade" and held.next_escalation_at is None

    before = timezone.now()
    with django_capture_on_commit_callbacks() as callbacks:
        response = admin_web.post(f"/maintenance/{active.pk}/end/", follow=True)
    assert response.status_code == 200
    assert "Maintenance ended: 1 held incident released" in response.content.decode()
    active.refresh_from_db()
    assert before <= active.end <= timezone.now()
    held.refresh_from_db()
    assert held.escalation_held_reason == "" and held.next_escalation_at == active.end
    assert len(callbacks) == 1  # the escalation task, enqueued after the commit
    entry = TimelineEntry.objects.filter(incident=held, kind="maintenance").last()
    assert entry.message == "Maintenance window ended early: escalation starts now." and entry.actor == team_admin
    # Another window's incident stays held.
    assert Incident.objects.get(pk=elsewhere.pk).escalation_held_reason == "maintenance: payments"
    body = response.content.decode()
    assert listed_window_ids(body, "active") == [] and listed_window_ids(body, "recent") == [active.pk]


def test_ending_one_window_keeps_the_incidents_another_window_still_covers(admin_web, team, key):
    key_window = window("key work", integration_key=key)
    make_incident(key, dedup_key="held")
    window("team work", team=team, minutes_left=120)
    admin_web.post(f"/maintenance/{key_window.pk}/end/")
    assert Incident.objects.get().escalation_held_reason == "maintenance: key work"


def test_ending_a_window_that_is_no_longer_in_progress_changes_nothing(admin_web, team):
    done = ended_window("done", days_ago=1, team=team)
    response = admin_web.post(f"/maintenance/{done.pk}/end/", follow=True)
    assert "Nothing changed: this window is not in progress." in response.content.decode()
    assert MaintenanceWindow.objects.get().end == done.end


def test_another_teams_window_is_a_404_to_end_and_to_cancel(admin_web, other_team):
    theirs = window(team=other_team)
    upcoming = window(team=other_team, started_minutes_ago=-60)
    assert admin_web.post(f"/maintenance/{theirs.pk}/end/").status_code == 404
    assert admin_web.post(f"/maintenance/{upcoming.pk}/cancel/").status_code == 404
    assert MaintenanceWindow.objects.get(pk=theirs.pk).end == theirs.end
    assert MaintenanceWindow.objects.filter(pk=upcoming.pk).exists()


def test_a_responder_sees_but_cannot_end_their_teams_window(web, team):
    active = window(team=team)
    page = web.get("/maintenance/").content.decode()
    assert listed_window_ids(page, "active") == [active.pk] and f'id="end-window-{active.pk}"' not in page
    assert web.post(f"/maintenance/{active.pk}/end/").status_code == 403
    assert MaintenanceWindow.objects.get().end == active.end


def test_only_a_superuser_ends_a_window_over_everything(admin_web, client_of, superuser):
    everywhere = window("DC move")
    assert admin_web.post(f"/maintenance/{everywhere.pk}/end/").status_code == 403
    assert client_of(superuser).post(f"/maintenance/{everywhere.pk}/end/").status_code == 302
    assert MaintenanceWindow.objects.get().end <= timezone.now()


def test_a_team_admin_cancels_an_upcoming_window_but_not_one_in_progress(admin_web, key):
    upcoming = window("later", integration_key=key, started_minutes_ago=-60)
    active = window("now", integration_key=key)
    response = admin_web.post(f"/maintenance/{upcoming.pk}/cancel/", follow=True)
    assert "Upcoming maintenance “later” cancelled." in response.content.decode()
    response = admin_web.post(f"/maintenance/{active.pk}/cancel/", follow=True)
    assert "this window has already started; end it instead" in response.content.decode()
    assert list(MaintenanceWindow.objects.values_list("pk", flat=True)) == [active.pk]


# --- the incident pages --------------------------------------------------------------------------


def test_the_incident_list_shows_a_banner_while_maintenance_covers_my_team(web, team, key):
    active = window("Database upgrade", team=team)
    body = web.get("/").content.decode()
    assert 'id="maintenance-banner"' in body
    banner = re.search(r'<aside class="maintenance-banner".*?</aside>', body, re.S).group(0)
    text = re.sub(r"<[^>]+>", "", banner)
    assert f"Maintenance in progress: Database upgrade until {utc(active.end)} — pages are held" in text
    # The live refresh carries it too, so it comes and goes without a reload.
    assert 'id="maintenance-banner"' in web.get("/", HTTP_HX_REQUEST="true").content.decode()


def test_no_banner_for_another_teams_window_or_an_ended_one(web, team, other_team):
    window("payments upgrade", team=other_team)
    ended_window("yesterday", days_ago=1, team=team)
    window("tomorrow", team=team, started_minutes_ago=-600)
    assert 'id="maintenance-banner"' not in web.get("/").content.decode()


def test_the_detail_page_says_when_an_incident_is_held_by_maintenance(web, key):
    active = window("Switch firmware", integration_key=key)
    held = make_incident(key, dedup_key="held")
    body = web.get(f"/incidents/{held.pk}/").content.decode()
    note = re.search(r'<p class="notice maintenance-hold" id="maintenance-hold">.*?</p>', body, re.S).group(0)
    text = " ".join(re.sub(r"<[^>]+>", "", note).split())
    assert "Paging held by maintenance: Switch firmware." in text
    assert f"Nobody is paged until the window ends at {utc(active.end)}" in text

    MaintenanceWindow.objects.update(end=timezone.now() - timedelta(seconds=1))  # before the release task
    assert "The window has ended: escalation starts within a minute" in web.get(f"/incidents/{held.pk}/").content.decode()


def test_the_detail_page_has_no_hold_note_for_an_incident_paged_as_usual(web, key):
    incident = make_incident(key)
    assert 'id="maintenance-hold"' not in web.get(f"/incidents/{incident.pk}/").content.decode()


def test_a_reason_with_html_renders_as_text_everywhere(web, team, key):
    window(XSS_REASON, integration_key=key)
    held = make_incident(key, dedup_key="held")
    for url in ("/maintenance/", "/", f"/incidents/{held.pk}/"):
        body = web.get(url).content.decode()
        assert "<script>alert" not in body, url
        assert "&lt;script&gt;alert(1)&lt;/script&gt;" in body, url


# --- query budget --------------------------------------------------------------------------------


def test_the_page_does_a_fixed_number_of_queries_with_many_windows(
    client_of, team_admin, team, key, django_assert_max_num_queries
):
    keys = [key] + [make_key(team=team, name=f"key {n}")[0] for n in range(5)]
    for n in range(30):
        window(f"active {n}", integration_key=keys[n % len(keys)], created_by=team_admin)
        window(f"upcoming {n}", team=team, started_minutes_ago=-60 - n, created_by=team_admin)
        ended_window(f"ended {n}", days_ago=1 + n % 20, integration_key=keys[n % len(keys)])
    for n, each in enumerate(keys):
        make_incident(each, dedup_key=f"held-{n}")
    web = client_of(team_admin)
    # session, user, active, upcoming, recent windows, held counts, admin teams, form keys
    with django_assert_max_num_queries(8):
        response = web.get("/maintenance/")
    body = response.content.decode()
    assert len(listed_window_ids(body, "active")) == 30
    assert len(listed_window_ids(body, "upcoming")) == 30
    assert len(listed_window_ids(body, "recent")) == 20  # capped
    assert body.count('data-held="1"') == 30
    # The list page pays one query for its banner, whatever the number of windows.
    with django_assert_max_num_queries(8):
        assert 'id="maintenance-banner"' in web.get("/").content.decode()
