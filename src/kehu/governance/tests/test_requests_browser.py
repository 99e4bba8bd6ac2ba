"""A personal-data request in a real browser: an administrator starts an erasure request from
the contact's card on the customer page, erases the person and finds the request answered in
the list; the list and the request page fit a phone."""

from __future__ import annotations

import re
from typing import Any

import pytest
from django.urls import reverse

from kehu.accounts.models import Role
from kehu.conftest import ARTIFACTS
from kehu.core.testing.browser import sign_in, user_with_password
from kehu.customers import services as customer_services
from kehu.customers.models import Contact
from kehu.governance.models import RequestStatus, SubjectRequest

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_an_erasure_request_from_the_customer_page(page: Any) -> None:
    admin = user_with_password(Role.ADMIN, username="guanli")
    customer = customer_services.customer_create(
        actor=admin,
        data={"name": "常州浏览器测试有限公司"},
        contacts=[{"name": "诸葛明", "email": "zhuge@example.cn"}],
    )
    contact = customer.contacts.get()
    base = page.base_url
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    sign_in(page, "guanli")
    page.goto(base + reverse("customers:detail", args=[customer.pk]))
    card = page.locator("#customer-personal-data-requests")
    card.scroll_into_view_if_needed()
    card.get_by_role("link").first.click()
    page.wait_for_url(f"**{reverse('governance:request_new')}?contact={contact.pk}")
    assert "诸葛明" in page.locator("#request-subject").inner_text()
    page.select_option("#id_kind", "erasure")
    page.click("#request-new-form button[type=submit]")
    page.wait_for_url(re.compile(r"/governance/requests/\d+/$"))
    made = SubjectRequest.objects.get()
    page.on("dialog", lambda dialog: dialog.accept())
    page.get_by_role("button", name="删除并办结").click()
    page.wait_for_selector("#request-status")
    made.refresh_from_db()
    assert made.status == RequestStatus.DONE
    assert not Contact.objects.filter(pk=contact.pk).exists()
    assert "诸葛明" not in page.content()
    page.screenshot(path=str(ARTIFACTS / "pipl-request.png"), full_page=True)
    page.set_viewport_size({"width": 390, "height": 800})
    page.goto(base + reverse("governance:requests"))
    assert page.locator("#request-list tbody tr").count() == 1
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    page.screenshot(path=str(ARTIFACTS / "pipl-requests-phone.png"), full_page=True)
    page.goto(base + reverse("governance:request", args=[made.pk]))
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
