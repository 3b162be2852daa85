"""Grafana alerting's webhook contact point (payload `version` "1"), natively.

The envelope is Alertmanager's plus `title`, `message`, `state`, `orgId`, and per alert
`dashboardURL`, `panelURL`, `silenceURL`, `imageURL`, `values` (may be null) and
`valueString`; so the per-alert rules are Alertmanager's (see alertmanager.py). The
contact point's Test button sends `alertname` TestAlert: logged as `test`, paging nobody."""

from collections.abc import Iterable

from integrations.formats.alertmanager import parse_notification
from integrations.formats.base import NormalizedEvent, link

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
