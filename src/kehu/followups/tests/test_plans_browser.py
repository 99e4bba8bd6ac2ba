"""In a real browser: a manager finds 跟进周期与关怀 in the menu, sees a per-field error, sets
a plan for the team with a reason, finds it and its history, and adds a team care date."""

from __future__ import annotations

from typing import Any

import pytest

from kehu.accounts import services as accounts
from kehu.accounts.models import Role
from kehu.core.testing.browser import sign_in, user_with_password
from kehu.followups.models import CadencePlan, CareDate

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_manager_sets_a_team_cadence_plan_and_care_date(page: Any) -> None:
    east = accounts.department_create(name="华东区")
    user_with_password(Role.MANAGER, username="wang", department=east)
    sign_in(page, "wang")
    page.locator("#main-menu").get_by_text("跟进周期与关怀").click()
    page.wait_for_selector("#plan-list")
    page.click("#plan-create")
    page.fill("#id_name", "华东意向客户：每天跟进")
    page.fill("#id_interval_days", "1")
    page.click("#plan-form button[type=submit]")  # neither status nor grade: refused
    assert "请选择客户状态、客户等级或两者。" in page.locator("#plan-form").inner_text()
    page.select_option("#id_status", "intent")
    page.fill("#id_reason", "华东区竞争激烈")
    page.click("#plan-form button[type=submit]")
    page.wait_for_selector("#plan-list")
    plan = CadencePlan.objects.get(name="华东意向客户：每天跟进")
    assert plan.department == east
    row = page.locator(f"tr[data-plan='{plan.pk}']")
    assert "华东区" in row.inner_text()
    assert "华东区竞争激烈" in page.locator("#rule-history").inner_text()
    page.click("#tab-care")
    page.click("#care-create")
    page.fill("#id_date", "2027-06-18")
    page.fill("#id_name", "华东客户答谢日")
    page.click("#care-form button[type=submit]")
    page.wait_for_selector("#care-list")
    care = CareDate.objects.get(name="华东客户答谢日")
    assert care.kind == "custom"
    assert care.department == east
    page.screenshot(path="test-artifacts/followups-care-dates.png", full_page=True)
