import pytest
import yaml
from django.template.loader import render_to_string

from integrations.formats import DOORS
from integrations.snippets import door_snippets

RAW = "ik_AbCdEfGhIjKlMnOpQrStUvWxYz012"
BASE = "https://vigil.example.org"


@pytest.fixture
def snippets():
    return {s["slug"]: s for s in door_snippets(RAW, BASE + "/")}


def test_every_door_has_a_snippet_with_title_language_and_text(snippets):
    # The doors of API.md keep theirs; a new door's spec adds its own.
    assert {"events-api", "pagerduty-client", "alertmanager", "alertmanager-pagerduty", "grafana", "eventapi",
            "pagertree", "temperstack", "spike", "change-events", "heartbeat"} <= set(snippets)
    assert set(snippets) == {snippet.slug for spec in DOORS for snippet in spec.snippets}
    assert len(snippets) == len(door_snippets(RAW, BASE))  # slugs are unique
    for snippet in snippets.values():
        assert snippet["title"] and snippet["language"] and RAW in snippet["text"]


@pytest.mark.parametrize("spec", DOORS, ids=[spec.slug for spec in DOORS])
def test_the_new_key_page_shows_how_to_reach_every_door(snippets, spec):
    """By the door's own snippets, or (Events API v1) by its URL in another door's."""
    texts = "\n".join(snippet["text"] for snippet in snippets.values())
    urls = [f"{BASE}/{door_path.route.replace('{key}', RAW)}" for door_path in spec.paths]
    assert spec.snippets or any(url in texts for url in urls)
    for declared in spec.snippets:
        text = snippets[declared.slug]["text"]
        assert RAW in text and BASE + "/" in text


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
