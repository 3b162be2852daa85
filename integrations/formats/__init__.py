"""The one list of doors, and the registry of wire formats derived from it.

Every module of this package that declares a `DOOR` is a door: URLs, the OpenAPI
document, the new-key snippets and the test tables all read `DOORS`, so a new format is
its module (parser + `DOOR`), its payloads and its tests, and nothing else. The order
(module name) only sets the order of the snippets; the URL list puts key-first paths last."""

import importlib
import pkgutil

from integrations.formats.spec import DoorSpec


def _declared_doors() -> list[DoorSpec]:
    modules = (importlib.import_module(f"{__name__}.{info.name}") for info in pkgutil.iter_modules(__path__))
    return [module.DOOR for module in modules if isinstance(getattr(module, "DOOR", None), DoorSpec)]


DOORS: list[DoorSpec] = _declared_doors()

#: slug -> parse(body) -> list[NormalizedEvent]. Formats whose answer depends on a key
#: option (Alertmanager, Grafana) take it as keyword arguments; the defaults give the plain
#: behaviour.
FORMATS = {door.slug: door.parse for door in DOORS}
