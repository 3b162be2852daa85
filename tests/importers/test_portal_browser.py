"""The whole import in a real browser (Playwright + Debian's Chromium): a superuser uploads the
PagerDuty export zip, reads the plan, applies it, and the database has the account."""

import pytest

from importers.models import ImportedObject
from integrations.models import IntegrationKey
from oncall.models import Schedule
from tests.factories import make_user
from tests.importers.test_portal import export_zip

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_upload_plan_apply_in_the_browser(browser_page, tmp_path):
    make_user("root", is_superuser=True, is_staff=True)
    archive = tmp_path / "pagerduty-export.zip"
    archive.write_bytes(export_zip("pagerduty"))
    browser_page.sign_in("root")
    browser_page.go("/import/")
    browser_page.page.select_option("#id_vendor", "pagerduty")
    browser_page.page.set_input_files("#id_export", str(archive))
    browser_page.page.click("#import-upload button[type=submit]")
    plan = browser_page.page.inner_text("#import-plan")
    assert "Would create" in plan and "round_robin" in plan
    assert not ImportedObject.objects.exists()
    browser_page.page.click("#apply-import")
    browser_page.page.wait_for_selector("#import-report")
    keys = browser_page.page.inner_text("#import-keys")
    assert keys.count("ik_") == 3
    assert Schedule.objects.count() == 2 and IntegrationKey.objects.count() == 3
    assert ImportedObject.objects.filter(vendor="pagerduty", kind="user").count() == 4
    assert not browser_page.errors and not browser_page.csp_violations
