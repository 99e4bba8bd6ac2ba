"""The handbooks' sales process end to end in Debian's chromium (issue: stage criteria,
contract review, payments and grading together).

A rep tries to jump a new deal from 初步接触 to 谈判签约 and is told what each skipped stage
lacks; fills the needs, the amount and the close date, attaches the proposal and moves again;
drafts and submits the contract, which the manager approves; plans two installments, records
the first, wins the deal, records the final payment, and the deal reaches 回款/复购. The
customer, a D without any business before, is graded from the won deal and its payment record,
with the reasons on the customer page.
"""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from django.urls import reverse
from django.utils import timezone

from kehu.accounts import services as accounts
from kehu.accounts.models import Role
from kehu.conftest import ARTIFACTS
from kehu.contracts.models import Contract, ContractStatus, Payment
from kehu.core.testing.browser import sign_in, user_with_password
from kehu.customers.models import Customer
from kehu.opportunities import services as deals
from kehu.opportunities.models import Opportunity
from kehu.opportunities.tests.factories import make_customer

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture(autouse=True)
def _media(settings: Any, tmp_path: Path) -> None:
    settings.MEDIA_ROOT = tmp_path / "media"


def shot(page: Any, name: str) -> None:
    target = ARTIFACTS / "sales-process" / f"{name}.png"
    target.parent.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(target), full_page=True)


def stage_of(deal: Opportunity) -> str:
    return Opportunity.objects.select_related("stage").get(pk=deal.pk).stage.code


def test_a_deal_from_first_contact_to_paid_grades_its_customer(page: Any, tmp_path: Path) -> None:
    east = accounts.department_create(name="华东区")
    rep = user_with_password(Role.SALES, department=east, username="xiaoli")
    user_with_password(Role.MANAGER, department=east, username="wangjingli")
    customer = make_customer(rep, name="苏州恒远精密机械有限公司")
    assert customer.grade == "D"
    deal = deals.opportunity_create(
        actor=rep, customer=customer, data={"name": "MES 一期", "needs": ""}
    )
    assert stage_of(deal) == "initial_contact"
    proposal = tmp_path / "MES方案.pdf"
    proposal.write_bytes(b"%PDF-1.4 proposal")
    scan = tmp_path / "合同扫描件.pdf"
    scan.write_bytes(b"%PDF-1.4 contract")
    base = page.base_url
    deal_url = base + reverse("opportunities:detail", args=[deal.pk])
    today = timezone.localdate()

    # 1. a jump to 谈判签约 is refused, naming what each skipped stage lacks
    sign_in(page, "xiaoli")
    page.goto(deal_url)
    page.select_option("#move-form select[name=stage]", "negotiation")
    page.click("#move-form button[type=submit]")
    page.wait_for_load_state()
    refusal = page.locator(".alert-danger").first.inner_text()
    for stage in ("需求分析", "方案提交", "谈判签约"):
        assert stage in refusal
    assert stage_of(deal) == "initial_contact"
    shot(page, "1-skip-refused")

    # 2. the rep fills the needs, amount and close date, attaches the proposal, moves again
    page.goto(base + reverse("opportunities:edit", args=[deal.pk]))
    page.fill("#id_needs", "产线数据采集、设备联网，预算30万，年内上线")
    page.fill("#id_amount", "300000")
    page.fill("#id_expected_close", (today + timedelta(days=30)).isoformat())
    page.fill("#id_floor_price", "260000")
    page.click("#opportunity-form button[type=submit]")
    page.wait_for_url(deal_url)
    page.select_option("#attachment-form select[name=kind]", "proposal")
    page.set_input_files("#attachment-form input[type=file]", str(proposal))
    page.click("#attachment-form button[type=submit]")
    page.wait_for_load_state()
    page.select_option("#move-form select[name=stage]", "negotiation")
    page.click("#move-form button[type=submit]")
    page.wait_for_load_state()
    assert stage_of(deal) == "negotiation"

    # 3. winning before the contract is approved is refused
    page.once("dialog", lambda dialog: dialog.accept())
    page.click("#win-button")
    page.wait_for_load_state()
    assert stage_of(deal) == "negotiation"
    assert page.locator(".alert-danger").first.is_visible()

    # 4. the rep drafts and submits the contract; the manager approves it
    page.goto(deal_url)
    page.click("#draft-contract")
    page.fill("#id_terms", "预付30%，验收后付清余款")
    page.set_input_files("#id_file", str(scan))
    page.click("#save-contract")
    contract = Contract.objects.get(opportunity=deal)
    page.wait_for_url(f"**/contracts/{contract.pk}/")
    page.click("#submit-contract")
    page.wait_for_load_state()
    page.context.clear_cookies()
    sign_in(page, "wangjingli")
    page.goto(base + reverse("contracts:contract_detail", args=[contract.pk]))
    page.click("#approve-contract")
    page.wait_for_load_state()
    assert Contract.objects.get(pk=contract.pk).status == ContractStatus.APPROVED
    page.context.clear_cookies()

    # 5. two installments, the first received, then the deal is won
    sign_in(page, "xiaoli")
    page.goto(deal_url)
    for due, amount in ((today, "90000"), (today + timedelta(days=60), "210000")):
        page.fill(f"#plan-due-{contract.pk}", due.isoformat())
        page.fill(f"#plan-amount-{contract.pk}", amount)
        page.click(f"#plan-form-{contract.pk} button[type=submit]")
        page.wait_for_load_state()
    page.fill(f"#pay-amount-{contract.pk}", "90000")
    page.fill(f"#pay-invoice-{contract.pk}", "No.20260001")
    page.click(f"#payment-form-{contract.pk} button[type=submit]")
    page.wait_for_load_state()
    page.once("dialog", lambda dialog: dialog.accept())
    page.click("#win-button")
    page.wait_for_load_state()
    assert stage_of(deal) == "won"
    shot(page, "2-won")

    # 6. the final payment takes the deal to 回款/复购
    page.fill(f"#pay-amount-{contract.pk}", "210000")
    page.click(f"#payment-form-{contract.pk} button[type=submit]")
    page.wait_for_load_state()
    assert stage_of(deal) == "paid"
    assert Payment.objects.filter(contract=contract).count() == 2
    history = page.locator("#stage-history").inner_text()
    for stage in ("初步接触", "谈判签约", "成交", "回款/复购"):
        assert stage in history

    # 7. the customer is graded from the business, with the reasons on its page
    customer = Customer.objects.get(pk=customer.pk)
    assert customer.grade == "B"  # ¥300k won this year, every installment on time
    page.goto(base + reverse("customers:detail", args=[customer.pk]))
    page.evaluate("window.scrollTo(0, document.body.scrollHeight)")
    card = page.locator("#customer-grade")
    card.wait_for()
    card.scroll_into_view_if_needed()
    assert "B" in page.locator("#grade-computed").inner_text()
    assert page.locator("#grade-figures").is_visible()
    shot(page, "3-graded")
    assert Decimal(customer.annual_budget or 0) == 0  # the grade came from the deal, not a budget
