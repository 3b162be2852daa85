import pytest
from django.test import Client

from oncall.models import TeamMembership
from tests.factories import make_incident, make_key, make_team, make_user


@pytest.fixture
def responder(team):
    return make_user("rita", team=team, first_name="Rita", last_name="Responder")


@pytest.fixture
def team_admin(team):
    return make_user("ada", team=team, role=TeamMembership.Role.ADMIN)


@pytest.fixture
def client_of():
    """A browser-like client signed in as the given user (CSRF checks on, as in a browser)."""

    def signed_in(user, *, enforce_csrf_checks=False):
        client = Client(enforce_csrf_checks=enforce_csrf_checks)
        client.force_login(user)
        return client

    return signed_in


@pytest.fixture
def web(client_of, responder):
    return client_of(responder)


@pytest.fixture
def other_team(db):
    return make_team("Payments")


@pytest.fixture
def other_key(other_team):
    return make_key(team=other_team, name="payments prod")[0]


@pytest.fixture
def other_incident(other_key):
    return make_incident(other_key, dedup_key="payments-down", summary="Payments API is down")


