"""In a real browser: claim from a pool until the limit refuses; the recycle job returns them."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
import time_machine
from django.utils import timezone

from kehu.accounts import services as accounts
from kehu.accounts.models import Role
from kehu.core.testing.browser import sign_in, user_with_password
from kehu.pools import services
from kehu.pools.tests.factories import make_pool, pooled_customer

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_claim_until_the_limit_then_recycle_back_to_the_pool(page: Any) -> None:
    east = accounts.department_create(name="华东区")
    pool = make_pool(
        east,
        name="华东公海",
        max_held_per_rep=2,
        max_claims_per_day=5,
        recycle_no_followup_days=30,
        recycle_no_deal_days=0,
    )
    customers = [pooled_customer(pool, name=f"苏州精工{n}号机械有限公司") for n in range(3)]
    user_with_password(Role.SALES, username="li", department=east)
    sign_in(page, "li")

    page.locator("#main-menu").get_by_text("公海池").click()
    page.get_by_role("link", name="华东公海").first.click()
    assert page.locator("#pool-title").inner_text() == "华东公海"
    for customer in customers[:2]:
        page.locator(f'tr[data-customer="{customer.pk}"] .claim-button').click()
        assert "你已领取" in page.locator(".alert-success").inner_text()
    assert page.locator("#pool-usage .held").inner_text() == "2"
    assert page.locator("#limit-reached").is_visible()

    page.locator(f'tr[data-customer="{customers[2].pk}"] .claim-button').click()
    refusal = page.locator(".alert-danger").inner_text()
    assert "达到本公海池的上限（2）" in refusal
    assert page.locator("#pool-customers tbody tr[data-customer]").count() == 1

    # Nothing of the page may reach the server while its clock is 31 days ahead (the
    # notification badge loads after the page): the two-week session would count as expired
    # and the answer would delete the browser's session cookie
    page.wait_for_load_state("networkidle")
    pool_page = page.url
    page.goto("about:blank")
    with time_machine.travel(timezone.now() + timedelta(days=31)):
        recycled = services.pool_recycle_run().recycled
    assert sorted(recycled) == sorted(c.pk for c in customers[:2])

    page.goto(pool_page)
    assert page.locator("#pool-customers tbody tr[data-customer]").count() == 3
    assert page.locator("#pool-usage .held").inner_text() == "0"
    row = page.locator(f'tr[data-customer="{customers[0].pk}"]')
    assert "30天未跟进" in row.inner_text()


def test_duplicate_check_and_offboarding_pages(page: Any) -> None:
    from kehu.customers.models import Customer
    from kehu.pools.tests.factories import make_customer

    east = accounts.department_create(name="华东区")
    leaving = user_with_password(Role.SALES, username="zhang", department=east)
    successor = user_with_password(Role.SALES, username="wang", department=east)
    user_with_password(Role.ADMIN, username="boss")
    held = make_customer(leaving, name="上海恒泰精工机械有限公司")
    make_customer(leaving)
    sign_in(page, "boss")

    page.goto(f"{page.base_url}/pools/duplicate-check/")
    page.fill("#id_name", "上海恒泰精工机械有限公司")
    page.fill("#id_credit_code", "91110000600O37341L")
    page.get_by_role("button", name="查重").click()
    assert "第12位的字符“O”" in page.locator("#credit-code-error").inner_text()
    page.fill("#id_credit_code", "")
    page.get_by_role("button", name="查重").click()
    assert "已存在匹配的客户" in page.locator("#duplicate-found").inner_text()
    assert "zhang" in page.locator("#duplicate-matches").inner_text()

    page.locator("#main-menu").get_by_text("离职交接").click()
    page.select_option("#id_user", str(leaving.pk))
    page.select_option("#id_successors", [str(successor.pk)])
    page.locator("#preview-button").click()
    assert page.locator('#offboarding-preview tr[data-kind="customers"] .total').inner_text() == "2"
    page.once("dialog", lambda dialog: dialog.accept())
    page.locator("#apply-button").click()
    assert "账号已停用" in page.locator(".alert-success").inner_text()
    assert Customer.objects.get(pk=held.pk).owner_id == successor.pk


def test_sharee_sees_a_masked_mobile_and_shows_it(page: Any) -> None:
    from kehu.core.testing.factories import make_user
    from kehu.customers.tests.factories import make_customer
    from kehu.pools.models import RevealLog

    east = accounts.department_create(name="华东区")
    owner = make_user(Role.SALES, username="wang", department=east)
    sharee = user_with_password(Role.SALES, username="li", department=east)
    customer = make_customer(
        owner, contacts=[{"name": "张三", "mobile": "13812341234", "email": "zhang.san@corp.cn"}]
    )
    customer.shares.create(user=sharee, shared_by=owner)
    contact = customer.contacts.get()
    sign_in(page, "li")

    page.goto(f"{page.base_url}/customers/{customer.pk}/?tab=contacts")
    mobile = page.locator(f"#contact-{contact.pk}-mobile")
    assert mobile.inner_text() == "138****1234"
    assert page.locator(f"#contact-{contact.pk}-email").inner_text() == "zh***@corp.cn"
    page.locator(".reveal-button").click()
    page.locator(".reveal-done").wait_for()
    assert mobile.inner_text() == "+86 138 1234 1234"
    assert page.locator(f"#contact-{contact.pk}-email").inner_text() == "zhang.san@corp.cn"
    assert RevealLog.objects.filter(user=sharee, contact=contact).count() == 1
