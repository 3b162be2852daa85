import pytest
import yaml
from django.template.loader import render_to_string

from integrations.snippets import door_snippets

RAW = "ik_AbCdEfGhIjKlMnOpQrStUvWxYz012"
BASE = "https://vigil.example.org"


@pytest.fixture
def snippets():
    return {s["slug"]: s for s in door_snippets(RAW, BASE + "/")}


def test_every_door_has_a_snippet_with_title_language_and_text(snippets):
    assert set(snippets) == {"events-api", "pagerduty-client", "alertmanager", "alertmanager-pagerduty",
                             "grafana", "eventapi", "pagertree", "temperstack", "spike", "change-events",
                             "heartbeat"}
    for snippet in snippets.values():
        assert snippet["title"] and snippet["language"] and RAW in snippet["text"]


def test_door_urls_carry_the_key_where_each_door_reads_it(snippets):
    assert snippets["pagertree"]["text"] == f"{BASE}/integration/{RAW}"
    assert snippets["temperstack"]["text"] == f"{BASE}/api/integration/webhook/{RAW}"
    assert snippets["spike"]["text"] == f"{BASE}/{RAW}/push-events"
    assert f"{BASE}/api/heartbeat/{RAW}" in snippets["heartbeat"]["text"]
    assert f"{BASE}/v2/enqueue" in snippets["pagerduty-client"]["text"]


def test_alertmanager_receiver_is_valid_yaml_with_bearer_credentials(snippets):
    config = yaml.safe_load(snippets["alertmanager"]["text"])
    [webhook] = config["receivers"][0]["webhook_configs"]
    assert webhook["url"] == f"{BASE}/api/integrations/alertmanager"
    assert webhook["http_config"]["authorization"] == {"type": "Bearer", "credentials": RAW}
    pagerduty = yaml.safe_load(snippets["alertmanager-pagerduty"]["text"])
    assert pagerduty["receivers"][0]["pagerduty_configs"][0]["url"] == f"{BASE}/v2/enqueue"


def test_grafana_contact_point_is_valid_provisioning_yaml(snippets):
    config = yaml.safe_load(snippets["grafana"]["text"])
    settings = config["contactPoints"][0]["receivers"][0]["settings"]
    assert settings["url"] == f"{BASE}/api/integrations/grafana"
    assert (settings["authorization_scheme"], settings["authorization_credentials"]) == ("Bearer", RAW)


def test_curl_snippets_post_json_to_their_door(snippets):
    assert f"'{BASE}/v2/enqueue'" in snippets["events-api"]["text"]
    assert f"Authorization: Bearer {RAW}" in snippets["eventapi"]["text"]
    assert f"'{BASE}/v2/change/enqueue'" in snippets["change-events"]["text"]


def test_ids_differ_between_keys_so_two_new_keys_can_share_a_page():
    a = {s["id"] for s in door_snippets(RAW, BASE)}
    b = {s["id"] for s in door_snippets(RAW[:-1] + "9", BASE)}
    assert not a & b


def test_partial_renders_each_snippet_escaped_with_a_copy_button():
    snippets = door_snippets(RAW, "https://vigil.example.org/<script>")
    html = render_to_string("integrations/_snippets.html", {"snippets": snippets})
    assert "<script>" not in html and "&lt;script&gt;" in html
    for snippet in snippets:
        assert f'<code id="{snippet["id"]}"' in html
        assert f'<button type="button" data-copy-target="{snippet["id"]}">Copy</button>' in html
    assert html.count("<pre><code") == len(snippets)
    assert "onclick" not in html
