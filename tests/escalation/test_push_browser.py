"""The portal as an installable app, in Debian's Chromium: the manifest and the service
worker are served from Vigil's own origin with the right types, the worker registers with
the whole portal as its scope, and nothing breaks the CSP. (Headless Chromium cannot
receive a real push: the push itself is tested against a local push service in
test_push_channel.py.)"""

from __future__ import annotations

import pytest

from escalation.models import ContactMethod
from tests.escalation.push_service import make_vapid_keys

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def vapid(settings):
    keys = make_vapid_keys()
    settings.VAPID_PUBLIC_KEY, settings.VAPID_PRIVATE_KEY = keys.public, keys.private
    settings.VAPID_SUBJECT = "mailto:ops@example.com"
    return keys


def test_the_manifest_and_the_service_worker_are_served_and_the_worker_registers(browser_page, people, vapid):
    browser_page.sign_in("alice")
    page = browser_page.page

    worker = page.request.get(browser_page.base_url + "/sw.js")
    assert worker.status == 200
    assert worker.headers["content-type"] == "text/javascript; charset=utf-8"
    assert worker.headers["service-worker-allowed"] == "/"
    manifest_href = page.eval_on_selector("link[rel=manifest]", "link => link.href")
    manifest = page.request.get(manifest_href)
    assert manifest.status == 200 and manifest.headers["content-type"] == "application/manifest+json"
    for icon in manifest.json()["icons"]:
        fetched = page.request.get(browser_page.base_url + icon["src"])
        assert fetched.status == 200 and fetched.headers["content-type"] == "image/png"

    scope = page.evaluate("() => window.vigilServiceWorker.then(registration => registration.scope)")
    assert scope == browser_page.base_url + "/"
    active = page.evaluate("() => navigator.serviceWorker.ready.then(r => r.active.scriptURL)")
    assert active == browser_page.base_url + "/sw.js"
    assert browser_page.errors == [] and browser_page.csp_violations == []


def test_the_push_page_says_why_when_the_browser_cannot_subscribe(browser_page, people, vapid):
    """Headless Chromium has no push service to subscribe to: the person sees the reason,
    and nothing is stored."""
    browser_page.page.context.grant_permissions(["notifications"])
    browser_page.sign_in("alice")
    browser_page.go("/push/")
    browser_page.page.click("#push-subscribe")
    browser_page.page.wait_for_function(
        "() => { const s = document.getElementById('push-status').textContent;"
        " return s && !s.startsWith('Asking'); }", timeout=20_000)
    said = browser_page.page.inner_text("#push-status")
    # Permission was granted, so what is shown is the push subscription's own failure.
    assert said and "Push is on" not in said and "blocked" not in said
    assert browser_page.page.is_enabled("#push-subscribe")
    assert not ContactMethod.objects.filter(kind="push").exists()
    assert browser_page.errors == [] and browser_page.csp_violations == []
