"""One registry of wire formats: slug -> parse(body) -> list[NormalizedEvent].

Formats whose answer depends on a key option (Alertmanager, Grafana) take it as a keyword
argument; their doors pass it, and the defaults give the plain behaviour."""

from integrations.formats import (
    alertmanager,
    change_events,
    eventapi,
    events_v1,
    events_v2,
    grafana,
    heartbeat,
    pagertree,
    spike,
    temperstack,
)

FORMATS = {
    "events_v2": events_v2.parse,
    "events_v1": events_v1.parse,
    "change_events": change_events.parse,
    "eventapi": eventapi.parse,
    "pagertree": pagertree.parse,
    "temperstack": temperstack.parse,
    "spike": spike.parse,
    "alertmanager": alertmanager.parse,
    "grafana": grafana.parse,
    "heartbeat": heartbeat.parse,
}
