"""One registry of wire formats: slug -> parse(body) -> list[NormalizedEvent]."""

from integrations.formats import events_v2

FORMATS = {
    "events_v2": events_v2.parse,
}
