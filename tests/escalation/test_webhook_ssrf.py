"""RELIABILITY T40: webhook URLs that would reach the loopback, the private network, link-local
metadata or other schemes are refused at save (400) and at send, and a loopback listener
sees no connection at all. With the default settings: private targets are NOT allowed."""

import json
import threading
from http.server import BaseHTTPRequestHandler, HTTPServer

import pytest
from django.core.exceptions import ValidationError

from escalation.channels import check_contact_address
from escalation.engine import advance_escalation
from escalation.models import ContactMethod, Notification
from escalation.notify import send_notification
from escalation.webhooks import UnsafeURL, _pinned_request, check_webhook_url, is_forbidden_address
from incidents.models import TimelineEntry
from tests.factories import api_client_for, make_incident

pytestmark = pytest.mark.django_db

UNSAFE = [
    "http://127.0.0.1:6379/",
    "http://169.254.169.254/latest/meta-data/",
    "http://[::ffff:127.0.0.1]/",
    "http://[::1]/",
    "http://100.64.0.1/",
    "http://10.0.0.5/",
    "http://0.0.0.0/",
    "http://2130706433/",  # 127.0.0.1 as a decimal
    "http://localhost/",  # a name that resolves to 127.0.0.1
    "http://224.0.0.1/",
    "file:///etc/passwd",
    "gopher://127.0.0.1:6379/_INFO",
    "ftp://example.com/",
    "http://user:pass@127.0.0.1/",
]


@pytest.mark.parametrize("address", ["127.0.0.1", "::1", "::ffff:127.0.0.1", "100.64.0.1", "169.254.169.254",
                                     "10.1.2.3", "192.168.1.1", "0.0.0.0", "224.0.0.1", "ff02::1", "fc00::1"])
def test_non_global_and_multicast_addresses_are_forbidden(address):
    assert is_forbidden_address(address)


@pytest.mark.parametrize("address", ["8.8.8.8", "1.1.1.1", "2606:4700:4700::1111"])
def test_global_unicast_addresses_are_allowed(address):
    assert not is_forbidden_address(address)


@pytest.mark.parametrize("url", UNSAFE)
def test_an_unsafe_webhook_url_is_refused_at_save_through_the_api(url, people):
    client = api_client_for(people["alice"])
    response = client.post("/api/v1/contact-methods/", {"kind": "webhook", "address": url}, format="json")
    assert response.status_code == 400, response.json()
    assert "address" in response.json()
    assert not ContactMethod.objects.at_address("webhook", url).exists()


@pytest.mark.parametrize("url", ["http://127.0.0.1/", "http://localhost:8080/", "gopher://x/"])
def test_an_unsafe_webhook_url_is_refused_by_the_address_check(url, people):
    # The check every form, serializer and action calls; the model's clean() does no DNS.
    with pytest.raises(ValidationError) as caught:
        check_contact_address("webhook", url)
    assert "address" in caught.value.message_dict


def test_a_safe_email_contact_method_is_saved_through_the_api(people):
    client = api_client_for(people["alice"])
    response = client.post("/api/v1/contact-methods/", {"kind": "email", "address": "a@example.org"}, format="json")
    assert response.status_code == 201
    assert client.post("/api/v1/contact-methods/", {"kind": "email", "address": "nope"},
                       format="json").status_code == 400


def test_a_webhook_saved_before_it_became_unsafe_is_refused_at_send_without_connecting(httpserver, t21_key, people):
    # Written directly, as if the name had resolved to a public address at save time.
    ContactMethod.objects.filter(user=people["alice"]).delete()
    ContactMethod.objects.create(user=people["alice"], kind="webhook", address=httpserver.url_for("/hook"))
    incident = make_incident(t21_key)
    advance_escalation(incident.pk)
    page = Notification.objects.get(incident=incident)

    assert send_notification(page.pk) == "failed"
    page.refresh_from_db()
    assert page.last_error.startswith("refused to call the webhook: localhost resolves to a non-public address")
    assert httpserver.log == []  # the listener saw no request
    entry = TimelineEntry.objects.get(incident=incident, kind="notification_failed")
    assert "not retried" in entry.message


class Recorder(BaseHTTPRequestHandler):
    hits: list = []

    def do_POST(self):  # noqa: N802 (http.server's naming)
        Recorder.hits.append(self.path)
        self.send_response(200)
        self.end_headers()

    def log_message(self, *args):
        pass


def test_a_redirect_is_not_followed(httpserver, settings, t21_key, people):
    settings.ESCALATION_WEBHOOK_ALLOW_PRIVATE = True  # both servers are on loopback here
    target = HTTPServer(("127.0.0.1", 0), Recorder)
    Recorder.hits = []
    threading.Thread(target=target.serve_forever, daemon=True).start()
    try:
        internal = f"http://127.0.0.1:{target.server_address[1]}/internal"
        httpserver.expect_request("/public").respond_with_data("", status=302, headers={"Location": internal})
        ContactMethod.objects.filter(user=people["alice"]).delete()
        ContactMethod.objects.create(user=people["alice"], kind="webhook", address=httpserver.url_for("/public"))
        incident = make_incident(t21_key)
        advance_escalation(incident.pk)
        page = Notification.objects.get(incident=incident)
        assert send_notification(page.pk) == "failed"
    finally:
        target.shutdown()
        target.server_close()
    page.refresh_from_db()
    assert "redirects are not followed" in page.last_error
    assert len(httpserver.log) == 1 and Recorder.hits == []


def test_the_request_goes_to_the_checked_address_with_the_original_host_and_tls_name(settings):
    settings.ESCALATION_WEBHOOK_ALLOW_PRIVATE = True
    checked = check_webhook_url("http://2130706433:8080/x?y=1")
    assert checked.addresses == ("127.0.0.1",) and checked.port == 8080
    request = _pinned_request(checked, {"a": 1})
    assert str(request.url) == "http://127.0.0.1:8080/x?y=1"
    assert request.headers["Host"] == "2130706433:8080"
    assert json.loads(request.content) == {"a": 1}

    secure = _pinned_request(check_webhook_url("https://localhost/hook"), {})
    assert secure.url.host == "127.0.0.1" and secure.headers["Host"] == "localhost"
    assert secure.extensions["sni_hostname"] == "localhost"


def test_an_unresolvable_host_is_refused():
    with pytest.raises(UnsafeURL):
        check_webhook_url("http://no-such-host.invalid/")
