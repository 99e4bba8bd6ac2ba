"""The UI shell in a real browser: sign in, switch language, load the dashboard."""

from __future__ import annotations

from typing import Any

import pytest

from kehu.accounts.models import Role
from kehu.core.testing.browser import sign_in, user_with_password

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_sign_in_switch_language_and_see_dashboard(page: Any) -> None:
    user_with_password(Role.MANAGER, username="wang")
    sign_in(page, "wang")
    assert page.locator("#dashboard-title").inner_text() == "仪表盘"
    with page.expect_navigation():
        page.select_option("#language-switch", "en")
    assert page.locator("#dashboard-title").inner_text() == "Dashboard"
    assert page.locator("#main-menu").get_by_text("Customers").is_visible()
    page.goto(f"{page.base_url}/")
    assert page.locator("html").get_attribute("lang") == "en"
