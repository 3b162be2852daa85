"""The REST API's JSON parser: JSON may carry `\\u0000` and lone surrogates (`\\ud800`), which
PostgreSQL's text and jsonb cannot store. DRF's CharField refuses them, but JSONField, list
and dict fields pass them on to a save that fails with a 500; refusing them at parse time
covers every serializer at once, with a 400 naming the field. (The doors do not use it:
they read the body themselves and keep such an alert, replacing the characters.)"""

from __future__ import annotations

from typing import Any

from rest_framework.exceptions import ParseError
from rest_framework.parsers import JSONParser

from config.input_guard import UNSTORABLE


def first_unstorable(value: Any, where: str = "") -> str | None:
    """The path (`rules.0.value`) of the first string or key that cannot be stored, or None."""
    stack = [(value, where)]
    while stack:
        item, path = stack.pop()
        if isinstance(item, str):
            if UNSTORABLE.search(item):
                return path or "(the body)"
        elif isinstance(item, dict):
            for key, child in item.items():
                shown = UNSTORABLE.sub("\ufffd", str(key))[:50]
                if UNSTORABLE.search(str(key)):
                    return f"{path}.{shown}" if path else shown
                stack.append((child, f"{path}.{shown}" if path else shown))
        elif isinstance(item, list):
            stack.extend((child, f"{path}.{i}" if path else str(i)) for i, child in enumerate(item))
    return None


class StorableJSONParser(JSONParser):
    def parse(self, stream, media_type=None, parser_context=None):
        data = super().parse(stream, media_type, parser_context)
        where = first_unstorable(data)
        if where is not None:
            raise ParseError(f"JSON parse error - '{where}' contains a NUL character or a lone surrogate")
        return data
