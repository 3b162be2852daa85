"""Door paths, one per path of each spec in `integrations.formats.DOORS`. Every path also
answers with a trailing slash: `(?:/)?` rather than `/?`, so the OpenAPI document shows the
path as API.md writes it."""

import re

from django.urls import re_path

from integrations.doors import Door
from integrations.formats import DOORS

SLASH = r"(?:/)?$"
PARAMETER = re.compile(r"\{(\w+)\}")


def pattern(route: str) -> str:
    # Routes hold letters, digits, `-`, `_`, `/`, `.`, `{key}` and other `{name}`s (one path
    # segment each): only the dot needs escaping.
    return "^" + PARAMETER.sub(r"(?P<\1>[^/]+)", route.replace(".", r"\.")) + SLASH


# A path that starts with the key (Spike's `/<key>/push-events`) matches one free segment:
# it goes last, so it shadows no other door.
DOOR_PATHS = sorted(
    ((spec, door_path) for spec in DOORS for door_path in spec.paths),
    key=lambda pair: pair[1].route.startswith("{key}"),
)

urlpatterns = [
    re_path(pattern(door_path.route), Door.for_path(spec, door_path), name=f"door-{door_path.name}")
    for spec, door_path in DOOR_PATHS
]
