"""The admin's shown-once key page in a real browser (Playwright + Debian's Chromium):
the copy button copies the key under the real Content-Security-Policy, with no inline script.
The browser is the session's one `chromium` (tests/conftest.py): Playwright's sync API
cannot start a second one while another is running in this thread."""

import pytest

from integrations import keys
from integrations.models import IntegrationKey
from tests.factories import make_policy, make_team, make_user

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

def test_copy_button_copies_the_new_key(chromium, live_server, tmp_path):
    team = make_team("SRE")
    policy = make_policy("Primary", team=team)
    make_user("root", is_superuser=True, is_staff=True)
    context = chromium.new_context(permissions=["clipboard-read", "clipboard-write"])
    page = context.new_page()
    page.set_default_timeout(10_000)
    console = []
    page.on("console", lambda message: console.append(message.text))
    page.on("pageerror", lambda error: console.append(str(error)))

    page.goto(f"{live_server.url}/admin/login/?next=/admin/integrations/integrationkey/add/")
    page.fill("#id_username", "root")
    page.fill("#id_password", "correct horse battery")
    page.click("input[type=submit]")
    page.wait_for_url("**/integrationkey/add/")
    page.fill("#id_name", "Browser key")
    page.select_option("#id_escalation_policy", str(policy.pk))
    page.select_option("#id_team", str(team.pk))
    page.click("input[name=_save]")
    page.wait_for_url("**/integrationkey/new-key/")

    key = IntegrationKey.objects.get(name="Browser key")
    shown = page.inner_text(f"#vigil-key-{key.pk}").strip()
    assert keys.digest(shown) == key.key_digest
    page.screenshot(path=str(tmp_path / "new-key.png"), full_page=True)

    button = page.locator(f'button[data-copy-target="vigil-key-{key.pk}"]')
    button.click()
    page.wait_for_function("document.querySelector('button[data-copy-target]').textContent === 'Copied'")
    assert page.evaluate("navigator.clipboard.readText()") == shown
    page.locator(f'button[data-copy-target="vigil-curl-{key.pk}"]').click()
    assert shown in page.evaluate("navigator.clipboard.readText()")
    assert page.evaluate("navigator.clipboard.readText()").startswith("curl ")
    assert not [line for line in console if "Content Security Policy" in line], console

    page.reload()
    assert shown not in page.content()
    context.close()
