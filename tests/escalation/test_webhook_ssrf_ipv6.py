"""RELIABILITY T49: IPv6 forms that carry an IPv4 address are judged by that IPv4 address.

Python calls 64:ff9b::7f00:1 global, but on a NAT64 network it reaches 127.0.0.1; 6to4 and
Teredo relays, IPv4-mapped and IPv4-compatible forms do the same. Every channel with a
user-given URL (webhook, ntfy, apprise, push) refuses them at save (the one address check,
the REST API, the Profile page, the admin, the push subscription) and at send (the address
is checked again after resolving, before any connection)."""

from __future__ import annotations

import pytest
from django.test import Client

from escalation.channels import check_contact_address
from escalation.engine import advance_escalation
from escalation.fields import lookup_digest
from escalation.models import ContactMethod, Notification
from escalation.notify import send_notification
from escalation.webhooks import embedded_ipv4, is_forbidden_address
from tests.escalation.push_service import FakeBrowser, make_vapid_keys
from tests.factories import api_client_for, make_incident, make_user

pytestmark = pytest.mark.django_db

# (address, what it reaches)
EMBEDDING = [
    ("64:ff9b::7f00:1", "NAT64 of 127.0.0.1"),
    ("64:ff9b::a9fe:a9fe", "NAT64 of 169.254.169.254 (cloud metadata)"),
    ("64:ff9b::a00:5", "NAT64 of 10.0.0.5"),
    ("64:ff9b:1::a00:5", "local-use NAT64 (RFC 8215)"),
    ("64:ff9b:1:0:a:0:5:0", "local-use NAT64 with a /64 prefix"),
    ("2002:7f00:1::", "6to4 of 127.0.0.1"),
    ("2002:a9fe:a9fe::1", "6to4 of 169.254.169.254"),
    ("2001:0:4136:e378:8000:63bf:80ff:fffe", "Teredo, client 127.0.0.1 (XOR-ed)"),
    ("2001:0:a00:5:0:0:f5ff:fffa", "Teredo, server 10.0.0.5, client 10.0.0.5"),
    ("::127.0.0.1", "IPv4-compatible 127.0.0.1"),
    ("::a9fe:a9fe", "IPv4-compatible 169.254.169.254"),
    ("::8.8.8.8", "IPv4-compatible (deprecated, never routed)"),
    ("::ffff:127.0.0.1", "IPv4-mapped 127.0.0.1"),
    ("::ffff:a9fe:a9fe", "IPv4-mapped 169.254.169.254"),
]
ADDRESSES = [a for a, _ in EMBEDDING]

# The channels whose address is a URL the user chose, with that URL built around a host.
URL_KINDS = {
    "webhook": "http://{host}/hook",
    "ntfy": "http://{host}/vigil-pages",
    "apprise": "json://{host}/notify",
    "push": "https://{host}/wpush/v2/capability",
}


def bracketed(address: str) -> str:
    return f"[{address}]"


@pytest.mark.parametrize(("address", "reaches"), EMBEDDING, ids=ADDRESSES)
def test_an_ipv6_address_carrying_a_private_ipv4_is_forbidden(address, reaches):
    assert is_forbidden_address(address), reaches


@pytest.mark.parametrize("address", ["64:ff9b::808:808", "2002:808:808::1", "::ffff:8.8.8.8", "2606:4700:4700::1111"])
def test_forms_carrying_a_public_ipv4_and_plain_public_ipv6_stay_allowed(address):
    assert not is_forbidden_address(address)


def test_the_embedded_ipv4_addresses_are_read_out():
    import ipaddress

    def ips(text):
        return [str(ip) for ip in embedded_ipv4(ipaddress.IPv6Address(text))]

    assert ips("64:ff9b::7f00:1") == ["127.0.0.1"]
    assert ips("2002:7f00:1::") == ["127.0.0.1"]
    assert ips("2001:0:4136:e378:8000:63bf:80ff:fffe") == ["65.54.227.120", "127.0.0.1"]
    assert ips("::ffff:a9fe:a9fe") == ["169.254.169.254"]


@pytest.fixture
def vapid(settings):
    keys = make_vapid_keys()
    settings.VAPID_PUBLIC_KEY, settings.VAPID_PRIVATE_KEY = keys.public, keys.private
    settings.VAPID_SUBJECT = "mailto:ops@example.com"
    return keys


@pytest.mark.parametrize("kind", URL_KINDS)
@pytest.mark.parametrize("address", ADDRESSES)
def test_every_url_channel_refuses_the_address_at_save(kind, address, vapid):
    from django.core.exceptions import ValidationError

    url = URL_KINDS[kind].format(host=bracketed(address))
    with pytest.raises(ValidationError) as caught:
        check_contact_address(kind, url)
    assert "non-public" in str(caught.value.message_dict["address"]), caught.value.message_dict


@pytest.mark.parametrize("kind", ["webhook", "ntfy", "apprise"])
@pytest.mark.parametrize("address", ["64:ff9b::7f00:1", "64:ff9b::a9fe:a9fe", "2002:7f00:1::", "::127.0.0.1",
                                     "2001:0:4136:e378:8000:63bf:80ff:fffe"])
def test_the_rest_api_refuses_it_with_400_naming_the_address(kind, address, people):
    url = URL_KINDS[kind].format(host=bracketed(address))
    response = api_client_for(people["alice"]).post("/api/v1/contact-methods/", {"kind": kind, "address": url},
                                                    format="json")
    assert response.status_code == 400, response.json()
    assert "non-public" in str(response.json()["address"])
    assert not ContactMethod.objects.filter(address_digest=lookup_digest(url)).exists()


@pytest.mark.parametrize("address", ["64:ff9b::7f00:1", "2002:7f00:1::", "::127.0.0.1"])
def test_the_profile_page_refuses_it(address, people):
    client = Client()
    client.force_login(people["alice"])
    url = URL_KINDS["webhook"].format(host=bracketed(address))
    response = client.post("/profile/methods/new/", {"kind": "webhook", "address": url})
    assert response.status_code == 400
    assert "non-public address" in response.content.decode()
    assert not ContactMethod.objects.filter(address_digest=lookup_digest(url)).exists()


@pytest.mark.parametrize("address", ["64:ff9b::a9fe:a9fe", "2001:0:4136:e378:8000:63bf:80ff:fffe"])
def test_the_admin_refuses_it(address, people):
    root = make_user("root", is_superuser=True, is_staff=True)
    client = Client()
    client.force_login(root)
    url = URL_KINDS["webhook"].format(host=bracketed(address))
    response = client.post("/admin/escalation/contactmethod/add/", {
        "user": people["alice"].pk, "kind": "webhook", "address": url, "enabled": "on", "verified": "on",
        "secrets": "{}",
    })
    assert response.status_code == 200  # the form again, with the error
    assert "non-public address" in response.content.decode()
    assert not ContactMethod.objects.filter(address_digest=lookup_digest(url)).exists()


@pytest.mark.parametrize("address", ["64:ff9b::7f00:1", "2002:7f00:1::"])
def test_a_push_subscription_to_it_is_refused(address, people, vapid):
    import json

    client = Client()
    client.force_login(people["alice"])
    endpoint = URL_KINDS["push"].format(host=bracketed(address))
    response = client.post("/push/subscribe/", json.dumps(FakeBrowser().subscription(endpoint)),
                           content_type="application/json")
    assert response.status_code == 400
    assert "non-public" in response.json()["errors"]["endpoint"]
    assert not ContactMethod.objects.filter(address_digest=lookup_digest(endpoint)).exists()


@pytest.mark.parametrize("kind", URL_KINDS)
@pytest.mark.parametrize("address", ["64:ff9b::7f00:1", "64:ff9b::a9fe:a9fe", "2002:7f00:1::", "::127.0.0.1",
                                     "2001:0:4136:e378:8000:63bf:80ff:fffe"])
def test_a_method_saved_before_the_rule_is_refused_at_send(kind, address, t21_key, people, vapid):
    """Written directly (as if saved before this check existed): the send resolves the host,
    checks every address again and fails the page, naming why, without connecting."""
    url = URL_KINDS[kind].format(host=bracketed(address))
    ContactMethod.objects.filter(user=people["alice"]).delete()
    browser = FakeBrowser().subscription(url)["keys"]
    ContactMethod.objects.create(user=people["alice"], kind=kind, address=url,
                                 secrets=browser if kind == "push" else {})
    incident = make_incident(t21_key)
    advance_escalation(incident.pk)
    page = Notification.objects.get(incident=incident, channel=kind)
    assert send_notification(page.pk) == "failed"
    page.refresh_from_db()
    assert "non-public address" in page.last_error, page.last_error
    assert "refused to call" in page.last_error
