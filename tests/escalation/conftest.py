"""Fixtures for the escalation tests: a real SMTP server (aiosmtpd), a clock that moves the
database clock the engine reads together with the app's clock, and Celery tasks run in
the calling thread (the broker is not what these tests are about; one test runs a real
worker and beat)."""

from __future__ import annotations

import email
import email.policy
import socket
import threading
import time
from dataclasses import dataclass
from datetime import UTC, datetime

import pytest
from aiosmtpd.controller import Controller
from django.utils import timezone

from escalation.engine import run_escalation_tick
from escalation.models import ContactMethod, EscalationPolicy, EscalationStep
from incidents.models import Incident
from oncall.models import Rotation, RotationParticipant, Schedule
from tests.factories import make_key, make_team, make_user


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass
class Mail:
    to: str
    subject: str
    text: str
    html: str
    received_at: float
    message_id: str = ""


class Inbox:
    """What the local SMTP server received, in order."""

    def __init__(self):
        self.mails: list[Mail] = []
        self._lock = threading.Lock()
        self._taken = 0

    async def handle_DATA(self, server, session, envelope):
        message = email.message_from_bytes(envelope.content, policy=email.policy.default)
        text = message.get_body(preferencelist=("plain",))
        html = message.get_body(preferencelist=("html",))
        with self._lock:
            for rcpt in envelope.rcpt_tos:
                self.mails.append(Mail(
                    to=rcpt, subject=str(message["subject"]),
                    text=text.get_content().replace("\r\n", "\n") if text else "",
                    html=html.get_content().replace("\r\n", "\n") if html else "",
                    received_at=time.monotonic(), message_id=str(message["message-id"]),
                ))
        return "250 Message accepted for delivery"

    def recipients(self) -> list[str]:
        with self._lock:
            return [m.to for m in self.mails]

    def take(self) -> list[str]:
        """Recipients received since the last take (the GoAlert-style 'and nothing else')."""
        with self._lock:
            taken = [m.to for m in self.mails[self._taken:]]
            self._taken = len(self.mails)
        return taken

    def wait_for(self, count: int, timeout: float) -> list[Mail]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self._lock:
                if len(self.mails) >= count:
                    return list(self.mails)
            time.sleep(0.05)
        raise TimeoutError(f"expected {count} mails within {timeout} s, got {self.recipients()}")


@pytest.fixture(autouse=True)
def fast_password_hashing(settings):
    """Test users get an MD5 password hash: PBKDF2's deliberate slowness is not under test."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture(autouse=True)
def empty_redis(settings):
    """Redis outlives the test database: counters from an earlier run (flapping detection is
    keyed by integration key id and dedup key, which repeat run after run) must not leak in."""
    import redis

    for url in {settings.REDIS_URL, getattr(settings, "FLAPPING_REDIS_URL", settings.REDIS_URL)}:
        client = redis.Redis.from_url(url, socket_timeout=2)
        client.flushdb()
        client.close()


@pytest.fixture
def smtp(settings):
    """A real SMTP server on a free loopback port; Django's SMTP backend sends to it."""
    inbox = Inbox()
    port = free_port()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST = "127.0.0.1"
    settings.EMAIL_PORT = port
    settings.EMAIL_USE_TLS = False
    settings.EMAIL_HOST_USER = ""
    settings.EMAIL_HOST_PASSWORD = ""
    inbox.port = port
    try:
        yield inbox
    finally:
        controller.stop()


class Clock:
    """Moves the database clock the engine reads (ESCALATION_CLOCK_OFFSET_SECONDS) and the
    app's clock (time-machine) together, so both agree on 'now'."""

    def __init__(self, settings, traveller):
        self.settings = settings
        self.traveller = traveller
        self.offset = 0

    def advance(self, minutes: float = 0, seconds: float = 0) -> None:
        delta = minutes * 60 + seconds
        self.offset += delta
        self.settings.ESCALATION_CLOCK_OFFSET_SECONDS = self.offset
        self.traveller.shift(delta)

    def to(self, minutes: float) -> None:
        """Go to `minutes` after the start of the test."""
        self.advance(seconds=minutes * 60 - self.offset)


@pytest.fixture
def clock(settings, time_machine):
    time_machine.move_to(datetime.now(UTC), tick=True)
    settings.ESCALATION_CLOCK_OFFSET_SECONDS = 0
    return Clock(settings, time_machine)


@pytest.fixture
def tasks_inline():
    """Celery tasks run in the caller's thread, errors raised (as `.delay()` would hand them
    to a worker): the code path is the production one, minus the broker hop."""
    from config.celery import app

    saved = app.conf.task_always_eager, app.conf.task_eager_propagates
    app.conf.task_always_eager, app.conf.task_eager_propagates = True, True
    yield
    app.conf.task_always_eager, app.conf.task_eager_propagates = saved


@pytest.fixture
def tick(django_capture_on_commit_callbacks, tasks_inline):
    """One beat tick, with its after-commit sends run (as they would be after a real commit)."""

    def run(now=None):
        with django_capture_on_commit_callbacks(execute=True):
            return run_escalation_tick(now)

    return run


@pytest.fixture
def committed(django_capture_on_commit_callbacks, tasks_inline):
    """Run `fn` and then its on-commit callbacks (the pipeline's enqueue, the resolve's
    recovery), as a real commit would."""

    def run(fn, *args, **kwargs):
        with django_capture_on_commit_callbacks(execute=True):
            return fn(*args, **kwargs)

    return run


def responder(name: str, team=None, **fields):
    user = make_user(name, team=team, **fields)
    ContactMethod.objects.create(user=user, kind=ContactMethod.Kind.EMAIL, address=f"{name}@example.com")
    return user


def add_step(policy: EscalationPolicy, delay_minutes: int, *, users=(), schedules=(), teams=()) -> EscalationStep:
    step = EscalationStep.objects.create(policy=policy, order=policy.steps.count(), delay_minutes=delay_minutes)
    step.users.set(users)
    step.schedules.set(schedules)
    step.teams.set(teams)
    return step


def due_incidents(key, count: int, label: str = "race") -> list[Incident]:
    """Incidents whose first step is due now and that nobody has advanced yet (as after a
    broker outage): rows written directly, as the pipeline writes them, no task enqueued."""
    now = timezone.now()
    return [
        Incident.objects.create(
            integration_key=key, team=key.team, summary=f"{label} {i}", dedup_key=f"{label}-{i}",
            escalation_policy=key.escalation_policy, next_escalation_at=now,
        )
        for i in range(count)
    ]


def always_on_call(user, team=None, name="Primary") -> Schedule:
    """A schedule whose one daily rotation has `user` only."""
    schedule = Schedule.objects.create(name=name, team=team, time_zone="UTC")
    rotation = Rotation.objects.create(
        schedule=schedule, shift_kind=Rotation.ShiftKind.DAILY, start=datetime(2020, 1, 1, tzinfo=UTC)
    )
    RotationParticipant.objects.create(rotation=rotation, user=user, position=0)
    return schedule


@pytest.fixture
def sre(db):
    return make_team("SRE on call")


@pytest.fixture
def people(sre):
    """alice, bob (step users) and carol (on call for the schedule of step 3)."""
    return {name: responder(name, team=sre) for name in ("alice", "bob", "carol")}


@pytest.fixture
def t21_policy(sre, people):
    """RELIABILITY T21: step 1 alice at 0, step 2 bob at +5, step 3 carol's schedule at +15,
    repeat once (10 minutes after the last step)."""
    policy = EscalationPolicy.objects.create(name="T21", team=sre, repeat_count=1, repeat_delay_minutes=10)
    add_step(policy, 0, users=[people["alice"]])
    add_step(policy, 5, users=[people["bob"]])
    add_step(policy, 10, schedules=[always_on_call(people["carol"], team=sre)])
    return policy


@pytest.fixture
def t21_key(sre, t21_policy):
    return make_key(team=sre, policy=t21_policy)[0]
