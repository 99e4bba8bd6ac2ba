"""The contact list in a real browser: the search refreshes the results in place (htmx), and
the page keeps the layout rules (``core/tests/layout_check.js``) from desktop to phone width,
where each contact is a card with its cells under their labels."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from kehu.accounts.models import Role
from kehu.conftest import ARTIFACTS
from kehu.core.testing.browser import sign_in, user_with_password
from kehu.customers.tests.factories import make_customer

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

CHECK = (Path(__file__).parents[2] / "core/tests/layout_check.js").read_text(encoding="utf-8")
LONG_NAME = "上海浦东新区张江高科技园区国际智能制造装备与工业互联网解决方案研究开发中心"


def test_search_in_place_and_layout_from_desktop_to_phone(page: Any) -> None:
    rep = user_with_password(Role.SALES, username="li")
    make_customer(
        rep,
        name=LONG_NAME,
        contacts=[
            {
                "name": "欧阳建国",
                "title": LONG_NAME[:20],
                "mobile": "13912345678",
                "email": "ouyang.jianguo@zhangjiang-intelligent-manufacturing.cn",
                "is_decision_maker": True,
            },
            {"name": "李娜", "work_phone": "02155556666"},
        ],
    )
    sign_in(page, "li")
    page.goto(f"{page.base_url}/customers/contacts/")
    rows = page.locator("#contact-list-table tbody tr[data-contact-id]")
    assert rows.count() == 2
    page.fill("#contact-q", "欧阳")
    page.wait_for_url(lambda url: "q=" in url)
    page.wait_for_function(
        "() => document.querySelectorAll('#contact-list-table tbody tr[data-contact-id]')"
        ".length === 1"
    )
    assert "欧阳建国" in rows.first.inner_text()
    page.goto(f"{page.base_url}/customers/contacts/")
    problems = []
    for width in (1440, 1024, 768, 390):
        page.set_viewport_size({"width": width, "height": 900})
        problems += [f"@{width}px: {text}" for text in page.evaluate(CHECK)]
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / f"contact-list-{width}.png"), full_page=True)
    assert not problems, "\n".join(problems)
    # on a phone a row is a card: the label column of each cell shows
    label = page.locator("#contact-list-table td[data-label]").first
    assert label.evaluate("td => getComputedStyle(td, '::before').content") != "none"


def test_customer_contacts_tab_wraps_long_emails_on_a_phone(page: Any) -> None:
    rep = user_with_password(Role.SALES, username="li")
    customer = make_customer(
        rep,
        name=LONG_NAME,
        contacts=[
            {
                "name": "欧阳建国",
                "mobile": "13912345678",
                "email": "ouyang.jianguo@zhangjiang-intelligent-manufacturing.cn",
            }
        ],
    )
    sign_in(page, "li")
    page.set_viewport_size({"width": 390, "height": 900})
    page.goto(f"{page.base_url}/customers/{customer.pk}/?tab=contacts")
    email = page.locator("#contact-table td[data-label]", has_text="zhangjiang").first
    assert email.is_visible()
    problems = [f"@390px: {text}" for text in page.evaluate(CHECK)]
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "customer-contacts-390.png"), full_page=True)
    assert not problems, "\n".join(problems)
    # the whole address shows, wrapped inside its cell instead of cut at the screen's edge
    box = email.bounding_box()
    assert box is not None
    assert box["x"] + box["width"] <= 390
