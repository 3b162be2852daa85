"""A local Web Push service (pytest-httpserver) and the browser side of a subscription.

`FakeBrowser` holds what a browser keeps for a push subscription: a P-256 key pair and a
16-byte auth secret (RFC 8291). `PushService.received()` decrypts every request Vigil sent
(aes128gcm, with `http_ece`, the library pywebpush itself encrypts with) and checks its
VAPID header (RFC 8292, with `py_vapid`), as a real push service and browser would."""

from __future__ import annotations

import base64
import json
import os
from dataclasses import dataclass

import http_ece
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from py_vapid import Vapid02


def b64url(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def unb64url(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


@dataclass
class VapidKeys:
    private: str  # raw 32-byte key, base64url (VAPID_PRIVATE_KEY)
    public: str  # uncompressed point, base64url (VAPID_PUBLIC_KEY, the applicationServerKey)


def make_vapid_keys() -> VapidKeys:
    vapid = Vapid02()
    vapid.generate_keys()
    private = vapid.private_key.private_numbers().private_value.to_bytes(32, "big")
    public = vapid.public_key.public_bytes(serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint)
    return VapidKeys(private=b64url(private), public=b64url(public))


class FakeBrowser:
    def __init__(self):
        self.private_key = ec.generate_private_key(ec.SECP256R1())
        self.auth = os.urandom(16)

    @property
    def p256dh(self) -> str:
        return b64url(self.private_key.public_key().public_bytes(
            serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint))

    def subscription(self, endpoint: str) -> dict:
        """What `PushSubscription.toJSON()` gives the page."""
        return {"endpoint": endpoint, "expirationTime": None, "keys": {"p256dh": self.p256dh, "auth": b64url(self.auth)}}

    def decrypt(self, body: bytes) -> dict:
        plain = http_ece.decrypt(body, private_key=self.private_key, auth_secret=self.auth, version="aes128gcm")
        return json.loads(plain)


@dataclass
class Push:
    path: str
    headers: dict
    payload: dict
    vapid_claims: dict


def vapid_claims(authorization: str, expected_public_key: str) -> dict:
    """The JWT claims, after checking the signature and that it was made with our key."""
    assert authorization.startswith("vapid t="), authorization
    assert Vapid02.verify(authorization), "the VAPID signature does not verify"
    parts = dict(part.split("=", 1) for part in authorization.split(" ", 1)[1].split(","))
    assert parts["k"] == expected_public_key
    return json.loads(unb64url(parts["t"].split(".")[1]))


def received(httpserver, browser: FakeBrowser, vapid_public_key: str) -> list[Push]:
    pushes = []
    for request, _response in httpserver.log:
        pushes.append(Push(
            path=request.path,
            headers=dict(request.headers),
            payload=browser.decrypt(request.get_data()),
            vapid_claims=vapid_claims(request.headers["Authorization"], vapid_public_key),
        ))
    return pushes
