"""The key page's grouping and flapping settings (issue 14 item 4), and the per-key
flapping limits the pipeline now reads from the key row (falling back to the settings)."""

import pytest

from incidents.models import Incident
from tests.incidents.noise_helpers import closing, ingest, reset_noise_state, trigger

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def no_flapping_left():
    reset_noise_state()
    yield
    reset_noise_state()


def settings_data(**overrides) -> dict:
    data = {"grouping_type": "time_window", "grouping_window_seconds": "120", "grouping_labels": "cluster, service",
            "flapping_threshold": "2", "flapping_window_seconds": "300"}
    data.update(overrides)
    return data


def test_an_admin_edits_grouping_and_flapping_on_the_key_page(client_of, team_admin, key):
    web = client_of(team_admin)
    page = web.get(f"/integrations/{key.pk}/").content.decode()
    assert 'id="key-noise-form"' in page and 'placeholder="default 5"' in page
    response = web.post(f"/integrations/{key.pk}/noise/", settings_data(group_by_alertmanager_group_key="on"))
    assert response.status_code == 302 and response.url == f"/integrations/{key.pk}/#noise-settings"
    key.refresh_from_db()
    assert (key.grouping_type, key.grouping_window_seconds, key.grouping_labels) == (
        "time_window", 120, ["cluster", "service"])
    assert (key.flapping_threshold, key.flapping_window_seconds, key.group_by_alertmanager_group_key) == (2, 300, True)
    # Empty flapping fields go back to the defaults.
    web.post(f"/integrations/{key.pk}/noise/", settings_data(flapping_threshold="", flapping_window_seconds=""))
    key.refresh_from_db()
    assert key.flapping_threshold is None and key.flapping_window_seconds is None


def test_out_of_range_values_are_refused_like_the_rest_api(client_of, team_admin, key):
    web = client_of(team_admin)
    response = web.post(f"/integrations/{key.pk}/noise/", settings_data(flapping_window_seconds="999999"))
    assert response.status_code == 400 and "less than or equal to 86400" in response.content.decode()
    api = web.patch(f"/api/v1/integration-keys/{key.pk}/", {"flapping_window_seconds": 999999},
                    content_type="application/json")
    assert api.status_code == 400 and "86400" in api.json()["flapping_window_seconds"][0]
    key.refresh_from_db()
    assert key.flapping_window_seconds is None


def test_a_responder_sees_the_settings_read_only_and_gets_403_on_save(web, key):
    page = web.get(f"/integrations/{key.pk}/").content.decode()
    assert 'id="key-noise-form"' not in page and "more than 5 changes in 600 s" in page
    assert web.post(f"/integrations/{key.pk}/noise/", settings_data()).status_code == 403
    key.refresh_from_db()
    assert key.grouping_type == "none"


def test_another_teams_key_is_404(client_of, team_admin, other_key):
    assert client_of(team_admin).post(f"/integrations/{other_key.pk}/noise/", settings_data()).status_code == 404


def test_the_keys_flapping_threshold_overrides_the_setting(key, settings, django_capture_on_commit_callbacks):
    """FLAPPING_THRESHOLD is 5 here; the key's own threshold of 2 marks the third change."""
    settings.FLAPPING_THRESHOLD = 5
    key.flapping_threshold = 2
    key.save()
    with django_capture_on_commit_callbacks():
        ingest(key, trigger("flappy"))
        ingest(key, closing("resolve", "flappy"))
        third = ingest(key, trigger("flappy"))
    assert "flapping" in third.reason
    assert Incident.objects.get(pk=third.incident_id).is_flapping


def test_without_its_own_limits_a_key_uses_the_setting(key, settings, django_capture_on_commit_callbacks):
    settings.FLAPPING_THRESHOLD = 5
    with django_capture_on_commit_callbacks():
        ingest(key, trigger("steady"))
        ingest(key, closing("resolve", "steady"))
        third = ingest(key, trigger("steady"))
    assert not Incident.objects.get(pk=third.incident_id).is_flapping


def test_per_key_limits_cost_no_query_on_the_hot_path(key, django_assert_num_queries):
    """The limits are read from the key row ingest already holds: the same queries as before."""
    from incidents.noise import flapping

    key.flapping_threshold, key.flapping_window_seconds = 3, 120
    with django_assert_num_queries(0):
        limits = flapping.limits_of(key)
    assert (limits.threshold, limits.window_seconds) == (3, 120)
