"""A key revoked in one process is refused by another on that one's very next request,
although the other remembers the key (integrations/key_cache.py): the revocation moves the
key generation in Redis once committed, and every door request reads the generation in its
preflight round trip. Two real processes: this one revokes through the model, as the portal,
the admin and the REST API do; a one-worker gunicorn serves the door."""

from __future__ import annotations

import time

import httpx
import pytest
from django.utils import timezone

from integrations import key_cache
from integrations.models import IntegrationKey
from tests.factories import make_key, make_team
from tests.reliability.harness import Gunicorn, django_env

pytestmark = [pytest.mark.timeout(120), pytest.mark.django_db(transaction=True)]

REVOCATION_REDIS_DB = 4
ROUNDS = 5


@pytest.fixture(scope="module")
def door_process(live_database_url, redis_server, reliability_dir):
    """One gunicorn worker (so every request meets the same memory) on our Redis."""
    server = Gunicorn(
        django_env(database_url=live_database_url, redis_url=redis_server.url(REVOCATION_REDIS_DB)),
        reliability_dir / "gunicorn-revocation.log", workers=1, threads=2,
    ).start()
    yield server
    server.stop()


@pytest.fixture
def door(door_process, redis_child, settings):
    """An HTTP client of the door process; this process announces key changes in the same Redis."""
    url = redis_child.url(REVOCATION_REDIS_DB)
    settings.REDIS_URL = url
    settings.CACHES = {"default": {**settings.CACHES["default"], "LOCATION": url}}
    with httpx.Client(base_url=door_process.base_url, timeout=10) as client:
        yield client


def trigger(door: httpx.Client, raw_key: str, dedup_key: str) -> httpx.Response:
    return door.post("/v2/enqueue", json={
        "routing_key": raw_key, "event_action": "trigger", "dedup_key": dedup_key,
        "payload": {"summary": "Disk full on srv01", "severity": "critical", "source": "srv01"},
    })


def remembered_then_changed(door: httpx.Client, change) -> tuple[httpx.Response, float]:
    """A fresh key used once (the door process reads it from the database and remembers
    it), `change`d here, then used again: that answer, and the seconds from the start of
    the first request to the end of the second (under TTL_SECONDS, the memory still holds
    the key: it was read during the first request)."""
    key, raw_key = make_key(team=make_team(f"Revocation {time.monotonic_ns()}"))
    began = time.monotonic()
    assert trigger(door, raw_key, "first").status_code == 202
    change(key)
    answer = trigger(door, raw_key, "next")
    return answer, time.monotonic() - began


def test_a_key_revoked_here_is_refused_there_on_the_very_next_request(door):
    answers = [remembered_then_changed(door, IntegrationKey.revoke) for _ in range(ROUNDS)]
    print(f"\nrevoked: {[(a.status_code, round(s * 1000)) for a, s in answers]} (status, ms)")
    for answer, _seconds in answers:
        assert answer.status_code == 400  # the Events API's answer to a key it does not know
        assert answer.json()["errors"] == ["Invalid routing key"]


def test_without_the_announcement_the_memory_would_have_answered(door):
    """The control: the same change made behind the model's back (a plain UPDATE: no
    signal, so the generation stays) is not seen until the memory's second is over, which
    shows the refusals above came from the generation and not from an empty memory."""

    def revoke_quietly(key: IntegrationKey) -> None:
        IntegrationKey.objects.filter(pk=key.pk).update(revoked_at=timezone.now())

    answers = [remembered_then_changed(door, revoke_quietly) for _ in range(ROUNDS)]
    print(f"\nrevoked quietly: {[(a.status_code, round(s * 1000)) for a, s in answers]} (status, ms)")
    within = [answer for answer, seconds in answers if seconds < key_cache.TTL_SECONDS]
    assert within, "no round finished within the memory's second: the machine is too slow to tell"
    assert {answer.status_code for answer in within} == {202}
