"""Grafana alerting's webhook contact point (payload `version` "1"), natively.

The envelope is Alertmanager's plus `title`, `message`, `state`, `orgId`, and per alert
`dashboardURL`, `panelURL`, `silenceURL`, `imageURL`, `values` (may be null) and
`valueString`; so the per-alert rules are Alertmanager's (see alertmanager.py). The
contact point's Test button sends `alertname` TestAlert: logged as `test`, paging nobody."""

from collections.abc import Iterable

from integrations.formats.alertmanager import parse_notification, resolved
from integrations.formats.base import NormalizedEvent, link
from integrations.formats.spec import (
    DoorPath,
    DoorSpec,
    Snippet,
    basic_password,
    batch_processed,
    bearer,
    path_key,
)

TEST_ALERTNAMES = ("TestAlert",)
URL_LINKS = (("dashboardURL", "Dashboard"), ("panelURL", "Panel"), ("silenceURL", "Silence"))
ENVELOPE_FIELDS = ("title", "state", "orgId", "message")


def enrich(alert: dict, event: NormalizedEvent) -> None:
    for name, label in URL_LINKS:
        made = link(alert.get(name), label)
        if made:
            event.links.append(made)
    image = alert.get("imageURL")
    if isinstance(image, str) and image.strip():
        event.images.append({"src": image.strip(), "href": "", "alt": event.summary})
    # Already kept with the other alert fields; named here because Grafana documents them.
    event.details.setdefault("values", alert.get("values"))
    event.details.setdefault("valueString", alert.get("valueString", ""))


def parse(
    body: dict, *, group_by_group_key: bool = False, watchdog_alertnames: Iterable[str] = ()
) -> list[NormalizedEvent]:
    return parse_notification(
        body,
        group_by_group_key=group_by_group_key,
        watchdog_alertnames=watchdog_alertnames,
        test_alertnames=TEST_ALERTNAMES,
        envelope_fields=ENVELOPE_FIELDS,
        default_source="grafana",
        enrich=enrich,
    )


# --- the door ---------------------------------------------------------------------------------

EXAMPLE = {
    "receiver": "Vigil",
    "status": "firing",
    "orgId": 1,
    "alerts": [
        {
            "status": "firing",
            "labels": {"alertname": "High memory usage", "team": "blue", "zone": "us-1"},
            "annotations": {
                "description": "The system has high memory usage",
                "runbook_url": "https://myrunbook.example/runbook/1234",
                "summary": "This alert was triggered for zone us-1",
            },
            "startsAt": "2021-10-12T09:51:03.157076+02:00",
            "endsAt": "0001-01-01T00:00:00Z",
            "generatorURL": "https://grafana.example/alerting/1afz29v7z/edit",
            "fingerprint": "c6eadffa33fcdf37",
            "silenceURL": "https://grafana.example/alerting/silence/new?alertmanager=grafana",
            "dashboardURL": "",
            "panelURL": "",
            "imageURL": "",
            "values": {"B": 44.23943737541908, "C": 1},
            "valueString": "[ var='B' labels={} value=44.2 ]",
        }
    ],
    "groupLabels": {},
    "commonLabels": {"team": "blue"},
    "commonAnnotations": {},
    "externalURL": "https://grafana.example/",
    "version": "1",
    "groupKey": "{}:{}",
    "truncatedAlerts": 0,
    "title": "[FIRING:1]  (blue)",
    "state": "alerting",
    "message": "**Firing**",
}


def contact_point_snippet(base: str, raw_key: str) -> str:
    return "\n".join([
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


DOOR = DoorSpec(
    slug="grafana",
    paths=(
        DoorPath("grafana", "api/integrations/grafana", {
            "post": "Grafana alerting webhook (native)",
            "put": "Grafana alerting webhook (native, PUT)",
        }),
        DoorPath("grafana-key", "api/integrations/grafana/{key}", {
            "post": "Grafana alerting webhook (native, key in the path)",
            "put": "Grafana alerting webhook (native, key in the path, PUT)",
        }, operation_id="grafana_ingest_key_in_path"),
    ),
    key_from=(path_key, bearer, basic_password),
    parse=parse,
    ok_status=200,
    ok_body=batch_processed,
    takes_key_options=True,
    request_schema="GrafanaRequest",
    ok_schema="BatchAccepted",
    example=EXAMPLE,
    resolve_example={**resolved(EXAMPLE), "state": "ok"},
    snippets=(Snippet("grafana", "Grafana contact point (webhook)", "yaml", contact_point_snippet),),
)
