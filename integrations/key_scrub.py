"""A body that carries its own key (RELIABILITY T50): the presented key, however the body
wrote it, never reaches a stored or displayed field.

A sender may repeat its key anywhere: in `details`, in a label, in the title, and JSON lets
it escape any character (`"\\u0069k_..."`), which authenticates like the plain key. The door
knows the plaintext key it authenticated; `hide_in_body` replaces every occurrence in the raw
body, plain or escaped, by the key's display prefix, and says whether there was one;
`hide_in` then walks what the format parsed (events, their dicts' keys and values, lists,
error messages). Both are cheap when the key is absent, as it is in nearly every request: a
substring check, and a regex only when the body holds a `\\u` escape at all.

Pure (standard library only): the door calls it, and so may anything else holding a key."""

from __future__ import annotations

import dataclasses
import re
from typing import Any

from integrations.keys import display_prefix


def shown_as(raw_key: str) -> str:
    """What stands in for the key: its display prefix, as the key's own pages show it."""
    return display_prefix(raw_key) + "…"


def _escaped(raw_key: str) -> re.Pattern[bytes]:
    """The key with each character either itself or its JSON `\\u00XX` escape."""
    parts = []
    for char in raw_key:
        high, low = f"{ord(char):04x}"[2], f"{ord(char):04x}"[3]
        hex_low = f"[{low.lower()}{low.upper()}]" if low.isalpha() else low
        hex_high = f"[{high.lower()}{high.upper()}]" if high.isalpha() else high
        parts.append(rf"(?:{re.escape(char)}|\\u00{hex_high}{hex_low})")
    return re.compile("".join(parts).encode("ascii"))


def hide_in_body(raw: bytes, raw_key: str | None) -> tuple[bytes, bool]:
    """(the body with every occurrence of the key replaced by `shown_as`, whether it had one)."""
    key = (raw_key or "").strip()
    if not key or not key.isascii():
        return raw, False
    replacement = shown_as(key).encode("utf-8")
    needle = key.encode("ascii")
    found = needle in raw
    if found:
        raw = raw.replace(needle, replacement)
    if b"\\u" in raw:
        raw, escaped = _escaped(key).subn(replacement, raw)
        found = found or escaped > 0
    return raw, found


def hide_in(value: Any, raw_key: str) -> Any:
    """`value` with the key replaced in every string: dataclass fields (a parsed event), dict
    keys and values, list and tuple items. Anything else is returned as it is."""
    key = raw_key.strip()
    replacement = shown_as(key)

    def walk(item: Any) -> Any:
        if isinstance(item, str):
            return item.replace(key, replacement) if key in item else item
        if isinstance(item, dict):
            return {walk(k): walk(v) for k, v in item.items()}
        if isinstance(item, list | tuple):
            return type(item)(walk(v) for v in item)
        if dataclasses.is_dataclass(item) and not isinstance(item, type):
            return dataclasses.replace(item, **{f.name: walk(getattr(item, f.name))
                                                for f in dataclasses.fields(item) if f.init})
        return item

    return walk(value)
