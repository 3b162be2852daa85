"""Columns that hold a secret Vigil must use in plain form (a Slack webhook URL, an ntfy
token, a push subscription's keys, a webhook signing secret): encrypted at rest with
Fernet (AES-128-CBC + HMAC-SHA256, from `cryptography`). A leaf: models use it, it uses
only settings.

Keys: each entry of FIELD_ENCRYPTION_KEY (comma-separated) is stretched with HKDF into a
Fernet key; the first encrypts, every one decrypts (MultiFernet), so a new key goes first,
`manage.py rotate_field_encryption` re-encrypts every row, then the old one is dropped.
With FIELD_ENCRYPTION_KEY unset the key comes from SECRET_KEY (and SECRET_KEY_FALLBACKS
decrypt), so a fresh install needs nothing more, but rotating SECRET_KEY then needs the old
one kept in SECRET_KEY_FALLBACKS until the command has run.

A Fernet token differs on every write, so an encrypted column cannot be compared in SQL:
lookups other than isnull are refused (a FieldError, not an empty result), and a column
that must be found by value keeps a keyed digest beside it (`lookup_digest`)."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from functools import lru_cache

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.db import models


def _derive(material: str, info: bytes) -> bytes:
    # HKDF, not a bare hash: one secret gives independent keys for encryption and digests.
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=info).derive(material.encode())


def _key_material() -> list[str]:
    keys = list(getattr(settings, "FIELD_ENCRYPTION_KEY", []) or [])
    if keys:
        return keys
    return [settings.SECRET_KEY, *getattr(settings, "SECRET_KEY_FALLBACKS", [])]


@lru_cache(maxsize=4)
def _fernet(materials: tuple[str, ...]) -> MultiFernet:
    if not materials or not materials[0]:
        raise ImproperlyConfigured("FIELD_ENCRYPTION_KEY (or SECRET_KEY) is empty")
    return MultiFernet([Fernet(base64.urlsafe_b64encode(_derive(m, b"vigil field encryption")))
                        for m in materials])


def fernet() -> MultiFernet:
    """Cached per key list, so a settings change in a test is honoured."""
    return _fernet(tuple(_key_material()))


def encrypt(text: str) -> str:
    return fernet().encrypt(text.encode()).decode("ascii")


def decrypt(token: str) -> str:
    """Raises InvalidToken when no configured key opens it: never hands back ciphertext
    as if it were the value."""
    return fernet().decrypt(token.encode("ascii")).decode()


def is_encrypted(value: str) -> bool:
    try:
        decrypt(value)
    except (InvalidToken, UnicodeError, ValueError):
        return False
    return True


def lookup_digest(value: str) -> str:
    """A keyed digest for finding a row by an encrypted value (HMAC-SHA256 under a key
    derived from the first encryption key; the rotation command recomputes it)."""
    key = _derive(_key_material()[0], b"vigil lookup digest")
    return hmac.new(key, value.encode(), hashlib.sha256).hexdigest()


class Sealed(str):
    """A token `encrypt` made, which an encrypted text field stores as it is. For one secret
    copied into many rows written together (a page's contact address, into every page row of
    that contact method in a tick's batch): one encryption for all of them instead of one
    each. The token is no weaker (same key, same Fernet); what the rows sharing it reveal,
    that their plain values are equal, their shared contact method id already says."""


def seal(text: str) -> Sealed:
    return Sealed(encrypt(text))


class EncryptedTextField(models.TextField):
    """Text stored as a Fernet token. `max_length` still bounds what forms and serializers
    accept (the token itself is longer, so the column is text)."""

    def get_prep_value(self, value):
        if isinstance(value, Sealed):
            return str(value)
        value = super().get_prep_value(value)
        return None if value is None else encrypt(value)

    def from_db_value(self, value, expression, connection):
        return None if value is None else decrypt(value)

    def get_lookup(self, lookup_name):
        # `address=...` against ciphertext would silently match nothing.
        return super().get_lookup(lookup_name) if lookup_name == "isnull" else None

    def get_transform(self, name):
        return None


class EncryptedJSONField(EncryptedTextField):
    """A small JSON object (dict) stored as one Fernet token."""

    def get_prep_value(self, value):
        if value is None:
            return None
        return encrypt(json.dumps(value, sort_keys=True))

    def from_db_value(self, value, expression, connection):
        return None if value is None else json.loads(decrypt(value))

    def to_python(self, value):
        if isinstance(value, str):
            return json.loads(value)
        return value

    def value_to_string(self, obj):
        return json.dumps(self.value_from_object(obj))
