from integrations.formats import FORMATS
from tests.conftest import load_payload

parse = FORMATS["grafana"]


def test_documented_webhook_example_field_for_field():
    body = load_payload("grafana/grafana_docs_webhook_example.json")
    first, second = parse(body)
    assert (first.action, first.dedup_key) == ("trigger", "c6eadffa33fcdf37")
    assert first.summary == "This alert was triggered for zone us-1"
    assert second.summary == "This alert was triggered for zone eu-1"
    assert first.severity == "warning"  # no severity label
    assert first.labels == {"alertname": "High memory usage", "team": "blue", "zone": "us-1"}
    assert first.runbook == "https://myrunbook.com/runbook/1234"
    assert first.details["values"] == {"B": 44.23943737541908, "C": 1}
    assert first.details["startsAt"] == "2021-10-12T09:51:03.157076+02:00"
    texts = {link["text"]: link["href"] for link in first.links}
    assert texts["Source"] == "https://play.grafana.org/alerting/1afz29v7z/edit"
    assert texts["Silence"].startswith("https://play.grafana.org/alerting/silence/new")
    assert texts["Grafana"] == "https://play.grafana.org/"
    # Empty dashboard and panel URLs are no links.
    assert "Dashboard" not in texts and "Panel" not in texts
    assert first.details["title"] == "[FIRING:2]  (blue)"
    assert first.details["orgId"] == 1
    assert first.source == "grafana"


def test_alerting_test_payload_with_null_values():
    [event] = parse(load_payload("grafana/grafana_alerting_test_default_payload.json"))
    assert event.action == "trigger"
    assert event.summary == "alert1"
    assert event.details["values"] is None
    assert event.details["valueString"] == ""


def test_the_test_button_is_a_test_event():
    [event] = parse(load_payload("grafana/grafana_test_notification.json"))
    assert event.action == "test"
    assert event.summary == "Notification test"
    assert event.dedup_key == "57c6d9296de2ad39"


def test_image_url_is_an_image_and_dashboard_panel_urls_are_links():
    body = load_payload("grafana/grafana_docs_webhook_example.json")
    alert = body["alerts"][0]
    alert.update(dashboardURL="https://g.example/d/1", panelURL="https://g.example/d/1?viewPanel=2",
                 imageURL="https://g.example/render/1.png")
    event = parse(body)[0]
    texts = {link["text"]: link["href"] for link in event.links}
    assert texts["Dashboard"] == "https://g.example/d/1"
    assert texts["Panel"] == "https://g.example/d/1?viewPanel=2"
    assert event.images == [{"src": "https://g.example/render/1.png", "href": "", "alt": event.summary}]


def test_resolved_state():
    body = load_payload("grafana/grafana_docs_webhook_example.json")
    body["status"], body["state"] = "resolved", "ok"
    for alert in body["alerts"]:
        alert["status"] = "resolved"
    assert [e.action for e in parse(body)] == ["resolve", "resolve"]


def test_severity_label_uses_the_alertmanager_table():
    body = load_payload("grafana/grafana_docs_webhook_example.json")
    body["alerts"][0]["labels"]["severity"] = "page"
    assert parse(body)[0].severity == "critical"
