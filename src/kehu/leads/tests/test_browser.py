"""Capture → assign → confirm → convert in a real browser."""

from __future__ import annotations

from typing import Any

import pytest

from kehu.accounts.models import Role
from kehu.accounts.services import department_create
from kehu.core.testing.browser import sign_in, user_with_password
from kehu.customers.models import Customer
from kehu.leads.models import Lead, LeadStatus

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_capture_assign_confirm_convert(page: Any) -> None:
    shanghai = department_create(name="上海组")
    user_with_password(Role.MARKETING, username="market")
    user_with_password(Role.MANAGER, username="boss", department=shanghai)
    rep = user_with_password(
        Role.SALES, username="xiaoli", department=shanghai, display_name="小李"
    )

    # Marketing captures a lead from a phone call; it waits in the pool.
    sign_in(page, "market")
    page.goto(f"{page.base_url}/leads/new/")
    page.fill("#id_company_name", "上海浦东精密机械有限公司")
    page.fill("#id_contact_name", "陈经理")
    page.fill("#id_mobile", "138 0013 8123")
    page.select_option("#id_region", "310115")
    page.fill("#id_need", "需要五台数控机床")
    page.select_option("#id_source", "inbound_call")
    page.click("#lead-form button[type=submit]")
    page.wait_for_selector("#lead-title")
    lead = Lead.objects.get()
    assert lead.status == LeadStatus.POOL
    assert page.locator("#lead-priority").inner_text() == "A"

    # The manager assigns it to a rep from the pool.
    page.context.clear_cookies()
    sign_in(page, "boss")
    page.goto(f"{page.base_url}/leads/pool/")
    page.click(f"tr[data-lead-id='{lead.pk}'] a")
    page.select_option("#assign-form select[name=assignee]", str(rep.pk))
    page.click("#assign-form button[type=submit]")
    page.wait_for_selector("#lead-assignee:has-text('小李')")

    # The rep sees it in "my leads" with a countdown and confirms it is contactable.
    page.context.clear_cookies()
    sign_in(page, "xiaoli")
    page.goto(f"{page.base_url}/leads/mine/")
    countdown = page.locator(f"tr[data-lead-id='{lead.pk}'] .lead-countdown")
    page.wait_for_function(
        "el => /\\d\\d:\\d\\d:\\d\\d/.test(el.textContent)", arg=countdown.element_handle()
    )
    page.click(f"tr[data-lead-id='{lead.pk}'] a")
    page.click("#confirm-lead")
    page.wait_for_selector("#convert-lead")
    assert Lead.objects.get().status == LeadStatus.CONFIRMED

    # …and converts it through the dialog, with an opportunity.
    page.click("#convert-lead")
    page.wait_for_selector("#convert-form")
    page.fill("#id_opportunity_name", "数控机床采购")
    page.click("#convert-submit")
    page.wait_for_selector("#lead-customer")
    lead = Lead.objects.get()
    assert lead.status == LeadStatus.CONVERTED
    customer = Customer.objects.get()
    assert lead.customer == customer
    assert customer.owner == rep
    assert lead.opportunity_id is not None
    assert "上海浦东精密机械有限公司" in page.locator("#lead-customer").inner_text()
