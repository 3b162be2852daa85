"""T02, T03, T06 and T15: races against a real gunicorn. The same dedup key through four
doors at once, triggers racing resolves, three people acknowledging one incident at the
same instant, and the inbound limiter counting a burst exactly."""

from __future__ import annotations

import re
import threading
import time
import uuid
from functools import partial

import httpx
import pytest
import redis
from django.db import connection

from escalation import links
from escalation.models import EscalationStep
from incidents.models import Alert, Event, Incident, TimelineEntry
from tests.factories import make_api_token, make_incident, make_key, make_policy, make_team, make_user
from tests.reliability.doors import DOORS
from tests.reliability.harness import Gunicorn, django_env
from tests.reliability.load import fire_burst, fire_together, run_together

pytestmark = [pytest.mark.chaos, pytest.mark.timeout(60), pytest.mark.django_db(transaction=True)]

DOOR = {door.name: door for door in DOORS}
PASSWORD = "correct horse battery"
LIMITED_REDIS_DB = 3
LIMIT = 120
CSRF_FIELD = re.compile(r'name="csrfmiddlewaretoken" value="([^"]+)"')
LINK_PROOF_FIELD = re.compile(r'name="confirm" value="([^"]+)"')


def v2_trigger(raw_key: str, dedup_key: str) -> dict:
    return {
        "routing_key": raw_key, "event_action": "trigger", "dedup_key": dedup_key,
        "payload": {"summary": "Disk usage > 90% on srv01", "severity": "critical", "source": "srv01"},
    }


def v2_resolve(raw_key: str, dedup_key: str) -> dict:
    return {"routing_key": raw_key, "event_action": "resolve", "dedup_key": dedup_key}


def alertmanager_firing(fingerprint: str) -> dict:
    alert = {
        "status": "firing", "labels": {"alertname": "DiskFull", "severity": "critical", "instance": "srv01"},
        "annotations": {"summary": "Disk usage > 90% on srv01"}, "startsAt": "2026-01-01T00:00:00Z",
        "endsAt": "0001-01-01T00:00:00Z", "generatorURL": "http://prometheus.local/graph",
        "fingerprint": fingerprint,
    }
    return {
        "version": "4", "status": "firing", "receiver": "vigil", "groupKey": '{}:{alertname="DiskFull"}',
        "groupLabels": {"alertname": "DiskFull"}, "commonLabels": alert["labels"],
        "commonAnnotations": alert["annotations"], "externalURL": "http://alertmanager.local",
        "truncatedAlerts": 0, "alerts": [alert],
    }


def eventapi_trigger(dedup_key: str) -> dict:
    return {"summary": "Disk usage > 90% on srv01", "severity": "critical", "dedupKey": dedup_key}


def through_door(name: str, raw_key: str, body: dict):
    door = DOOR[name]
    return lambda client: client.post(door.url(raw_key), json=body, headers=door.headers(raw_key))


def incident_id_of(body: dict) -> int:
    """The Alertmanager door answers per alert; the others carry the id at the top."""
    return body["events"][0]["incident_id"] if "events" in body else body["incident_id"]


# --- T02: one dedup key through four doors at once -------------------------------------------


def test_one_dedup_key_through_four_doors_at_once_makes_one_incident(live, live_key):
    key, raw_key = live_key
    dedup_key = f"t02-{uuid.uuid4().hex[:12]}"
    senders = [
        through_door("events-ingest", raw_key, v2_trigger(raw_key, dedup_key)),
        through_door("v2-enqueue", raw_key, v2_trigger(raw_key, dedup_key)),
        through_door("alertmanager", raw_key, alertmanager_firing(dedup_key)),
        through_door("eventapi", raw_key, eventapi_trigger(dedup_key)),
    ]
    answers = fire_together(str(live.base_url), 20, lambda client, i: senders[i % 4](client))

    expected_statuses = [202, 202, 200, 202] * 5
    assert [a.status for a in answers] == expected_statuses, [a.error or a.body for a in answers]
    (incident,) = Incident.objects.filter(integration_key=key, dedup_key=dedup_key)
    assert {incident_id_of(a.body) for a in answers} == {incident.pk}
    assert incident.alert_count == len(answers)
    outcomes = Event.objects.filter(integration_key=key, dedup_key=dedup_key)
    assert sorted(outcomes.values_list("outcome", flat=True)) == ["created"] + ["updated"] * 19
    assert sorted(set(outcomes.values_list("format", flat=True))) == ["alertmanager", "eventapi", "events_v2"]
    print(f"\nT02 20 triggers over 4 doors: 1 incident, alert_count {incident.alert_count}, "
          f"slowest {max(a.seconds for a in answers) * 1000:.0f} ms")


# --- T03: triggers racing resolves for one dedup key -----------------------------------------

T03_ROUNDS = 20
T03_TIME_BUDGET = 30.0


class OpenRowSampler:
    """Polls PostgreSQL about every 5 ms, from its own connection, for the number of open
    alerts and open incidents of one (key, dedup key)."""

    def __init__(self, key, dedup_key: str):
        self.params = [key.pk, dedup_key, key.pk, dedup_key]
        self.samples: list[tuple[int, int]] = []
        self.stop = threading.Event()
        self.failure: BaseException | None = None
        self.thread = threading.Thread(target=self.run, daemon=True)

    def run(self) -> None:
        query = (
            f"SELECT (SELECT count(*) FROM {Alert._meta.db_table} WHERE integration_key_id = %s "
            f"AND dedup_key = %s AND status = 'open'), "
            f"(SELECT count(*) FROM {Incident._meta.db_table} WHERE integration_key_id = %s "
            f"AND dedup_key = %s AND status IN ('triggered', 'acknowledged'))"
        )
        try:
            with connection.cursor() as cursor:
                while not self.stop.is_set():
                    cursor.execute(query, self.params)
                    self.samples.append(cursor.fetchone())
                    self.stop.wait(0.005)
        except BaseException as exc:  # reported by the test's thread
            self.failure = exc
        finally:
            connection.close()

    def __enter__(self) -> OpenRowSampler:
        self.thread.start()
        return self

    def __exit__(self, *exc_info) -> None:
        self.stop.set()
        self.thread.join(timeout=10)


def test_triggers_racing_resolves_never_leave_two_open_alerts(live, live_key):
    key, raw_key = live_key
    dedup_key = f"t03-{uuid.uuid4().hex[:12]}"

    def trigger_or_resolve(client: httpx.Client, i: int) -> httpx.Response:
        body = v2_trigger(raw_key, dedup_key) if i % 2 == 0 else v2_resolve(raw_key, dedup_key)
        return client.post("/v2/enqueue", json=body)

    started = time.monotonic()
    rounds = 0
    with OpenRowSampler(key, dedup_key) as sampler:
        while rounds < T03_ROUNDS and time.monotonic() - started < T03_TIME_BUDGET:
            answers = fire_together(str(live.base_url), 20, trigger_or_resolve)
            assert [a.status for a in answers] == [202] * 20, [a.error or a.body for a in answers]
            rounds += 1
    assert sampler.failure is None, sampler.failure
    assert rounds >= 5, f"only {rounds} rounds in {T03_TIME_BUDGET:.0f} s"
    assert len(sampler.samples) > rounds, "the sampler barely ran"
    assert max(open_alerts for open_alerts, _ in sampler.samples) <= 1
    assert max(open_incidents for _, open_incidents in sampler.samples) <= 1

    events = Event.objects.filter(integration_key=key, dedup_key=dedup_key)
    resolve_outcomes = list(events.filter(action="resolve").values_list("outcome", flat=True))
    assert len(resolve_outcomes) == 10 * rounds
    assert set(resolve_outcomes) <= {"resolved", "ignored"}
    trigger_outcomes = list(events.filter(action="trigger").values_list("outcome", flat=True))
    assert len(trigger_outcomes) == 10 * rounds
    assert set(trigger_outcomes) <= {"created", "updated", "grouped"}

    incidents = list(Incident.objects.filter(integration_key=key, dedup_key=dedup_key))
    for incident in incidents:
        counted = events.filter(incident=incident, outcome__in=["created", "updated", "grouped"]).count()
        assert incident.alert_count == counted, f"incident {incident.pk}: {incident.alert_count} != {counted}"
    # Some serial order explains it all: one created row per incident, one resolved row per
    # resolved incident, and at most the last incident still open.
    assert trigger_outcomes.count("created") == len(incidents)
    assert resolve_outcomes.count("resolved") == sum(i.status == "resolved" for i in incidents)
    assert sum(i.status != "resolved" for i in incidents) <= 1
    print(f"\nT03 {rounds} rounds of 10 triggers + 10 resolves in {time.monotonic() - started:.1f} s: "
          f"{len(incidents)} incidents, {resolve_outcomes.count('resolved')} resolved / "
          f"{resolve_outcomes.count('ignored')} ignored resolves, {len(sampler.samples)} samples, "
          f"max open alerts {max(s[0] for s in sampler.samples)}")


# --- A gunicorn with the default limit and cookies that work over plain HTTP ------------------


@pytest.fixture(scope="module")
def strict_gunicorn(gunicorn, live_database_url, redis_server, reliability_dir):
    """The production limit (120/m) on its own Redis database, and session/CSRF cookies
    without `Secure`, since this server speaks plain HTTP on loopback. It asks for the
    session's gunicorn only so that one's teardown, which waits for every database
    connection to close before the test database is dropped, runs after this one."""
    server = Gunicorn(
        django_env(
            database_url=live_database_url, redis_url=redis_server.url(LIMITED_REDIS_DB),
            INBOUND_RATE_LIMIT=f"{LIMIT}/m", SECURE_COOKIES="false",
        ),
        reliability_dir / "gunicorn-strict.log",
    ).start()
    yield server
    server.stop()


@pytest.fixture
def strict(strict_gunicorn, redis_child):
    yield strict_gunicorn
    assert strict_gunicorn.healthy(), "the strict gunicorn stopped answering /healthz"


def csrf_token(page: httpx.Response) -> str:
    assert page.status_code == 200, page.status_code
    match = CSRF_FIELD.search(page.text)
    assert match, "no CSRF field on the page"
    return match.group(1)


# --- T06: three acknowledges at the same instant ---------------------------------------------

T06_ROUNDS = 5


def log_in(client: httpx.Client, user) -> None:
    token = csrf_token(client.get("/login/"))
    answer = client.post("/login/", data={"username": user.username, "password": PASSWORD,
                                           "csrfmiddlewaretoken": token})
    assert answer.status_code == 302, answer.text[:500]


def test_portal_link_and_api_acknowledging_at_once_acknowledge_once(strict, settings):
    team = make_team(f"T06 {time.monotonic_ns()}")
    alice = make_user(team=team, password=PASSWORD)
    bob = make_user(team=team, password=PASSWORD)
    policy = make_policy(team=team)
    # A step still pending when the race starts: acknowledging must cancel it.
    EscalationStep.objects.create(policy=policy, order=0, delay_minutes=10).users.set([bob])
    key, _raw = make_key(team=team, policy=policy)
    bob_token = make_api_token(bob)
    # The link is signed with the server's secret, as the notifier running beside it would.
    settings.SECRET_KEY = strict.env["SECRET_KEY"]
    winners = []
    with httpx.Client(base_url=strict.base_url, timeout=10) as portal, \
            httpx.Client(base_url=strict.base_url, timeout=10) as mail_reader, \
            httpx.Client(base_url=strict.base_url, timeout=10) as script:
        log_in(portal, alice)
        for _round in range(T06_ROUNDS):
            incident = make_incident(key)
            assert incident.next_escalation_at is not None
            portal_csrf = csrf_token(portal.get(f"/incidents/{incident.pk}/"))
            link = f"/ack/{links.make_token(incident, bob, 'acknowledge')}/"
            link_proof = LINK_PROOF_FIELD.search(mail_reader.get(link).text).group(1)

            by_portal, by_link, by_api = run_together([
                partial(portal.post, f"/incidents/{incident.pk}/acknowledge/",
                        data={"csrfmiddlewaretoken": portal_csrf}),
                partial(mail_reader.post, link, data={"confirm": link_proof}),
                partial(script.post, f"/api/v1/incidents/{incident.pk}/acknowledge/",
                        headers={"Authorization": f"Token {bob_token}"}),
            ])

            assert by_portal.status_code == 302
            assert by_portal.headers["Location"].endswith(f"/incidents/{incident.pk}/")
            portal_page = portal.get(by_portal.headers["Location"]).text
            portal_won = f"Incident #{incident.pk} acknowledged." in portal_page
            assert portal_won or "Nothing changed: already acknowledged." in portal_page
            assert by_link.status_code == 200
            link_won = f"Incident #{incident.pk} acknowledged as {bob.username}." in by_link.text
            assert link_won or f"Incident #{incident.pk} is already acknowledged by " in by_link.text
            assert by_api.status_code == 200, by_api.text
            api_answer = by_api.json()
            api_won = api_answer["status"] == "success"
            assert api_won or (api_answer["status"], api_answer["message"]) == ("unchanged", "already acknowledged")

            via = {"web": portal_won, "email link": link_won, "api": api_won}
            assert sum(via.values()) == 1, via
            incident.refresh_from_db()
            assert incident.status == "acknowledged" and via[incident.acknowledged_via]
            assert incident.next_escalation_at is None
            entries = TimelineEntry.objects.filter(incident=incident, kind=TimelineEntry.Kind.ACKNOWLEDGED)
            assert entries.count() == 1
            winners.append(incident.acknowledged_via)
    print(f"\nT06 {T06_ROUNDS} rounds of 3 simultaneous acknowledges: 1 transition each; won by {winners}")


# --- T15: the limiter counts a burst exactly --------------------------------------------------


def test_two_hundred_simultaneous_requests_get_exactly_the_limit(strict, live_key):
    key, raw_key = live_key
    limiter = redis.Redis.from_url(strict.env["REDIS_URL"])
    limiter.flushdb()  # the burst's first request starts a fresh 60 s window
    prefix = f"t15-{uuid.uuid4().hex[:8]}-"

    answers = fire_burst(
        strict.base_url, 200,
        lambda client, i: client.post("/v2/enqueue", json=v2_trigger(raw_key, f"{prefix}{i}")),
        connections=16,
    )

    # One window counted all 200 (a new window would have restarted the count).
    assert int(limiter.get("vigil:rate:inbound-ip:127.0.0.1")) == 200, "the burst straddled two rate windows"
    statuses = [a.status for a in answers]
    tally = {status: statuses.count(status) for status in set(statuses)}
    assert tally == {202: LIMIT, 429: 200 - LIMIT}, tally
    refused = [a for a in answers if a.status == 429]
    assert all(1 <= int(a.headers["retry-after"]) <= 60 for a in refused)
    # Refused requests wrote nothing; every accepted one did.
    assert Event.objects.filter(integration_key=key, dedup_key__startswith=prefix).count() == LIMIT
    seconds = max(a.sent_at + a.seconds for a in answers)
    print(f"\nT15 200 requests over 16 connections in {seconds:.1f} s: {statuses.count(202)} x 202, "
          f"{statuses.count(429)} x 429")
