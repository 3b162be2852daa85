"""Outgoing webhooks, guarded against server-side request forgery.

A webhook URL is typed by a user, so the worker must never be turned into a way to reach
the loopback, the private network or a cloud metadata service. The rule (RELIABILITY T40):
only http(s); every address the host resolves to must be global and not multicast
(`ipaddress.is_private` misses 100.64.0.0/10, `is_global` does not); the connection goes to
the address that was checked (pinned), so a DNS answer that changes between the check and
the connect cannot slip through; redirects are not followed. The check runs at save and
again at send."""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from urllib.parse import urlsplit

import httpx
from django.conf import settings

ALLOWED_SCHEMES = {"http", "https"}


class UnsafeURL(ValueError):
    """The URL may not be called: wrong scheme, unresolvable, or not a public address."""


class WebhookError(Exception):
    """The target answered badly or not at all."""


@dataclass(frozen=True)
class CheckedURL:
    url: str
    scheme: str
    host: str
    port: int
    addresses: tuple[str, ...]


def _allow_private() -> bool:
    # Only tests (pytest-httpserver on 127.0.0.1) turn this on.
    return settings.ESCALATION_WEBHOOK_ALLOW_PRIVATE


# IPv6 forms that carry an IPv4 address (RELIABILITY T49). Python calls most of them
# global, yet a NAT64 gateway or a 6to4/Teredo relay delivers them to the IPv4 inside:
# 64:ff9b::7f00:1 reaches 127.0.0.1, 64:ff9b::a9fe:a9fe the metadata service.
NAT64_WELL_KNOWN = ipaddress.ip_network("64:ff9b::/96")        # RFC 6052: IPv4 in the last 32 bits
# RFC 8215 local-use NAT64: the operator picks the prefix length, so where the IPv4 sits is
# unknown; it is never a public destination, so it is refused whole.
NAT64_LOCAL_USE = ipaddress.ip_network("64:ff9b:1::/48")
# RFC 4291 IPv4-compatible (deprecated, never routed as such): refused whole, as :: and ::1 are.
IPV4_COMPATIBLE = ipaddress.ip_network("::/96")


def embedded_ipv4(ip: ipaddress.IPv6Address) -> list[ipaddress.IPv4Address]:
    """The IPv4 addresses an IPv6 address carries: IPv4-mapped, NAT64 (64:ff9b::/96),
    6to4 (2002::/16) and Teredo (2001::/32: its server and its XOR-ed client)."""
    found = []
    if ip.ipv4_mapped is not None:
        found.append(ip.ipv4_mapped)
    if ip in NAT64_WELL_KNOWN:
        found.append(ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF))
    if ip.sixtofour is not None:
        found.append(ip.sixtofour)
    if ip.teredo is not None:
        found.extend(ip.teredo)  # (server, client); the stdlib undoes the client's XOR
    return found


def _forbidden_ip(ip: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
    return (not ip.is_global) or ip.is_multicast


def is_forbidden_address(address: str) -> bool:
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address):
        if ip in NAT64_LOCAL_USE or ip in IPV4_COMPATIBLE:
            return True
        if any(_forbidden_ip(inner) for inner in embedded_ipv4(ip)):
            return True
        if ip.ipv4_mapped is not None:
            return False  # judged by its IPv4 address above (::ffff:8.8.8.8 is 8.8.8.8)
    return _forbidden_ip(ip)


def resolve(host: str, port: int) -> list[str]:
    """Every address `host` resolves to (an IP literal resolves to itself)."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError) as exc:
        raise UnsafeURL(f"cannot resolve {host!r}: {exc}") from None
    addresses: list[str] = []
    for _family, _type, _proto, _canon, sockaddr in infos:
        if sockaddr[0] not in addresses:
            addresses.append(sockaddr[0])
    if not addresses:
        raise UnsafeURL(f"{host!r} resolves to no address")
    return addresses


def check_webhook_url(url: str) -> CheckedURL:
    """Raise UnsafeURL unless `url` is http(s) and every address of its host is public."""
    if not isinstance(url, str) or not url.strip():
        raise UnsafeURL("a webhook URL is required")
    if any(ch.isspace() for ch in url) or len(url) > 500:
        raise UnsafeURL("the URL must be at most 500 characters, without spaces")
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise UnsafeURL(f"not a valid URL: {exc}") from None
    scheme = parts.scheme.lower()
    if scheme not in ALLOWED_SCHEMES:
        raise UnsafeURL("only http and https webhook URLs are allowed")
    host = parts.hostname
    if not host:
        raise UnsafeURL("the URL has no host")
    if parts.username or parts.password:
        raise UnsafeURL("credentials in the URL are not allowed; use a token in the path or query")
    port = port or (443 if scheme == "https" else 80)
    addresses = resolve(host, port)
    if not _allow_private():
        bad = [a for a in addresses if is_forbidden_address(a)]
        if bad:
            raise UnsafeURL(f"{host} resolves to a non-public address ({', '.join(bad)})")
    return CheckedURL(url=url, scheme=scheme, host=host, port=port, addresses=tuple(addresses))


def _pinned_request(checked: CheckedURL, body: dict | None, headers: dict | None = None, *,
                    content: bytes | None = None) -> httpx.Request:
    """A request to the checked address itself; Host header and TLS name stay the original
    host, so virtual hosts and certificate checks still work."""
    address = checked.addresses[0]
    url = httpx.URL(checked.url).copy_with(host=address)
    host_header = checked.host if ":" not in checked.host else f"[{checked.host}]"
    default_port = 443 if checked.scheme == "https" else 80
    if checked.port != default_port:
        host_header = f"{host_header}:{checked.port}"
    extensions = {"sni_hostname": checked.host} if checked.scheme == "https" else {}
    body_args = {"content": content} if content is not None else {"json": body}
    return httpx.Request(
        "POST",
        url,
        **body_args,
        headers={"User-Agent": "Vigil-Webhook/1.0", **(headers or {}), "Host": host_header},
        extensions=extensions,
    )


def _run(coroutine):
    """asyncio.run, which refuses to start inside a running event loop: a caller already in
    one (a host that runs an async loop in this thread, as Playwright's sync API does in the
    browser tests) gets the send on a short-lived thread of its own."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(coroutine)
    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(asyncio.run, coroutine).result()


async def _post(request: httpx.Request) -> int:
    async with httpx.AsyncClient(follow_redirects=False, trust_env=False) as client:
        response = await client.send(request, stream=True)
        await response.aclose()  # the body is not needed, and may be endless
        return response.status_code


def post(url: str, *, json: dict | None = None, content: bytes | None = None,
         headers: dict | None = None) -> int:
    """POST to a checked, pinned address within one total deadline and return the status
    code, whatever it is (redirects are not followed). Raises UnsafeURL, or WebhookError
    when there is no answer (its message never repeats the URL: for push endpoints and ntfy
    topics the URL itself is a secret)."""
    checked = check_webhook_url(url)
    deadline = float(settings.ESCALATION_WEBHOOK_TIMEOUT_SECONDS)
    request = _pinned_request(checked, json, headers, content=content)
    try:
        # A total deadline, not per-read timeouts: a target that trickles bytes must not
        # hold a worker longer than this.
        return _run(asyncio.wait_for(_post(request), timeout=deadline))
    except TimeoutError:
        raise WebhookError(f"no answer within {deadline:g} s") from None
    except httpx.HTTPError as exc:
        raise WebhookError(f"{type(exc).__name__}: {exc}") from None


def post_bytes(url: str, content: bytes, headers: dict) -> int:
    """POST JSON already serialised (a signature covers these exact bytes) to a checked,
    pinned address within one total deadline. Raises UnsafeURL or WebhookError; returns the
    2xx status code."""
    return check_status(post(url, content=content, headers={"Content-Type": "application/json", **headers}))


def check_status(status: int) -> int:
    if 300 <= status < 400:
        raise WebhookError(f"HTTP {status}: redirects are not followed")
    if not 200 <= status < 300:
        raise WebhookError(f"HTTP {status}")
    return status
