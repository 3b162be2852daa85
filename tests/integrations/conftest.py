import itertools
import secrets

import pytest
from rest_framework.test import APIClient

_senders = itertools.count(1)
# One random block per run, so runs a few seconds apart never share a rate-limit bucket.
_RUN_BLOCK = secrets.randbelow(0xFFFF)


@pytest.fixture
def sender_ip():
    """A client address of the IPv6 documentation range, unique to this test."""
    return f"2001:db8:{_RUN_BLOCK:x}::{next(_senders):x}"


@pytest.fixture
def api(sender_ip):
    """Each test is its own sender: the per-IP rate limit (a real Redis counter) counts only
    this test's requests, as it would for one monitoring host."""
    return APIClient(REMOTE_ADDR=sender_ip)
