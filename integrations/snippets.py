"""Ready-to-paste configuration for every door, shown once beside a new key (the only time
its raw value exists). Each door declares its snippets in its spec; each snippet here is
{id, slug, title, language, text}, which the template partial `integrations/_snippets.html`
renders, escaped, with a copy button each."""

from __future__ import annotations

from integrations import keys
from integrations.formats import DOORS

PLACEHOLDER_BASE_URL = "https://vigil.example.com"


def door_snippets(raw_key: str, base_url: str) -> list[dict]:
    base = (base_url or PLACEHOLDER_BASE_URL).rstrip("/")
    # Ids unique per key, so several new keys can share one page.
    suffix = keys.digest(raw_key)[:8]
    return [
        {
            "id": f"snippet-{snippet.slug}-{suffix}",
            "slug": snippet.slug,
            "title": snippet.title,
            "language": snippet.language,
            "text": snippet.text(base, raw_key),
        }
        for spec in DOORS
        for snippet in spec.snippets
    ]
