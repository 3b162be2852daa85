"""The escalation policy pages (Django test client): the sentence, saving through the REST
validation, targets scoped to the team, who may do what, the "who would be paged" preview
(the engine's own answers) and the policy page's query count."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from escalation.engine import resolve_targets, snapshot_policy
from escalation.models import ContactMethod, EscalationPolicy, NotificationRule
from escalation.policy_sentence import describe_policy
from oncall.models import Rotation, RotationParticipant, Schedule, ScheduleOverride, TeamMembership
from tests.escalation.conftest import add_step, always_on_call
from tests.escalation.conftest import responder as person_with_email
from tests.factories import api_client_for, make_incident, make_key, make_user

pytestmark = pytest.mark.django_db


@pytest.fixture
def admin_user(team):
    return make_user("ada", team=team, role=TeamMembership.Role.ADMIN, first_name="Ada", last_name="Admin")


@pytest.fixture
def bob(team):
    return person_with_email("bob", team=team, first_name="Bob", last_name="Builder")


def editor_post(name="SRE escalation", steps=(), repeat_count=2, repeat_delay=15, **extra) -> dict:
    data = {"name": name, "repeat_count": str(repeat_count), "repeat_delay_minutes": str(repeat_delay),
            "description": "", "step_count": str(len(steps)), **extra}
    for i, step in enumerate(steps):
        data[f"step-{i}-delay_minutes"] = str(step.get("delay", 0))
        for target in ("users", "schedules", "teams"):
            data[f"step-{i}-{target}"] = [str(pk) for pk in step.get(target, [])]
    return data


def test_the_sentence_reads_as_a_person_would_say_it(team, bob):
    schedule = Schedule.objects.create(name="SRE primary", team=team)
    policy = EscalationPolicy.objects.create(name="p", team=team, repeat_count=2, repeat_delay_minutes=30)
    add_step(policy, 0, schedules=[schedule])
    add_step(policy, 10, users=[bob])
    add_step(policy, 60, teams=[team])
    assert describe_policy(policy) == (
        "Notify whoever is on call for SRE primary; after 10 min, notify Bob Builder; "
        "after 1 h, notify everyone in SRE; repeat twice, 30 min after the last step.")
    policy.repeat_count = 0
    assert describe_policy(EscalationPolicy.objects.create(name="empty", team=team)).startswith("Nobody is notified")


def test_an_admin_creates_and_saves_a_two_step_policy_and_the_api_agrees(client_of, team, admin_user, bob):
    schedule = always_on_call(admin_user, team=team, name="SRE primary")
    web = client_of(admin_user)
    response = web.post("/escalation/policies/new/", {"name": "SRE escalation", "team": team.pk})
    policy = EscalationPolicy.objects.get(name="SRE escalation")
    assert response.status_code == 302 and response["Location"].startswith(f"/escalation/policies/{policy.pk}/")
    response = web.post(f"/escalation/policies/{policy.pk}/save/", editor_post(steps=[
        {"delay": 0, "schedules": [schedule.pk]}, {"delay": 10, "users": [bob.pk]}]))
    assert response.status_code == 302, response.content.decode()[-2000:]
    page = web.get(f"/escalation/policies/{policy.pk}/").content.decode()
    assert ("Notify whoever is on call for SRE primary; after 10 min, notify Bob Builder; "
            "repeat twice, 15 min after the last step.") in page
    assert "never changes an incident that is already escalating" in page
    answer = api_client_for(admin_user).get(f"/api/v1/escalation-policies/{policy.pk}/").json()
    assert [(s["delay_minutes"], s["users"], s["schedules"]) for s in answer["steps"]] == [
        (0, [], [schedule.pk]), (10, [bob.pk], [])]
    assert (answer["repeat_count"], answer["repeat_delay_minutes"]) == (2, 15)


def test_targets_outside_the_team_and_empty_steps_are_refused_and_nothing_is_written(
        client_of, team, admin_user, bob, other_team):
    stranger = make_user("sam", team=other_team)
    theirs = Schedule.objects.create(name="Payments rota", team=other_team)
    policy = EscalationPolicy.objects.create(name="Keep", team=team)
    add_step(policy, 0, users=[bob])
    web = client_of(admin_user)
    for steps, problem in [
        ([{"users": [stranger.pk]}], "is not one of the available choices"),
        ([{"schedules": [theirs.pk]}], "is not one of the available choices"),
        ([{"teams": [other_team.pk]}], "is not one of the available choices"),
        ([{"delay": 5}], "Pick at least one schedule, person or team"),
        ([{"delay": -1, "users": [bob.pk]}], "greater than or equal to 0"),
        ([], "A policy needs at least one step."),
    ]:
        response = web.post(f"/escalation/policies/{policy.pk}/save/", editor_post(name="Changed", steps=steps))
        assert response.status_code == 400 and problem in response.content.decode(), steps
    policy.refresh_from_db()
    assert policy.name == "Keep" and [list(s.users.all()) for s in policy.steps.all()] == [[bob]]
    assert web.post(f"/escalation/policies/{policy.pk}/save/",
                    editor_post(repeat_count=21, steps=[{"users": [bob.pk]}])).status_code == 400


def test_a_responder_reaches_no_edit_page_and_strangers_see_nothing(client_of, team, responder, other_team, bob):
    ours = EscalationPolicy.objects.create(name="Ours", team=team)
    add_step(ours, 0, users=[bob])
    theirs = EscalationPolicy.objects.create(name="Payments policy", team=other_team)
    key, _ = make_key(team=team, policy=ours, name="ours")
    their_key, _ = make_key(team=other_team, policy=theirs, name="payments prod")
    web = client_of(responder)
    page = web.get(f"/escalation/policies/{ours.pk}/")
    assert page.status_code == 200 and "policy-editor" not in page.content.decode()
    assert "ours" in page.content.decode()
    listing = web.get("/escalation/policies/").content.decode()
    assert "Ours" in listing and "Payments policy" not in listing and "policy-create-form" not in listing
    assert web.post("/escalation/policies/new/", {"name": "x", "team": team.pk}).status_code == 403
    for action, data in [("save", editor_post(steps=[{"users": [bob.pk]}])), ("draft", {"op": "add"}),
                         ("keys", {"key": key.pk}), ("delete", {})]:
        assert web.post(f"/escalation/policies/{ours.pk}/{action}/", data).status_code == 403, action
        assert web.post(f"/escalation/policies/{theirs.pk}/{action}/", data).status_code == 404, action
    for path in ("", "preview/"):
        assert web.get(f"/escalation/policies/{theirs.pk}/{path}").status_code == 404
    assert EscalationPolicy.objects.filter(name="Ours").exists() and not EscalationPolicy.objects.filter(name="x")
    their_key.refresh_from_db()
    assert their_key.escalation_policy == theirs


def test_draft_adds_moves_and_removes_steps_without_saving(client_of, team, admin_user, bob):
    policy = EscalationPolicy.objects.create(name="Draft", team=team)
    web = client_of(admin_user)
    base = editor_post(steps=[{"delay": 0, "users": [admin_user.pk]}, {"delay": 10, "users": [bob.pk]}])
    moved = web.post(f"/escalation/policies/{policy.pk}/draft/", {**base, "op": "up:1"}, HTTP_HX_REQUEST="true")
    html = moved.content.decode()
    assert moved.status_code == 200 and html.index(f'<option value="{bob.pk}" selected') < html.index(
        f'<option value="{admin_user.pk}" selected')
    added = web.post(f"/escalation/policies/{policy.pk}/draft/", {**base, "op": "add"}, HTTP_HX_REQUEST="true")
    assert 'name="step_count" value="3"' in added.content.decode()
    removed = web.post(f"/escalation/policies/{policy.pk}/draft/", {**base, "op": "remove:0"}, HTTP_HX_REQUEST="true")
    assert 'name="step_count" value="1"' in removed.content.decode()
    assert web.post(f"/escalation/policies/{policy.pk}/draft/", {**base, "op": "explode"}).status_code == 400
    assert not policy.steps.exists()


def test_a_key_of_the_team_is_routed_to_the_policy_from_its_page(client_of, team, admin_user, other_team):
    policy = EscalationPolicy.objects.create(name="New route", team=team)
    key, _ = make_key(team=team, name="prometheus")
    their_key, _ = make_key(team=other_team, name="theirs")
    web = client_of(admin_user)
    assert web.post(f"/escalation/policies/{policy.pk}/keys/", {"key": their_key.pk}).status_code == 400
    assert web.post(f"/escalation/policies/{policy.pk}/keys/", {"key": key.pk}).status_code == 302
    key.refresh_from_db()
    assert key.escalation_policy == policy
    assert "prometheus" in web.get(f"/escalation/policies/{policy.pk}/").content.decode()
    assert web.post(f"/escalation/policies/{policy.pk}/delete/").status_code == 302  # refused: a key uses it
    assert EscalationPolicy.objects.filter(pk=policy.pk).exists()


def test_preview_shows_each_step_people_and_methods_from_the_engine_with_warnings(client_of, team, admin_user, bob):
    """At a chosen time the preview names whoever the engine would page at each step's own
    instant (a schedule's answer changes between steps), through delivery_plan's methods."""
    carol = make_user("carol", team=team, first_name="Carol")
    ContactMethod.objects.create(user=carol, kind="email", address="carol@example.com", verified=False)
    sms = ContactMethod.objects.create(user=bob, kind="sms", address="+14155550100")
    NotificationRule.objects.create(user=bob, contact_method=sms, delay_minutes=5, urgency="high")
    NotificationRule.objects.create(user=bob, contact_method=bob.contact_methods.get(kind="email"), delay_minutes=0)
    schedule = Schedule.objects.create(name="SRE primary", team=team, time_zone="UTC")
    rotation = Rotation.objects.create(schedule=schedule, shift_kind=Rotation.ShiftKind.CUSTOM, shift_hours=8,
                                       start=datetime(2030, 1, 7, 0, tzinfo=UTC))
    RotationParticipant.objects.create(rotation=rotation, user=bob, position=0)
    # Carol covers 09:30-10:00 on 7 Jan; nobody is on call from 08:00 (the rotation has one person: always bob).
    ScheduleOverride.objects.create(schedule=schedule, user=carol, start=datetime(2030, 1, 7, 9, 30, tzinfo=UTC),
                                    end=datetime(2030, 1, 7, 10, tzinfo=UTC))
    empty = Schedule.objects.create(name="Nobody yet", team=team)
    policy = EscalationPolicy.objects.create(name="Preview", team=team)
    add_step(policy, 0, schedules=[schedule])
    add_step(policy, 45, schedules=[schedule])  # 09:45: carol's override
    add_step(policy, 5, schedules=[empty])
    web = client_of(admin_user)
    with timezone.override("UTC"):
        html = web.get(f"/escalation/policies/{policy.pk}/preview/?at=2030-01-07T09:00&severity=critical",
                       HTTP_HX_REQUEST="true").content.decode()
    step1, step2, step3 = html.split('data-step="')[1:]
    assert 'data-person="bob"' in step1 and "Email bob@example.com" in step1 and "SMS" in step1 and "after 5 min" in step1
    assert 'data-person="carol"' in step2 and "no verified contact method" in step2
    assert "Reaches nobody" in step3 and "nobody is on call for Nobody yet" in step3
    assert "Step 3 reaches nobody at that time." in html
    assert "Carol (step 2) has no verified contact method (1 waiting for its code)" in html
    assert "Nobody yet has nobody on call from" in html
    low = web.get(f"/escalation/policies/{policy.pk}/preview/?at=2030-01-07T09:00&severity=info").content.decode()
    assert "SMS" not in low.split('data-step="')[1]  # bob's SMS rule is for high urgency only
    # The engine's own answer for the same instants.
    snapshot = snapshot_policy(policy)
    at = datetime(2030, 1, 7, 9, tzinfo=UTC)
    assert [u.username for u in resolve_targets(snapshot["steps"][0], at).users] == ["bob"]
    assert [u.username for u in resolve_targets(snapshot["steps"][1], at + timedelta(minutes=45)).users] == ["carol"]
    assert web.get(f"/escalation/policies/{policy.pk}/preview/?at=tomorrow").status_code == 400
    assert web.get(f"/escalation/policies/{policy.pk}/preview/?severity=panic").status_code == 400
    assert web.get(f"/escalation/policies/{policy.pk}/?at=2030-01-07T09:00").status_code == 200  # without JS


def test_the_policy_page_runs_the_same_queries_whatever_the_policy_size(client_of, team, admin_user):
    """No N+1: a one-step policy and a five-step one with many targets and keys cost the same."""
    people = [make_user(f"p{i}", team=team) for i in range(8)]
    schedules = [always_on_call(people[i], team=team, name=f"S{i}") for i in range(4)]
    small = EscalationPolicy.objects.create(name="Small", team=team)
    add_step(small, 0, users=people[:1])
    make_key(team=team, policy=small)
    big = EscalationPolicy.objects.create(name="Big", team=team, repeat_count=3)
    for i in range(5):
        add_step(big, i * 5, users=people[i:i + 3], schedules=schedules[:i], teams=[team])
    for _ in range(4):
        make_key(team=team, policy=big)
    web = client_of(admin_user)
    counts = []
    for policy in (small, big):
        with CaptureQueriesContext(connection) as queries:
            assert web.get(f"/escalation/policies/{policy.pk}/").status_code == 200
        counts.append(len(queries))
    print(f"\npolicy page queries: {counts[0]} (1 step) vs {counts[1]} (5 steps, 4 keys)")
    assert counts[0] == counts[1] and counts[1] <= 20
    with CaptureQueriesContext(connection) as queries:
        assert web.get("/escalation/policies/").status_code == 200
    assert len(queries) <= 12


def test_T22_saving_in_the_portal_mid_escalation_does_not_change_the_incident(
        smtp, clock, tick, committed, client_of, sre, t21_key):
    """RELIABILITY T22 through the portal: the page says editing never changes an incident
    already escalating, and the saved edit indeed only reaches new incidents."""
    admin = make_user("sre-admin", team=sre, role=TeamMembership.Role.ADMIN)
    dave = person_with_email("dave", team=sre)
    incident = committed(make_incident, t21_key)
    assert smtp.take() == ["alice@example.com"]
    web = client_of(admin)
    policy_id = t21_key.escalation_policy_id
    assert "never changes an incident that is already escalating" in web.get(
        f"/escalation/policies/{policy_id}/").content.decode()
    response = web.post(f"/escalation/policies/{policy_id}/save/",
                        editor_post(name="T21", repeat_count=0, steps=[{"delay": 1, "users": [dave.pk]}]))
    assert response.status_code == 302
    clock.to(5)
    tick()
    assert smtp.take() == ["bob@example.com"]  # the snapshot's step 2, not dave
    committed(make_incident, t21_key)
    clock.to(7)
    tick()
    assert smtp.take() == ["dave@example.com"]  # a new incident follows the saved policy
    incident.refresh_from_db()
    assert len(incident.escalation_snapshot["steps"]) == 3 and incident.escalation_snapshot["repeat_count"] == 1
