"""The Profile page: a person edits only their own contact methods, rules, time zone and
token; every form is CSRF-protected and escapes what it shows; times on the portal are in
the viewer's own zone."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from rest_framework.test import APIClient

from escalation.channels import configured_kinds
from escalation.models import ContactMethod, NotificationRule
from incidents.models import Incident, MaintenanceWindow
from oncall.models import ApiToken, Rotation, RotationParticipant, Schedule, UserProfile
from tests.factories import api_client_for, make_incident, make_user

pytestmark = pytest.mark.django_db


def text(response) -> str:
    """The page, with timesince's non-breaking spaces as plain ones."""
    return response.content.decode().replace("\xa0", " ")


@pytest.fixture
def stranger(other_team):
    return make_user("sam", team=other_team)


@pytest.fixture
def sams_method(stranger):
    return ContactMethod.objects.create(user=stranger, kind="email", address="sam@example.com", verified=False,
                                        verification_digest="x" * 64,
                                        verification_expires_at=timezone.now() + timedelta(minutes=5))


def test_profile_page_needs_sign_in(client):
    response = client.get("/profile/")
    assert response.status_code == 302 and response["Location"].startswith("/login/")


def test_profile_page_lists_only_my_methods_and_offers_only_configured_kinds(web, responder, sams_method):
    ContactMethod.objects.create(user=responder, kind="email", address="rita@example.com")
    page = web.get("/profile/").content.decode()
    assert "rita@example.com" in page and "sam@example.com" not in page
    kind_picker = page.split('name="kind"')[1].split("</select>")[0]
    offered = re.findall(r'<option value="([^"]+)"', kind_picker)
    assert offered == [cls.kind for cls in configured_kinds()] and offered
    # A kind that is not offered (no channel, or its settings absent) is refused.
    response = web.post("/profile/methods/new/", {"kind": "carrier-pigeon", "address": "loft 3"})
    assert response.status_code == 400
    assert not ContactMethod.objects.filter(user=responder, kind="carrier-pigeon").exists()


@pytest.mark.parametrize("action, data", [
    ("verify", {"code": "123456"}),
    ("send-code", {}),
    ("test", {}),
    ("enable", {"enabled": "0"}),
    ("delete", {}),
])
def test_another_persons_method_is_a_404_and_unchanged(web, sams_method, action, data):
    response = web.post(f"/profile/methods/{sams_method.pk}/{action}/", data)
    assert response.status_code == 404
    fresh = ContactMethod.objects.get(pk=sams_method.pk)
    assert (fresh.enabled, fresh.verified, fresh.verification_attempts) == (True, False, 0)


def test_another_persons_rule_is_a_404_and_my_rule_cannot_use_their_method(web, responder, stranger,
                                                                            sams_method):
    theirs = NotificationRule.objects.create(user=stranger, contact_method=sams_method)
    assert web.post(f"/profile/rules/{theirs.pk}/delete/").status_code == 404
    assert NotificationRule.objects.filter(pk=theirs.pk).exists()
    response = web.post("/profile/rules/new/", {"urgency": "high", "contact_method": sams_method.pk,
                                                "delay_minutes": 0})
    assert response.status_code == 400
    assert not NotificationRule.objects.filter(user=responder).exists()


def test_every_profile_form_refuses_a_post_without_a_csrf_token(client_of, responder):
    method = ContactMethod.objects.create(user=responder, kind="email", address="rita@example.com")
    rule = NotificationRule.objects.create(user=responder, contact_method=method)
    token, _ = ApiToken.objects.create(user=responder, name="existing")
    browser = client_of(responder, enforce_csrf_checks=True)
    for path, data in [
        ("/profile/methods/new/", {"kind": "email", "address": "x@example.com"}),
        (f"/profile/methods/{method.pk}/enable/", {"enabled": "0"}),
        (f"/profile/methods/{method.pk}/delete/", {}),
        (f"/profile/methods/{method.pk}/test/", {}),
        (f"/profile/methods/{method.pk}/verify/", {"code": "1"}),
        ("/profile/rules/new/", {"urgency": "high", "contact_method": method.pk, "delay_minutes": 1}),
        (f"/profile/rules/{rule.pk}/delete/", {}),
        ("/profile/time-zone/", {"time_zone": "Europe/Berlin"}),
        ("/profile/token/new/", {"name": "laptop", "expires_in_days": "90"}),
        (f"/profile/token/{token.pk}/revoke/", {}),
    ]:
        assert browser.post(path, data).status_code == 403, path
    assert ContactMethod.objects.filter(user=responder).count() == 1
    assert ContactMethod.objects.get(pk=method.pk).enabled is True
    assert NotificationRule.objects.filter(pk=rule.pk).exists()
    assert not UserProfile.objects.filter(user=responder).exists()
    assert list(ApiToken.objects.filter(user=responder)) == [token]


def test_a_bad_address_is_refused_with_the_channels_reason(web, responder, settings):
    settings.ESCALATION_WEBHOOK_ALLOW_PRIVATE = False
    response = web.post("/profile/methods/new/", {"kind": "email", "address": "not an address"})
    assert response.status_code == 400 and "valid email" in response.content.decode()
    response = web.post("/profile/methods/new/", {"kind": "webhook", "address": "http://169.254.169.254/"})
    assert response.status_code == 400 and "non-public address" in response.content.decode()
    assert not ContactMethod.objects.filter(user=responder).exists()


def test_what_a_person_typed_is_escaped(web, responder):
    ContactMethod.objects.create(user=responder, kind="email", address='"><script>x</script>@example.com')
    page = web.get("/profile/").content.decode()
    assert "<script>x</script>" not in page and "&lt;script&gt;x&lt;/script&gt;" in page


def test_enable_disable_and_delete_my_method(web, responder):
    method = ContactMethod.objects.create(user=responder, kind="email", address="rita@example.com")
    web.post(f"/profile/methods/{method.pk}/enable/", {"enabled": "0"})
    assert ContactMethod.objects.get(pk=method.pk).enabled is False
    web.post(f"/profile/methods/{method.pk}/enable/", {"enabled": "1"})
    assert ContactMethod.objects.get(pk=method.pk).enabled is True
    web.post(f"/profile/methods/{method.pk}/delete/")
    assert not ContactMethod.objects.filter(pk=method.pk).exists()


def test_rules_per_urgency_and_the_preview_line(web, responder):
    email = ContactMethod.objects.create(user=responder, kind="email", address="rita@example.com")
    hook = ContactMethod.objects.create(user=responder, kind="webhook", address="https://hooks.example.com/r")
    web.post("/profile/rules/new/", {"urgency": "high", "contact_method": email.pk, "delay_minutes": 0})
    web.post("/profile/rules/new/", {"urgency": "high", "contact_method": hook.pk, "delay_minutes": 2})
    web.post("/profile/rules/new/", {"urgency": "low", "contact_method": email.pk, "delay_minutes": 10})
    assert sorted(NotificationRule.objects.filter(user=responder).values_list("urgency", "delay_minutes")) == [
        ("high", 0), ("high", 2), ("low", 10)]
    page = web.get("/profile/").content.decode()
    assert ("A critical or error page: Email (rita@example.com) now, "
            "Outgoing webhook (https://hooks.example.com/…) at +2 min") in page
    assert "A warning or info page: Email (rita@example.com) at +10 min" in page
    rule = NotificationRule.objects.get(user=responder, delay_minutes=10)
    web.post(f"/profile/rules/{rule.pk}/delete/")
    assert not NotificationRule.objects.filter(pk=rule.pk).exists()


def test_a_negative_or_huge_delay_is_refused(web, responder):
    email = ContactMethod.objects.create(user=responder, kind="email", address="rita@example.com")
    for delay in (-1, 10**9, "soon"):
        response = web.post("/profile/rules/new/", {"urgency": "low", "contact_method": email.pk,
                                                    "delay_minutes": delay})
        assert response.status_code == 400
    assert not NotificationRule.objects.exists()


# --- time zone ---------------------------------------------------------------------------------


def test_the_time_zone_is_picked_from_the_zoneinfo_list_only(web, responder):
    page = web.get("/profile/").content.decode()
    assert '<select name="time_zone"' in page and '<option value="Europe/Berlin">' in page
    assert web.post("/profile/time-zone/", {"time_zone": "Mars/Olympus"}).status_code == 302
    assert not UserProfile.objects.filter(user=responder).exists()
    web.post("/profile/time-zone/", {"time_zone": "Europe/Berlin"})
    assert UserProfile.objects.get(user=responder).time_zone == "Europe/Berlin"


def test_incident_times_are_shown_relative_and_in_the_viewers_zone(web, responder, key, time_machine):
    seen = datetime(2026, 1, 15, 1, 14, tzinfo=UTC)
    incident = make_incident(key, summary="Disk full")
    Incident.objects.filter(pk=incident.pk).update(first_seen_at=seen, last_seen_at=seen, created_at=seen)
    incident.timeline.update(created_at=seen)
    time_machine.move_to(seen + timedelta(minutes=3), tick=False)
    # Default: UTC.
    assert "3 minutes ago, 01:14 UTC" in text(web.get(f"/incidents/{incident.pk}/"))
    web.post("/profile/time-zone/", {"time_zone": "Europe/Berlin"})
    detail = text(web.get(f"/incidents/{incident.pk}/"))
    assert "3 minutes ago, 02:14 CET" in detail
    assert 'title="2026-01-15 02:14:00 CET (2026-01-15 01:14:00 UTC)"' in detail
    assert "3 minutes ago, 02:14 CET" in text(web.get("/"))  # the list
    assert "3 minutes ago, 02:14 CET" in text(web.get(f"/incidents/{incident.pk}/live/"))  # timeline


def test_a_new_session_gets_the_zone_at_sign_in_without_a_query_per_page(client_of, responder, key):
    UserProfile.objects.create(user=responder, time_zone="America/New_York")
    make_incident(key)
    browser = client_of(responder)  # signs in: the zone goes into the session then
    assert browser.session["vigil_time_zone"] == "America/New_York"
    with CaptureQueriesContext(connection) as queries:
        page = text(browser.get("/"))
    assert " EST</time>" in page or " EDT</time>" in page
    assert not [q for q in queries.captured_queries if "userprofile" in q["sql"]]


def test_older_times_carry_their_date(web, responder, key, time_machine):
    seen = datetime(2026, 3, 2, 9, 30, tzinfo=UTC)
    incident = make_incident(key)
    Incident.objects.filter(pk=incident.pk).update(first_seen_at=seen, last_seen_at=seen)
    time_machine.move_to(seen + timedelta(days=2), tick=False)
    assert "2 days ago, 2 Mar 09:30 UTC" in text(web.get(f"/incidents/{incident.pk}/"))
    Incident.objects.filter(pk=incident.pk).update(first_seen_at=datetime(2025, 12, 30, 8, 0, tzinfo=UTC))
    assert "30 Dec 2025 08:00 UTC" in text(web.get(f"/incidents/{incident.pk}/"))


def test_the_profile_lists_my_shifts_in_my_zone(web, responder, team):
    UserProfile.objects.create(user=responder, time_zone="Asia/Tokyo")
    web.post("/profile/time-zone/", {"time_zone": "Asia/Tokyo"})
    schedule = Schedule.objects.create(name="SRE primary", team=team, time_zone="UTC")
    rotation = Rotation.objects.create(schedule=schedule, shift_kind=Rotation.ShiftKind.DAILY,
                                       start=timezone.now() + timedelta(days=1))
    RotationParticipant.objects.create(rotation=rotation, user=responder, position=0)
    page = web.get("/profile/").content.decode()
    shifts = page.split('id="my-shifts"')[1].split("</ul>")[0]
    assert "SRE primary" in shifts and "JST" in shifts


# --- REST tokens -----------------------------------------------------------------------------


def test_a_token_is_shown_once_listed_by_name_and_prefix_used_and_revoked(web, responder):
    response = web.post("/profile/token/new/", {"name": "laptop", "expires_in_days": "30"})
    raw = response.context["raw_token"]
    assert raw in response.content.decode() and "no-cache" in response["Cache-Control"]
    page = web.get("/profile/").content.decode()
    assert raw not in page and f"<code>{raw[:8]}…</code>" in page and "laptop" in page
    token = ApiToken.objects.get(user=responder)
    assert token.name == "laptop" and 29 <= (token.expiry - token.created).days <= 30

    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Token {raw}")
    assert api.get("/api/v1/incidents/").status_code == 200

    web.post(f"/profile/token/{token.pk}/revoke/")
    assert not ApiToken.objects.filter(user=responder).exists()
    assert api.get("/api/v1/incidents/").status_code == 401


def test_tokens_are_per_device_a_new_one_leaves_the_others_working(web, responder):
    first = web.post("/profile/token/new/", {"name": "laptop", "expires_in_days": "90"}).context["raw_token"]
    second = web.post("/profile/token/new/", {"name": "backup cron", "expires_in_days": "7"}).context["raw_token"]
    assert first != second
    assert sorted(ApiToken.objects.filter(user=responder).values_list("name", flat=True)) == ["backup cron", "laptop"]
    for raw in (first, second):
        api = APIClient()
        api.credentials(HTTP_AUTHORIZATION=f"Token {raw}")
        assert api.get("/api/v1/incidents/").status_code == 200


def test_the_profile_form_offers_no_token_without_expiry(web, responder):
    response = web.post("/profile/token/new/", {"name": "forever", "expires_in_days": "0"})
    assert response.status_code == 302
    assert not ApiToken.objects.filter(user=responder).exists()


def test_revoking_touches_only_my_token(web, stranger):
    theirs, _ = ApiToken.objects.create(user=stranger, name="theirs")
    web.post(f"/profile/token/{theirs.pk}/revoke/")
    assert ApiToken.objects.filter(pk=theirs.pk).exists()


def test_the_maintenance_form_reads_times_in_the_viewers_zone(client_of, team_admin, team):
    admin_web = client_of(team_admin)
    admin_web.post("/profile/time-zone/", {"time_zone": "Asia/Kolkata"})  # UTC+05:30, no DST
    page = admin_web.get("/maintenance/").content.decode()
    assert "Start (Asia/Kolkata)" in page and "Times are in your time zone, Asia/Kolkata" in page
    start = (timezone.now() + timedelta(days=1)).astimezone(ZoneInfo("Asia/Kolkata")).replace(
        second=0, microsecond=0)
    response = admin_web.post("/maintenance/new/", {
        "scope": f"team:{team.pk}", "start": f"{start:%Y-%m-%dT%H:%M}", "duration": "60", "reason": "Upgrade",
    })
    assert response.status_code == 302
    assert MaintenanceWindow.objects.get().start == start  # read as Kolkata time: the same instant


def test_a_method_made_through_the_rest_api_is_verified_and_the_flag_is_read_only(responder):
    api = api_client_for(responder)
    response = api.post("/api/v1/contact-methods/", {"kind": "email", "address": "r@example.com",
                                                     "verified": False}, format="json")
    assert response.status_code == 201 and response.json()["verified"] is True
    assert ContactMethod.objects.get(user=responder).verified is True
    method_id = response.json()["id"]
    response = api.post("/api/v1/notification-rules/", {"contact_method": method_id, "delay_minutes": 1,
                                                        "urgency": "low"}, format="json")
    assert response.status_code == 201
    assert NotificationRule.objects.get(user=responder).urgency == "low"


def test_push_is_offered_as_a_link_to_subscribe_never_as_a_typed_address(web, settings):
    settings.VAPID_PUBLIC_KEY, settings.VAPID_PRIVATE_KEY = "public", "private"
    settings.VAPID_SUBJECT = "mailto:ops@example.com"
    page = text(web.get("/profile/"))
    assert 'href="/push/"' in page
    assert 'value="push"' not in page
    refused = web.post("/profile/methods/new/", {"kind": "push", "address": "https://push.example.com/x"})
    assert refused.status_code == 400
    assert not ContactMethod.objects.filter(kind="push").exists()


def test_credential_addresses_and_disable_reasons_show_redacted_on_the_profile(web, responder):
    ContactMethod.objects.create(user=responder, kind="apprise", address="json://user:s3cret@hooks.example.com/x",
                                 enabled=False, disabled_reason="the server answered 410")
    page = text(web.get("/profile/"))
    assert "s3cret" not in page
    assert "json://hooks.example.com/…" in page
    assert "Disabled: the server answered 410" in page
