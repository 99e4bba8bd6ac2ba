"""In a real browser: log a follow-up with a next step, then find the task on "my day"."""

from __future__ import annotations

from typing import Any

import pytest
from django.utils import timezone

from kehu.accounts.models import Role
from kehu.core.testing.browser import sign_in, user_with_password
from kehu.followups.tests.factories import make_customer

pytestmark = [
    pytest.mark.browser,
    pytest.mark.django_db(transaction=True),
]


def test_follow_up_with_next_step_shows_on_my_day(page: Any) -> None:
    rep = user_with_password(Role.SALES, username="li")
    customer = make_customer(rep, name="苏州精密制造有限公司")
    sign_in(page, "li")
    page.goto(f"{page.base_url}/followups/customers/{customer.pk}/")
    page.select_option("#id_method", "visit")
    page.fill("#id_content", "拜访采购经理，确认预算与时间表")
    page.select_option("#id_sentiment", "positive")
    page.fill("#id_sentiment_reason", "预算已批准")
    tomorrow = timezone.localdate() + timezone.timedelta(days=1)
    page.fill("#id_next_step_on", tomorrow.isoformat())
    page.fill("#id_next_step_action", "发送正式报价单")
    page.click("#followup-submit")
    page.wait_for_selector(".followup-entry")
    assert "拜访采购经理" in page.locator("#followup-list").inner_text()
    page.goto(f"{page.base_url}/followups/")
    upcoming = page.locator("#upcoming-tasks")
    assert "发送正式报价单" in upcoming.inner_text()
    assert page.locator("#main-menu").get_by_text("跟进").count() >= 1
