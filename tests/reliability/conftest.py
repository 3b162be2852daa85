"""The reliability harness (RELIABILITY.md, "Harness"): our own redis-server and a real
gunicorn on random loopback ports, started once per session and torn down at the end.

The gunicorn serves pytest-django's test database, so tests marked
`django_db(transaction=True)` create keys with the ORM (committed, visible to gunicorn)
and check the outcome with the ORM; the flush after each such test empties the tables."""

from __future__ import annotations

import time

import httpx
import pytest
from django.db import connection

from tests.factories import make_key, make_team
from tests.reliability.harness import Gunicorn, OutageStack, RedisServer, django_env, wait_until


@pytest.fixture(scope="session")
def reliability_dir(tmp_path_factory):
    return tmp_path_factory.mktemp("reliability")


@pytest.fixture(scope="session")
def redis_server(reliability_dir):
    server = RedisServer(reliability_dir / "redis").start()
    yield server
    server.stop()


@pytest.fixture
def redis_child(redis_server):
    """Our redis-server, answering at the start of the test and again after it, whatever
    fault the test injected (hung or killed)."""

    def heal() -> None:
        if redis_server.proc.poll() is not None:
            redis_server.start()
        else:
            redis_server.resume()
        wait_until(redis_server.ping, timeout=10, what="redis to answer again")

    heal()
    yield redis_server
    heal()


def _database_url(settings_dict: dict) -> str:
    user = settings_dict.get("USER") or "postgres"
    host = settings_dict.get("HOST") or "127.0.0.1"
    port = settings_dict.get("PORT") or 5432
    return f"postgres://{user}@{host}:{port}/{settings_dict['NAME']}"


@pytest.fixture(scope="session")
def live_database_url(django_db_setup, django_db_blocker):
    """pytest-django's test database (already migrated), as a URL for child processes."""
    with django_db_blocker.unblock():
        return _database_url(connection.settings_dict)


def _backends_of_others(django_db_blocker) -> int:
    with django_db_blocker.unblock(), connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
            "AND pid <> pg_backend_pid()"
        )
        return cursor.fetchone()[0]


@pytest.fixture(scope="session")
def gunicorn(live_database_url, redis_server, reliability_dir, django_db_blocker):
    server = Gunicorn(
        django_env(database_url=live_database_url, redis_url=redis_server.url(0), LOG_LEVEL="DEBUG"),
        reliability_dir / "gunicorn.log",
    ).start()
    yield server
    server.stop()
    # pytest-django drops the test database next: wait until gunicorn's connections are gone.
    wait_until(lambda: _backends_of_others(django_db_blocker) == 0, timeout=10,
               what="gunicorn's database connections to close")


@pytest.fixture
def live(gunicorn, redis_child):
    """An HTTP client for the session's gunicorn, with our Redis answering."""
    with httpx.Client(base_url=gunicorn.base_url, timeout=10) as client:
        yield client
    # A test must leave the server serving: the next one relies on it.
    assert gunicorn.healthy(), "gunicorn stopped answering /healthz"


@pytest.fixture
def live_key(transactional_db):
    """A committed integration key (gunicorn sees it) and its raw secret."""
    return make_key(team=make_team(f"Reliability {time.monotonic_ns()}"))


@pytest.fixture(scope="session")
def outage_stack(redis_server, reliability_dir):
    """Our own PostgreSQL cluster under its own gunicorn (T10, T12)."""
    stack = OutageStack(redis_server.url(1), reliability_dir / "gunicorn-outage.log")
    try:
        yield stack.start()
    finally:
        stack.stop()


@pytest.fixture
def outage(outage_stack, redis_child):
    """The outage stack with its database and our Redis running, before and after the test."""
    outage_stack.ensure_database_running()
    yield outage_stack
    outage_stack.ensure_database_running()
