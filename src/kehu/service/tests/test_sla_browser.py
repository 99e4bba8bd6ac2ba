"""An admin sets up the SLA calendar in a real browser: loads 2026's public holidays, is
refused an entry overlapping 国庆节 and a zero response time, and saves a policy."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest

from kehu.accounts.models import Role
from kehu.core.testing.browser import sign_in, user_with_password
from kehu.service.models import CalendarEntry, SlaPolicy
from kehu.service.services import calendar

ARTIFACTS = Path(os.environ.get("KEHU_TEST_ARTIFACTS", "test-artifacts"))
pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_admin_sets_up_the_sla_calendar(page: Any) -> None:
    user_with_password(Role.ADMIN, username="boss")
    CalendarEntry.objects.filter(start__year=2026).delete()
    calendar.clear_cache()
    sign_in(page, "boss")
    page.goto(f"{page.base_url}/service/sla/?year=2026")
    page.on("dialog", lambda dialog: dialog.accept())
    page.click("#refresh-calendar")
    page.wait_for_selector("#calendar-table td:has-text('国庆节')")
    assert page.locator("#calendar-table tr:has-text('2026-10-10')").count() == 1
    page.screenshot(path=str(ARTIFACTS / "sla_settings.png"), full_page=True)

    page.click("#new-entry")
    page.fill("#id_name", "加休")
    page.select_option("#id_kind", "holiday")
    page.fill("#id_start", "2026-10-06")
    page.fill("#id_end", "2026-10-09")
    page.click("#entry-form button[type=submit]")
    page.wait_for_selector("#entry-form .invalid-feedback:has-text('国庆节')")
    assert not CalendarEntry.objects.filter(name="加休").exists()

    page.goto(f"{page.base_url}/service/sla/")
    page.click("#new-policy")
    page.select_option("#id_priority", "high")
    page.select_option("#id_customer_grade", "A")
    page.fill("#id_respond_minutes", "0")
    page.fill("#id_resolve_minutes", "240")
    page.click("#policy-form button[type=submit]")
    page.wait_for_selector("#policy-form .invalid-feedback")
    assert not SlaPolicy.objects.filter(customer_grade="A").exists()
    page.fill("#id_respond_minutes", "30")
    page.click("#policy-form button[type=submit]")
    page.wait_for_selector("#policies-table")
    assert SlaPolicy.objects.get(priority="high", customer_grade="A").respond_minutes == 30
