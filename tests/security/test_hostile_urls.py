"""T48: no 5xx from any URL. Every pattern Django's resolver knows (portal, REST, admin, the
doors, signed links, calendar feeds) is requested with hostile values in each path parameter
and in the query string, as an anonymous visitor, a responder and a superuser, with GET and
with POST (CSRF checks off, so the view itself runs). Only 2xx, 3xx and 4xx may come back.

The patterns are enumerated, not listed: a new URL is walked the day it is added."""

from __future__ import annotations

import json
import re
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from urllib.parse import quote, unquote

import pytest
from django.apps import apps
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver
from django.utils.regex_helper import normalize

from escalation import links
from escalation.models import ContactMethod, Notification, NotificationRule
from incidents.models import MaintenanceWindow, SuppressionRule
from oncall.models import CalendarFeedToken, Rotation, RotationParticipant, Schedule, ScheduleOverride
from tests.factories import make_incident, make_key, make_team, make_user

pytestmark = pytest.mark.django_db

# Percent-encoded, as a client puts them on the wire.
HOSTILE = [
    "%00",                        # NUL: PostgreSQL text refuses it
    "%ED%A0%80",                  # a lone surrogate (U+D800) in UTF-8 form
    "%FF%FE",                     # not UTF-8 at all
    "A" * 10_000,
    "-1",
    "99999999999999999999999999999",
    "-9223372036854775809",
    "1e309",
    quote("0001-01-01T00:00:00+14:00", safe=""),
    quote("9999-12-31T23:59:59-12:00", safe=""),
    "..%2F..%2Fetc%2Fpasswd",
    "%25",
]

# The first four: what breaks text handling (NUL, a lone surrogate, not UTF-8, 10k characters).
TEXT_BREAKERS = frozenset(HOSTILE[:4])

# Form and JSON bodies carry the values that reach a save or a lookup.
BODY_VALUES = ["%00", "%ED%A0%80", "A" * 10_000, "99999999999999999999999999999", "-9223372036854775809",
               quote("0001-01-01T00:00:00+14:00", safe=""), quote("9999-12-31T23:59:59-12:00", safe="")]

# Every query parameter a view or an admin changelist reads (views' GET/query_params, the
# admin's list_filter, date_hierarchy, search, ordering and paging parameters).
QUERY_NAMES = [
    "q", "team", "status", "severity", "key", "page", "at", "schedule", "weeks", "state",
    "integration_key", "dedup_key", "n", "format", "o", "p", "e", "next",
    "status__exact", "severity__exact", "team__id__exact", "integration_key__id__exact",
    "is_flapping__exact", "kind__exact", "enabled__exact", "verified__exact", "channel__exact",
    "format__exact", "outcome__exact", "action__exact", "operator__exact", "shift_kind__exact",
    "schedule__id__exact", "escalation_policy__id__exact", "grouping_type__exact",
    "first_seen_at__year", "first_seen_at__month", "first_seen_at__day",
    "received_at__year", "due_at__year", "due_at__month", "_changelist_filters",
]

# Form fields the portal's and the admin's POST handlers read.
FORM_FIELDS = [
    "text", "target", "token", "confirm", "payload", "enabled", "reason", "address", "kind",
    "name", "team", "starts_at", "ends_at", "time_zone", "code", "delay_minutes", "urgency",
    "username", "password", "Body", "From", "Digits", "summary", "value", "field", "operator",
]


# Readiness probes answer 503 by design while a dependency is down (no beat runs here).
READINESS = ("/readyz", "/health/escalation")


@dataclass
class Route:
    template: str          # "/incidents/%(pk)s/"
    params: list[str]
    pattern: str           # the pattern text, for messages


def _strip(regex: str) -> str:
    return regex[1:] if regex.startswith("^") else regex


def _walk(resolver, prefix: str = ""):
    for entry in resolver.url_patterns:
        regex = prefix + _strip(entry.pattern.regex.pattern)
        if isinstance(entry, URLResolver):
            yield from _walk(entry, regex)
        elif isinstance(entry, URLPattern):
            yield regex, str(entry.pattern)


def all_routes() -> list[Route]:
    routes = []
    for regex, text in _walk(get_resolver()):
        for template, params in normalize(regex):
            routes.append(Route("/" + template, list(params), text))
    return routes


@pytest.fixture
def world(settings):
    """One of everything a path parameter can name, so the 'valid' value reaches the view."""
    settings.INBOUND_RATE_LIMIT_EXEMPT = ["127.0.0.0/8"]   # the walk is not a flood
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    team = make_team("SRE")
    responder = make_user("rita", team=team)
    admin = make_user("root", is_superuser=True, is_staff=True)
    key, raw_key = make_key(team=team)
    incident = make_incident(key)
    schedule = Schedule.objects.create(name="Primary", team=team, time_zone="Europe/Berlin")
    rotation = Rotation.objects.create(schedule=schedule, shift_kind="daily", handoff_time="09:00",
                                       start=datetime(2026, 3, 23, 8, tzinfo=UTC))
    RotationParticipant.objects.create(rotation=rotation, user=responder, position=0)
    now = datetime.now(UTC)
    override = ScheduleOverride.objects.create(schedule=schedule, user=responder, start=now,
                                               end=now + timedelta(hours=1))
    method = ContactMethod.objects.create(user=responder, kind="email", address="rita@example.com")
    rule = NotificationRule.objects.create(user=responder, contact_method=method, delay_minutes=0)
    notification = Notification.objects.create(incident=incident, user=responder, contact_method=method,
                                               channel="email", address="rita@example.com",
                                               dedupe_key="walk-1", due_at=now)
    window = MaintenanceWindow.objects.create(team=team, start=now, end=now + timedelta(hours=1),
                                              reason="patching", created_by=responder)
    SuppressionRule.objects.create(name="noise", field="summary", operator="contains", value="test")
    CalendarFeedToken.objects.create(user=responder)
    by_prefix = {
        "api/v1/incidents": incident.pk, "api/v1/integration-keys": key.pk, "api/v1/teams": team.pk,
        "api/v1/escalation-policies": key.escalation_policy_id, "api/v1/contact-methods": method.pk,
        "api/v1/notification-rules": rule.pk, "api/v1/schedules": schedule.pk,
        "incidents": incident.pk, "integrations": key.pk, "maintenance": window.pk,
        "profile/methods": method.pk, "profile/rules": rule.pk, "twilio/voice": notification.pk,
    }
    return {
        "team": team, "responder": responder, "admin": admin, "raw_key": raw_key, "incident": incident,
        "override": override, "by_prefix": by_prefix,
    }


def valid_value(route: Route, name: str, world: dict) -> str:
    """A value for one path parameter that reaches the view (read at request time: the walk
    itself replaces calendar secrets and may delete rows)."""
    path = route.template.strip("/")
    if name == "key":
        return world["raw_key"]
    if name == "token":
        return links.make_token(world["incident"], world["responder"], "acknowledge")
    if name == "secret":
        token = CalendarFeedToken.objects.filter(user=world["responder"]).first()
        return token.secret if token else "missing"
    if name == "format":
        return "json"
    if name == "app_label":
        return "incidents"
    if name == "url":
        return "nowhere/"
    if name == "user_id":
        return str(world["responder"].pk)
    if name == "override_id":
        return str(world["override"].pk)
    match = re.match(r"admin/(\w+)/(\w+)/", path)
    if match:
        try:
            model = apps.get_model(match[1], match[2])
        except LookupError:
            return "1"
        first = model._default_manager.order_by("pk").values_list("pk", flat=True).first()
        return str(first or 1)
    for prefix, pk in sorted(world["by_prefix"].items(), key=lambda item: -len(item[0])):
        if path.startswith(prefix):
            return str(pk)
    return "1"


def fill(route: Route, values: dict[str, str]) -> str:
    return route.template % values


def _as_text(value: str) -> str:
    """The decoded value for a JSON body: a lone surrogate survives (JSON escapes it as
    \\ud800); bytes that are no UTF-8 at all cannot travel in JSON and become U+FFFD."""
    try:
        return unquote(value, errors="surrogatepass")
    except UnicodeDecodeError:
        return unquote(value, errors="replace")


def requests_for(route: Route, world: dict, who: str):
    """(method, url, body) for one pattern: each hostile value in each path parameter (GET
    and POST); then, with valid path values, each hostile value in every query parameter at
    once, and the body values in every form field (and, outside the admin, every JSON
    field); and for a pattern without path parameters (lists, changelists) each query
    parameter alone, since the first refused filter hides the others. The admin sends
    anyone but staff to its sign-in page before reading anything: for them only the path
    and the query (which travel into that redirect) are walked."""
    valid = {name: quote(valid_value(route, name, world), safe="") for name in route.params}
    admin = route.template.startswith("/admin/")
    only_the_door = admin and who != "admin"
    for name in route.params:
        for value in HOSTILE:
            url = fill(route, {**valid, name: value})
            yield "GET", url, None
            # A POST resolves the same path through the same converter and lookup as its GET;
            # the values that break text handling are enough to reach its own code.
            if not only_the_door and value in TEXT_BREAKERS:
                yield "POST", url, None
    base = fill(route, valid)
    for value in HOSTILE:
        yield "GET", base + "?" + "&".join(f"{n}={value}" for n in QUERY_NAMES), None
    if only_the_door:
        return
    for value in BODY_VALUES:
        # The bytes a browser's form would send, and the JSON a script would.
        yield "POST", base, ("application/x-www-form-urlencoded", "&".join(f"{f}={value}" for f in FORM_FIELDS))
        if not admin:
            yield "POST", base, ("application/json", json.dumps({f: _as_text(value) for f in FORM_FIELDS}))
    if not route.params:
        for i, name in enumerate(QUERY_NAMES):
            yield "GET", f"{base}?{name}={HOSTILE[i % len(HOSTILE)]}", None


def walk(routes: list[Route], who: str, world: dict) -> tuple[int, list[str]]:
    client = Client(raise_request_exception=False)
    if who != "anonymous":
        client.force_login(world[who])
    failures, tried = [], 0
    for route in routes:
        for method, url, body in requests_for(route, world, who):
            if method == "GET":
                response = client.get(url)
            else:
                content_type, data = body or ("application/x-www-form-urlencoded", "")
                response = client.post(url, data, content_type=content_type)
            tried += 1
            if response.status_code == 503 and url.startswith(READINESS):
                continue  # their answer when the broker or the beat is absent, as here
            if response.status_code >= 500:
                failures.append(f"{response.status_code} {who} {method} {url[:160]} ({route.pattern})")
        if who != "anonymous" and route.pattern.startswith(("logout", "login")):
            client.force_login(world[who])   # the walk just signed itself out
    return tried, failures


@pytest.mark.timeout(600)
@pytest.mark.parametrize("who, area", [
    ("anonymous", "admin"), ("admin", "admin"),
    ("anonymous", "portal, REST, doors, links"), ("responder", "portal, REST, doors, links"),
    ("admin", "portal, REST, doors, links"),
])
def test_no_url_answers_5xx_to_hostile_input(world, who, area):
    """T48: every URL pattern, hostile path and query values, three kinds of visitor. (The
    admin turns a responder away at its sign-in redirect before reading anything, exactly as
    it does an anonymous visitor, so that pair is walked once, as anonymous.)"""
    routes = [r for r in all_routes() if r.template.startswith("/admin/") == (area == "admin")]
    assert len(routes) > 60, "the resolver walk found too few patterns"
    started = time.monotonic()
    tried, failures = walk(routes, who, world)
    print(f"\nT48 {area} as {who}: {tried} requests over {len(routes)} URL patterns in "
          f"{time.monotonic() - started:.0f} s, {len(failures)} answered 5xx")
    assert not failures, "\n".join(failures[:60])


# --- the cases measured in issue 12, each answered 400 (or 404) in its caller's usual body --


def _signed_in(user) -> Client:
    client = Client(raise_request_exception=False)
    client.force_login(user)
    return client


def test_a_nul_in_the_calendar_feed_path_is_a_400_for_anyone(world):
    response = Client().get("/oncall/calendar/%00.ics")
    assert response.status_code == 400
    assert response.json() == {"status": "invalid event", "message": "Bad request",
                               "errors": ["the URL path contains a NUL character or a lone surrogate"]}


@pytest.mark.parametrize("query", ["q=%00", "team=%00", "q=ok&status=a%00"])
def test_a_nul_in_a_portal_filter_is_a_400_page_naming_the_parameter(world, query):
    response = _signed_in(world["responder"]).get(f"/?{query}", HTTP_ACCEPT="text/html")
    assert response.status_code == 400
    assert "text/html" in response["Content-Type"]
    assert "the query parameter" in response.content.decode() and "NUL" in response.content.decode()


def test_a_nul_in_a_rest_path_is_a_400_in_the_rest_body(world):
    client = _signed_in(world["responder"])
    response = client.get("/api/v1/teams/%00/")
    assert response.status_code == 400
    assert response.json() == {"detail": "Bad request: the URL path contains a NUL character or a lone surrogate."}


def test_a_portal_note_with_a_nul_is_refused_naming_the_field_and_nothing_is_written(world):
    incident = world["incident"]
    response = _signed_in(world["responder"]).post(f"/incidents/{incident.pk}/notes/", {"text": "disk\x00full"})
    assert response.status_code == 400
    assert "form field 'text'" in response.json()["errors"][0]
    assert not incident.timeline.filter(kind="note").exists()


@pytest.mark.parametrize("text", ["disk\x00full", "disk\ud800full"])
def test_a_rest_note_with_a_nul_or_a_lone_surrogate_is_a_400_naming_the_field(world, text):
    from tests.factories import api_client_for

    incident = world["incident"]
    response = api_client_for(world["responder"]).post(
        f"/api/v1/incidents/{incident.pk}/notes/", json.dumps({"text": text}), content_type="application/json")
    assert response.status_code == 400
    assert "text" in json.dumps(response.json())
    assert not incident.timeline.filter(kind="note").exists()


def test_a_lone_surrogate_in_a_json_field_is_a_400_naming_its_path(world):
    from tests.factories import api_client_for

    body = '{"name": "x", "field": "summary", "operator": "contains", "value": "ok", "labels": {"a\\ud800": 1}}'
    response = api_client_for(world["admin"]).post("/api/v1/suppression-rules/", body, content_type="application/json")
    assert response.status_code == 400
    assert "a\ufffd" in response.json()["detail"]


@pytest.mark.parametrize("query", ["status__exact=%00", "team__id__exact=%00", "q=%00"])
def test_a_nul_in_an_admin_list_filter_is_a_400(world, query):
    response = _signed_in(world["admin"]).get(f"/admin/incidents/incident/?{query}", HTTP_ACCEPT="text/html")
    assert response.status_code == 400


@pytest.mark.parametrize("at", ["0001-01-01T00:00:00+14:00", "9999-12-31T23:59:59-12:00", "1899-12-31T23:00:00Z"])
def test_an_on_call_time_at_the_ends_of_the_calendar_is_a_400_naming_at(world, at):
    from tests.factories import api_client_for

    response = api_client_for(world["responder"]).get("/api/v1/oncall/", {"at": at})
    assert response.status_code == 400
    assert list(response.json()) == ["at"]


def test_an_on_call_time_inside_the_range_still_answers(world):
    from tests.factories import api_client_for

    response = api_client_for(world["responder"]).get("/api/v1/oncall/", {"at": "2026-03-29T09:00:00+14:00"})
    assert response.status_code == 200


def test_a_10k_character_user_name_on_the_sign_in_pages_is_not_a_500(world):
    for path in ("/login/", "/admin/login/"):
        response = Client(raise_request_exception=False).post(path, {"username": "A" * 10_000, "password": "x"})
        assert response.status_code < 500, path


def test_a_format_suffix_is_a_404_not_a_500(world):
    from tests.factories import api_client_for

    client = api_client_for(world["responder"])
    incident = world["incident"]
    assert client.post(f"/api/v1/incidents/{incident.pk}/notes.json", {"text": "x"}).status_code == 404
    assert client.get("/api/v1/oncall.json").status_code == 404


@pytest.mark.parametrize("query", ["first_seen_at__year=99999999999999999999999999999",
                                   "first_seen_at__year=2026&first_seen_at__month=-9223372036854775809"])
def test_a_date_drill_down_out_of_range_returns_to_the_list_with_e1(world, query):
    response = _signed_in(world["admin"]).get(f"/admin/incidents/incident/?{query}")
    assert (response.status_code, response["Location"]) == (302, "/admin/incidents/incident/?e=1")


@pytest.mark.parametrize("object_id", ["%25", "A" * 300, "-1"])
def test_testing_a_suppression_rule_that_is_not_there_is_a_404(world, object_id):
    response = _signed_in(world["admin"]).get(f"/admin/incidents/suppressionrule/{object_id}/test/")
    assert response.status_code == 404
