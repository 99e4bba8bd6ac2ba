"""Payments in a real browser: the rep plans two installments on the approved contract,
records the first, wins the deal (成交 needs that first payment), records the final one, and
the deal is 回款/复购."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from importlib import import_module
from typing import Any

import pytest
from django.urls import reverse
from django.utils import timezone

from kehu.accounts import services as accounts
from kehu.accounts.models import Role
from kehu.conftest import ARTIFACTS
from kehu.contracts.models import Payment
from kehu.contracts.tests.support import payments_contract
from kehu.core.testing.browser import sign_in, user_with_password
from kehu.core.testing.deals import advance
from kehu.opportunities import services as deals
from kehu.opportunities.models import Opportunity
from kehu.opportunities.tests.factories import make_customer

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture(autouse=True)
def _stages(transactional_db: None) -> None:
    """Transactional tests flush the tables: put the seeded stages and 成交's first-payment
    requirement back."""
    from django.apps import apps

    import_module("kehu.opportunities.migrations.0002_seed_stages").seed(apps, None)
    import_module("kehu.contracts.migrations.0002_first_payment_requirement").add(apps, None)


def test_plan_record_win_and_collect(page: Any) -> None:
    east = accounts.department_create(name="华东区")
    rep = user_with_password(Role.SALES, department=east, username="xiaoli")
    manager = user_with_password(Role.MANAGER, department=east, username="wangjingli")
    customer = make_customer(rep, name="上海华瑞精密机械有限公司")
    deal = deals.opportunity_create(
        actor=rep,
        customer=customer,
        data={"name": "产线数据采集项目", "amount": Decimal("300000"), "needs": "产线数据采集"},
    )
    deal = advance(deal, "negotiation", rep)  # the open stages' criteria met
    contract = payments_contract(deal, reviewer=manager)
    base = page.base_url
    today = timezone.localdate()
    url = base + reverse("opportunities:detail", args=[deal.pk])

    sign_in(page, "xiaoli")
    page.goto(url)
    card = page.locator("#deal-section-payments")
    assert card.is_visible()
    # two installments: 30% now, the rest in 60 days
    for due, amount in ((today, "90000"), (today + timedelta(days=60), "210000")):
        page.fill(f"#plan-due-{contract.pk}", due.isoformat())
        page.fill(f"#plan-amount-{contract.pk}", amount)
        page.click(f"#plan-form-{contract.pk} button[type=submit]")
        page.wait_for_load_state()
    assert page.locator(f"#plans-{contract.pk} .plan-row").count() == 2

    # winning before the first payment is refused, naming the requirement
    page.once("dialog", lambda dialog: dialog.accept())
    page.click("#win-button")
    page.wait_for_load_state()
    assert Opportunity.objects.get(pk=deal.pk).stage.code != "won"

    # too much without a reason: the form names the amount
    page.goto(url)
    page.fill(f"#pay-amount-{contract.pk}", "400000")
    page.click(f"#payment-form-{contract.pk} button[type=submit]")
    page.wait_for_url("**/record/")
    assert page.locator(
        "#payment-form .invalid-feedback, #payment-form .errorlist"
    ).first.is_visible()
    assert not Payment.objects.exists()

    # the first installment
    page.goto(url)
    page.fill(f"#pay-amount-{contract.pk}", "90000")
    page.select_option(f"#pay-method-{contract.pk}", "bank_transfer")
    page.fill(f"#pay-invoice-{contract.pk}", "No.20260001")
    page.select_option(f"#pay-invoice-status-{contract.pk}", "issued")
    page.click(f"#payment-form-{contract.pk} button[type=submit]")
    page.wait_for_load_state()
    assert page.locator(f"#payments-{contract.pk} .payment-row").count() == 1

    # now the deal can be won
    page.once("dialog", lambda dialog: dialog.accept())
    page.click("#win-button")
    page.wait_for_load_state()
    assert Opportunity.objects.get(pk=deal.pk).stage.code == "won"

    # the final payment takes it to 回款/复购
    page.goto(url)
    page.fill(f"#pay-amount-{contract.pk}", "210000")
    page.click(f"#payment-form-{contract.pk} button[type=submit]")
    page.wait_for_load_state()
    assert page.locator("#payments-fully-paid").is_visible()
    assert Opportunity.objects.get(pk=deal.pk).stage.code == "paid"
    assert "回款/复购" in page.content() or "Paid / repeat order" in page.content()
    page.screenshot(path=str(ARTIFACTS / "payments-paid.png"), full_page=True)
