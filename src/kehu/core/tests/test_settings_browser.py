"""An admin edits the handbook's numbers in a real browser: a bad value shows the field's
error, a good one with a reason applies at once and shows in the history, and the grade
rules are edited as rows (one added with "Add a row")."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest

from kehu.accounts.models import Role
from kehu.core import config
from kehu.core.models import SettingChange
from kehu.core.testing.browser import sign_in, user_with_password

ARTIFACTS = Path(os.environ.get("KEHU_TEST_ARTIFACTS", "test-artifacts"))
pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_admin_changes_a_setting_with_a_reason(page: Any) -> None:
    user_with_password(Role.ADMIN, username="boss")
    sign_in(page, "boss")
    page.goto(f"{page.base_url}/settings/")
    page.wait_for_selector("#chapter-opportunities")
    page.screenshot(path=str(ARTIFACTS / "settings_index.png"), full_page=True)
    page.click("tr[data-setting='opportunities.stalled_days'] a.btn")

    page.fill("#id_value", "400")
    page.fill("#id_reason", "周会决定")
    page.click("#save-setting")
    page.wait_for_selector("#setting-form .invalid-feedback")
    assert "365" in page.inner_text("#setting-form .invalid-feedback")
    assert config.get("opportunities.stalled_days") == 7

    page.fill("#id_value", "10")
    page.fill("#id_reason", "周会决定")
    page.click("#save-setting")
    page.wait_for_selector(".setting-history td:has-text('周会决定')")
    assert "10" in page.inner_text("#current-value")
    config.clear_cache()  # as another process would read it
    assert config.get("opportunities.stalled_days") == 10
    page.screenshot(path=str(ARTIFACTS / "settings_edit.png"), full_page=True)

    page.goto(f"{page.base_url}/settings/customers.grade_rules/")
    page.click("#add-row")
    rows = page.locator("#setting-rows tr.setting-row")
    assert rows.count() == 5  # three rules, the blank row, the added one
    page.fill("input[name='row-3-grade']", "D")
    page.fill("input[name='row-3-min_amount']", "1000")
    page.fill("input[name='row-3-min_orders']", "1")
    page.fill("#id_reason", "新增 D 级门槛")
    page.click("#save-setting")
    page.wait_for_selector(".setting-history td:has-text('新增 D 级门槛')")
    assert config.get("customers.grade_rules")[-1] == {
        "grade": "D",
        "min_amount": 1000,
        "min_orders": 1,
    }
    assert SettingChange.objects.count() == 2
