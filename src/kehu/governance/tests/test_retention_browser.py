"""An administrator reviews next month's destruction list in the browser and approves it;
the customer is gone from search and its tombstone is in the audit trail."""

from __future__ import annotations

from typing import Any

import pytest

from kehu.conftest import ARTIFACTS
from kehu.core.models import AuditEntry
from kehu.core.testing.browser import BROWSER_PASSWORD, sign_in
from kehu.core.testing.factories import make_organisation
from kehu.customers.models import Customer
from kehu.governance.tests.retention_support import customer_at

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_an_admin_approves_the_review_and_the_customer_is_gone(page: Any) -> None:
    org = make_organisation()
    org.admin.set_password(BROWSER_PASSWORD)
    org.admin.save(update_fields=["password"])
    customer = customer_at(org, days_ago=4 * 366)
    name = customer.name

    sign_in(page, "admin")
    page.goto(f"{page.base_url}/customers/?q={name}")
    assert name in page.locator("#customer-results").inner_text()  # search finds it first
    page.goto(f"{page.base_url}/governance/retention/")
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "retention_policies.png"), full_page=True)
    page.click("#retention-prepare")
    page.wait_for_selector("#batch-items")
    assert name in page.locator("#batch-items").inner_text()
    page.screenshot(path=str(ARTIFACTS / "retention_review.png"), full_page=True)
    page.click("#batch-approve")
    page.wait_for_selector("#batch-items")

    assert not Customer.objects.filter(pk=customer.pk).exists()
    assert name not in page.content()
    page.goto(f"{page.base_url}/customers/?q={name}")
    assert name not in page.locator("#customer-results").inner_text()
    stone = AuditEntry.objects.get(action="governance.destruction")
    assert stone.actor_id == org.admin.pk
    assert stone.details["policy"] == "customer.churned"
