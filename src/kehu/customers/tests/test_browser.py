"""The customer workflow in a real browser: create, find by pinyin, edit, see the history."""

from __future__ import annotations

from typing import Any

import pytest

from kehu.accounts.models import Role
from kehu.core.testing.browser import sign_in, user_with_password
from kehu.customers.models import Customer

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_create_find_by_pinyin_edit_and_see_history(page: Any) -> None:
    user_with_password(Role.SALES, username="li")
    sign_in(page, "li")
    page.goto(f"{page.base_url}/customers/new/")
    page.fill("#id_name", "上海星辰科技有限公司")
    page.select_option("#id_source", "trade_show")
    page.fill("#id_initial_need", "需要一套客户管理系统")
    page.fill("#id_contact_name", "王伟")
    page.fill("#id_contact_title", "采购经理")
    page.fill("#id_contact_mobile", "138 1234 5678")
    page.fill("#id_contact_email", "wang@xingchen.cn")
    with page.expect_navigation():
        page.click("#save-customer")
    assert page.locator("#customer-name").inner_text() == "上海星辰科技有限公司"
    customer = Customer.objects.get()
    assert customer.contacts.get().mobile == "+8613812345678"

    page.goto(f"{page.base_url}/customers/")
    page.fill("#search-q", "shxckj")
    page.wait_for_url(lambda url: "q=shxckj" in url)
    results = page.locator("#customer-table .customer-link")
    results.first.wait_for()
    assert results.count() == 1
    assert results.first.inner_text() == "上海星辰科技有限公司"
    page.fill("#search-q", "beijing")
    page.wait_for_url(lambda url: "q=beijing" in url)
    page.locator("#customer-table .customer-link").first.wait_for(state="detached")
    page.fill("#search-q", "xingchen")
    page.wait_for_url(lambda url: "q=xingchen" in url)
    with page.expect_navigation():
        page.locator("#customer-table .customer-link").first.click()

    with page.expect_navigation():
        page.click("#edit-customer")
    page.fill("#id_address", "上海市浦东新区张江路88号")
    with page.expect_navigation():
        page.click("#save-customer")
    assert page.locator("#customer-address").inner_text() == "上海市浦东新区张江路88号"
    # On a short screen the tab's content starts below the fold, where it never scrolls into
    # view by itself: showing the tab must load it all the same.
    page.set_viewport_size({"width": 1280, "height": 360})
    page.evaluate("window.scrollTo(0, 0)")
    page.locator("#tab-history-button").dispatch_event("click")
    page.wait_for_selector("#tab-history.show")
    history = page.locator("#history")
    assert "上海市浦东新区张江路88号" in history.inner_text()
    assert "王伟" in history.inner_text()
    page.click("#tab-timeline-button")  # loaded when first shown, like the history
    page.locator("#timeline").wait_for()
    assert page.locator("#tab-timeline [aria-busy]").count() == 0
