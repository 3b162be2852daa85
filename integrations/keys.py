"""Integration keys: `ik_` + 29 base62 characters (32 in all, which PagerDuty-style senders
that check the length accept). Only the SHA-256 hex digest and a display prefix are stored."""

import hashlib
import re
import secrets
import string

KEY_PREFIX = "ik_"
RANDOM_LENGTH = 29
DISPLAY_PREFIX_LENGTH = 8
BASE62 = string.ascii_letters + string.digits

# Any string that looks like one of our keys, wherever it appears (a URL path, a body).
KEY_PATTERN = re.compile(r"ik_[A-Za-z0-9]{8,}")


def generate_raw_key() -> str:
    return KEY_PREFIX + "".join(secrets.choice(BASE62) for _ in range(RANDOM_LENGTH))


def digest(raw_key: str) -> str:
    return hashlib.sha256(raw_key.encode("utf-8")).hexdigest()


def display_prefix(raw_key: str) -> str:
    return raw_key[:DISPLAY_PREFIX_LENGTH]


def redact(text: str) -> str:
    return KEY_PATTERN.sub(lambda m: m.group(0)[:DISPLAY_PREFIX_LENGTH] + "…", text)
