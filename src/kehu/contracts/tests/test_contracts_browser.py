"""A contract in a real browser: the rep drafts it from the deal page (the drafting task's due
date shown), submits it; the manager returns it with a comment; the rep edits and resubmits;
the author sees no review buttons; the manager approves; the deal can then be won."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from importlib import import_module
from pathlib import Path
from typing import Any

import pytest
from django.urls import reverse
from django.utils import timezone

from kehu.accounts import services as accounts
from kehu.accounts.models import Role
from kehu.conftest import ARTIFACTS
from kehu.contracts.models import Contract, ContractStatus
from kehu.core.testing.browser import sign_in, user_with_password
from kehu.opportunities import services as deals
from kehu.opportunities.models import Opportunity
from kehu.opportunities.tests.factories import make_customer, proposal_file

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture(autouse=True)
def _stages(transactional_db: None, settings: Any, tmp_path: Path) -> None:
    """Transactional tests flush the tables: put the seeded stages (and 成交's contract
    requirement) back."""
    from django.apps import apps

    settings.MEDIA_ROOT = tmp_path / "media"
    import_module("kehu.opportunities.migrations.0002_seed_stages").seed(apps, None)
    import_module("kehu.contracts.migrations.0003_won_requires_approved_contract").add(apps, None)


def test_draft_return_resubmit_and_approve_a_contract(page: Any, tmp_path: Path) -> None:
    east = accounts.department_create(name="华东区")
    shanghai = accounts.department_create(name="上海组", parent=east)
    rep = user_with_password(Role.SALES, department=shanghai, username="xiaoli")
    user_with_password(Role.MANAGER, department=east, username="wangjingli")
    customer = make_customer(rep, name="上海华瑞精密机械有限公司")
    deal = deals.opportunity_create(
        actor=rep,
        customer=customer,
        data={
            "name": "产线数据采集项目",
            "stage": "needs_analysis",
            "amount": Decimal("480000"),
            "needs": "产线数据采集",
            "expected_close": timezone.localdate() + timedelta(days=30),
        },
    )
    deals.attachment_add(actor=rep, opportunity=deal, kind="proposal", file=proposal_file())
    deal = deals.opportunity_move_stage(actor=rep, opportunity=deal, stage="proposal")
    deals.opportunity_move_stage(actor=rep, opportunity=deal, stage="negotiation")
    scan = tmp_path / "合同扫描件.pdf"
    scan.write_bytes(b"%PDF-1.4 signed contract")
    base = page.base_url
    deal_url = base + reverse("opportunities:detail", args=[deal.pk])
    ARTIFACTS.mkdir(parents=True, exist_ok=True)

    # the rep drafts it from the deal page and submits it
    sign_in(page, "xiaoli")
    page.goto(deal_url)
    assert page.locator("#contract-draft-due").is_visible()
    page.click("#draft-contract")
    page.fill("#id_terms", "预付30%，验收后60%，质保期满10%")
    page.set_input_files("#id_file", str(scan))
    page.click("#save-contract")
    contract = Contract.objects.get(opportunity=deal)
    page.wait_for_url(f"**/contracts/{contract.pk}/")
    assert contract.number in page.inner_text("#contract-title")
    page.click("#submit-contract")
    page.wait_for_load_state()
    assert page.locator("#contract-status").inner_text() in ("In review", "审核中")
    assert page.locator("#review-panel").count() == 0  # the author cannot review
    assert page.locator("#contract-waiting").is_visible()
    page.context.clear_cookies()

    # the manager finds it in "to review" and returns it with a comment
    sign_in(page, "wangjingli")
    page.goto(base + reverse("contracts:list"))
    page.click(f"#contract-table a:has-text('{contract.number}')")
    page.wait_for_url(f"**/contracts/{contract.pk}/")
    page.fill("#id_comment", "请补充验收标准和违约责任")
    page.click("#return-contract")
    page.wait_for_load_state()
    assert Contract.objects.get(pk=contract.pk).status == ContractStatus.RETURNED
    page.context.clear_cookies()

    # the rep reads the comment, edits and resubmits
    sign_in(page, "xiaoli")
    page.goto(base + reverse("contracts:contract_detail", args=[contract.pk]))
    assert "请补充验收标准" in page.inner_text("#contract-returned")
    page.click("#edit-contract")
    page.fill(
        "#id_terms", "预付30%，验收后60%，质保期满10%；验收标准见附件二；逾期交付每日万分之五"
    )
    page.click("#save-contract")
    page.wait_for_url(f"**/contracts/{contract.pk}/")
    page.click("#submit-contract")
    page.wait_for_load_state()
    assert Contract.objects.get(pk=contract.pk).status == ContractStatus.IN_REVIEW
    page.context.clear_cookies()

    # the manager approves
    sign_in(page, "wangjingli")
    page.goto(base + reverse("contracts:contract_detail", args=[contract.pk]))
    page.click("#approve-contract")
    page.wait_for_load_state()
    assert Contract.objects.get(pk=contract.pk).status == ContractStatus.APPROVED
    assert page.locator("#contract-reviews li").count() == 2
    page.screenshot(path=str(ARTIFACTS / "contract-approved.png"), full_page=True)
    page.context.clear_cookies()

    # the deal can now be won
    sign_in(page, "xiaoli")
    page.goto(deal_url)
    page.once("dialog", lambda dialog: dialog.accept())
    page.click("#win-button")
    page.wait_for_load_state()
    assert Opportunity.objects.get(pk=deal.pk).stage.code == "won"
