"""Browser fixtures: Playwright driving Debian's Chromium (never a downloaded browser).
Imported by tests/conftest.py only: one browser for the whole session, since Playwright's sync
API cannot start a second one while another runs in this thread."""

import os
from dataclasses import dataclass, field
from pathlib import Path

import pytest

SCREENSHOTS = Path(__file__).resolve().parents[1] / "docs" / "screenshots"
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]


@pytest.fixture(scope="session")
def chromium():
    # Playwright's sync API runs an event loop in this thread; Django's ORM calls made by the
    # test itself (factories, asserts) are still plain synchronous calls.
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@dataclass
class BrowserPage:
    """A fresh browser context and page; every JS dialog is recorded (and dismissed), so an
    XSS payload that runs `alert()` shows up in `dialogs`."""

    page: object
    base_url: str
    dialogs: list = field(default_factory=list)
    errors: list = field(default_factory=list)
    csp_violations: list = field(default_factory=list)

    def go(self, path: str):
        return self.page.goto(self.base_url + path)

    def sign_in(self, username: str, password: str = "correct horse battery"):
        self.go("/login/")
        self.page.fill("#id_username", username)
        self.page.fill("#id_password", password)
        self.page.click("button[type=submit]")
        self.page.wait_for_url(self.base_url + "/")

    def screenshot(self, name: str, *, full_page: bool = True):
        """Save docs/screenshots/<name>.png for the README."""
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        self.page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=full_page)


@pytest.fixture
def browser_page(chromium, live_server):
    context = chromium.new_context(viewport={"width": 1100, "height": 760})
    page = context.new_page()
    page.set_default_timeout(10_000)
    wrapped = BrowserPage(page, live_server.url)
    page.on("dialog", lambda dialog: (wrapped.dialogs.append(dialog.message), dialog.dismiss()))
    page.on("pageerror", lambda error: wrapped.errors.append(str(error)))
    page.on("console", lambda message: wrapped.csp_violations.append(message.text)
            if "Content Security Policy" in message.text else None)
    yield wrapped
    # Stop the list's polling before the test database goes away.
    page.goto("about:blank")
    context.close()


@pytest.fixture
def phone_page(chromium, live_server):
    context = chromium.new_context(viewport={"width": 375, "height": 740}, is_mobile=True, has_touch=True)
    page = context.new_page()
    page.set_default_timeout(10_000)
    wrapped = BrowserPage(page, live_server.url)
    page.on("dialog", lambda dialog: (wrapped.dialogs.append(dialog.message), dialog.dismiss()))
    yield wrapped
    page.goto("about:blank")
    context.close()
