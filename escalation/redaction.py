"""How an address is shown where others can read it (timeline, admin lists, API answers,
logs). A leaf: the models and the channels both use it.

Some addresses are credentials themselves: a Web Push endpoint is a capability (whoever
holds it can push to that browser), an ntfy topic on a server without access control is
its own password, an apprise URL carries the provider's tokens (`tgram://bottoken/...`),
and an outgoing webhook's URL often is its own credential (Slack's and Teams' incoming
webhooks: whoever has the URL can post).
Those are shown as their scheme and, where the URL names a server, that server only."""

from __future__ import annotations

from urllib.parse import urlsplit

#: Kinds whose address must never be shown whole.
SECRET_ADDRESS_KINDS = frozenset({"push", "ntfy", "apprise", "webhook"})

#: apprise schemes whose host part is a server the user chose; in every other apprise
#: scheme the "host" is a token or an id (`tgram://bottoken/chat`, `discord://id/token`).
APPRISE_SERVER_SCHEMES = frozenset({
    "json", "jsons", "form", "forms", "xml", "xmls", "gotify", "gotifys", "ntfy", "ntfys",
    "matrix", "matrixs", "mmost", "mmosts", "rocket", "rockets", "apprise", "apprises",
})


def url_origin(url: str, *, host_is_server: bool = True) -> str:
    """'https://push.example.net/…': scheme and host, never userinfo, path or query."""
    if not host_is_server:
        return f"{url.partition('://')[0].lower() or '?'}://…"
    try:
        parts = urlsplit(url)
        host = parts.hostname or ""
        port = parts.port
    except ValueError:
        return "(unreadable URL)"
    scheme = parts.scheme.lower() or "?"
    if not host:
        return f"{scheme}://…"
    if ":" in host:
        host = f"[{host}]"
    return f"{scheme}://{host}{f':{port}' if port else ''}/…"


def shown_address(kind: str, address: str) -> str:
    if kind not in SECRET_ADDRESS_KINDS:
        return address
    if kind == "apprise":
        scheme = address.partition("://")[0].lower()
        return url_origin(address, host_is_server=scheme in APPRISE_SERVER_SCHEMES)
    return url_origin(address)
