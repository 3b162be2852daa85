"""Ready-to-paste configuration for every door, shown once beside a new key (the only time
its raw value exists). Each snippet is {id, slug, title, language, text}; the template
partial `integrations/_snippets.html` renders them, escaped, with a copy button each."""

from __future__ import annotations

import json

from integrations import keys

PLACEHOLDER_BASE_URL = "https://vigil.example.com"


def _json(value: dict) -> str:
    return json.dumps(value, indent=2)


def _curl(url: str, body: dict, *headers: str) -> str:
    lines = [f"curl -sS -X POST '{url}'", "  -H 'Content-Type: application/json'"]
    lines += [f"  -H '{header}'" for header in headers]
    # Single quotes around the JSON: none of its values carries a quote.
    lines.append("  -d '" + json.dumps(body) + "'")
    return " \\\n".join(lines)


def door_snippets(raw_key: str, base_url: str) -> list[dict]:
    base = (base_url or PLACEHOLDER_BASE_URL).rstrip("/")
    # Ids unique per key, so several new keys can share one page.
    suffix = keys.digest(raw_key)[:8]

    def snippet(slug: str, title: str, language: str, text: str) -> dict:
        return {"id": f"snippet-{slug}-{suffix}", "slug": slug, "title": title, "language": language, "text": text}

    events_api = _curl(
        f"{base}/v2/enqueue",
        {
            "routing_key": raw_key,
            "event_action": "trigger",
            "dedup_key": "vigil-test",
            "payload": {"summary": "Test alert from curl", "severity": "warning", "source": "curl"},
        },
    )
    alertmanager_webhook = "\n".join([
        "receivers:",
        "  - name: vigil",
        "    webhook_configs:",
        f"      - url: '{base}/api/integrations/alertmanager'",
        "        send_resolved: true",
        "        http_config:",
        "          authorization:",
        "            type: Bearer",
        f"            credentials: '{raw_key}'",
    ])
    alertmanager_pagerduty = "\n".join([
        "receivers:",
        "  - name: vigil-pagerduty",
        "    pagerduty_configs:",
        f"      - routing_key: '{raw_key}'",
        f"        url: '{base}/v2/enqueue'",
        "        send_resolved: true",
    ])
    grafana = "\n".join([
        "# Grafana: Alerting > Contact points > New contact point, integration Webhook:",
        f"#   URL {base}/api/integrations/grafana, HTTP method POST,",
        "#   Authorization header: scheme Bearer, credentials the key. Or provision it:",
        "apiVersion: 1",
        "contactPoints:",
        "  - orgId: 1",
        "    name: Vigil",
        "    receivers:",
        "      - uid: vigil",
        "        type: webhook",
        "        settings:",
        f"          url: '{base}/api/integrations/grafana'",
        "          httpMethod: POST",
        "          authorization_scheme: Bearer",
        f"          authorization_credentials: '{raw_key}'",
    ])
    eventapi = _curl(
        f"{base}/api/webhook/ingest",
        {"summary": "Test alert from curl", "severity": "medium", "labels": {"service": "api"}},
        f"Authorization: Bearer {raw_key}",
    )
    change = _curl(
        f"{base}/v2/change/enqueue",
        {"routing_key": raw_key, "payload": {"summary": "Deployed api v1.2.3", "source": "ci"}},
    )
    heartbeat = "\n".join([
        f"{base}/api/heartbeat/{raw_key}",
        "",
        "# For example, from cron every minute (set the key's heartbeat interval to match):",
        f"* * * * * curl -fsS -m 10 --retry 3 '{base}/api/heartbeat/{raw_key}' > /dev/null",
    ])
    return [
        snippet("events-api", "Events API (PagerDuty Events API v2 compatible), curl", "shell", events_api),
        snippet(
            "pagerduty-client",
            "PagerDuty clients: Events API base URL and routing key",
            "text",
            f"Events API v2 URL: {base}/v2/enqueue\n"
            f"Events API v1 URL: {base}/generic/2010-04-15/create_event.json\n"
            f"Base URL: {base}\nRouting key (service key): {raw_key}",
        ),
        snippet("alertmanager", "Prometheus Alertmanager receiver (alertmanager.yml)", "yaml", alertmanager_webhook),
        snippet(
            "alertmanager-pagerduty",
            "Alertmanager through its pagerduty_configs (alertmanager.yml)",
            "yaml",
            alertmanager_pagerduty,
        ),
        snippet("grafana", "Grafana contact point (webhook)", "yaml", grafana),
        snippet("eventapi", "EventAPI (bearer token), curl", "shell", eventapi),
        snippet("pagertree", "PagerTree webhook URL (Uptime Kuma, Apprise, LibreNMS)", "text",
                f"{base}/integration/{raw_key}"),
        snippet("temperstack", "Temperstack webhook URL", "text", f"{base}/api/integration/webhook/{raw_key}"),
        snippet("spike", "Spike webhook URL", "text", f"{base}/{raw_key}/push-events"),
        snippet("change-events", "Change events (deploys), curl", "shell", change),
        snippet("heartbeat", "Heartbeat URL (GET, HEAD or POST)", "shell", heartbeat),
    ]
