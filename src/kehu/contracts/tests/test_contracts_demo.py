"""``kehu demo`` makes approved contracts for won deals and one contract in review."""

from __future__ import annotations

from pathlib import Path

import pytest

from kehu.contracts.models import Contract, ContractReview, ContractStatus, Payment, PaymentPlan
from kehu.core.demo import _steps
from kehu.opportunities.models import Opportunity


def test_the_step_runs_after_the_deals() -> None:
    step = _steps["contracts"]
    assert step.order > _steps["opportunities"].order
    assert not step.bulk


@pytest.mark.django_db
def test_the_demo_company_has_contracts(tmp_path: Path) -> None:
    from kehu.core.testing.fuzzdata import seed_company

    found = seed_company(customers=60, files=tmp_path)
    assert found["contract_id"]
    approved = Contract.objects.filter(status=ContractStatus.APPROVED).select_related(
        "opportunity__stage"
    )
    assert approved.exists()
    assert all(row.opportunity.stage.kind == "won" for row in approved)
    assert Contract.objects.filter(status=ContractStatus.IN_REVIEW).count() == 1
    for row in approved:
        review = ContractReview.objects.get(contract=row)
        assert review.reviewer_id not in (row.created_by_id, row.opportunity.owner_id)
    # each approved contract has its three installments and at least the advance received
    for row in approved:
        assert PaymentPlan.objects.filter(contract=row).count() == 3
        assert Payment.objects.filter(contract=row).exists()
    assert Opportunity.objects.filter(contracts__in=approved, stage__code="paid").exists()
