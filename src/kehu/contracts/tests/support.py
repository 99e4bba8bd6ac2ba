"""Test support of the contracts app. Contracts: ``approved_contract(deal)`` drafts, submits
and has the manager approve a contract through the services (the 成交 requirement), for the
shared win helper. Payments: an approved contract straight through the ORM (the
contracts area's review service is tested there) and payments through the real service."""

from __future__ import annotations

import itertools
from datetime import date
from decimal import Decimal
from typing import Any

from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone

from kehu.accounts.models import User
from kehu.contracts.models import Contract, ContractStatus, Payment
from kehu.contracts.services import contracts as contract_services
from kehu.contracts.services import payments as services
from kehu.opportunities.models import Opportunity

_numbers = itertools.count(1)


def payments_contract(
    deal: Opportunity,
    *,
    amount: Decimal | str | int | None = None,
    status: str = ContractStatus.APPROVED,
    reviewer: User | None = None,
    is_repeat_order: bool = False,
) -> Contract:
    """A contract of ``deal`` in ``status`` (approved by default), its amount the deal's."""
    value = Decimal(str(amount)) if amount is not None else deal.amount or Decimal("100000")
    approved = status == ContractStatus.APPROVED
    return Contract.objects.create(
        opportunity=deal,
        number=f"PAY-T-{next(_numbers):05d}",
        title=f"{deal.name[:190]} 合同",
        amount=value,
        status=status,
        signed_on=timezone.localdate() if approved else None,
        reviewed_by=reviewer if approved else None,
        reviewed_at=timezone.now() if approved else None,
        is_repeat_order=is_repeat_order,
        created_by=deal.owner,
    )


def record_payment(
    contract: Contract,
    *,
    amount: Decimal | str | int,
    actor: User | None = None,
    received_on: date | None = None,
    **data: Any,
) -> Payment:
    """A payment recorded through ``payments.payment_record`` (by the deal's owner)."""
    return services.payment_record(
        actor=actor or contract.opportunity.owner,
        contract=contract,
        data={
            "amount": str(amount),
            "received_on": received_on or timezone.localdate(),
            **data,
        },
    )


def contract_file(name: str = "合同.pdf") -> SimpleUploadedFile:
    return SimpleUploadedFile(name, b"%PDF-1.4 contract", content_type="application/pdf")


def draft_contract(
    deal: Opportunity, *, actor: User | None = None, file: bool = True, **data: Any
) -> Contract:
    values: dict[str, Any] = {
        "title": f"{deal.name[:190]} 合同",
        "amount": deal.amount or Decimal("100000"),
        "terms": "验收后30日内付款",
        **data,
    }
    return contract_services.contract_create(
        actor=actor or deal.owner,
        opportunity=deal,
        data=values,
        file=contract_file() if file else None,
    )


def approved_contract(
    deal: Opportunity,
    *,
    actor: User | None = None,
    reviewer: User | None = None,
    **data: Any,
) -> Contract:
    """A contract of ``deal``, drafted by ``actor`` (the owner), submitted and approved by
    ``reviewer`` (default: the owner's manager, else an administrator)."""
    contract = draft_contract(deal, actor=actor, **data)
    contract = contract_services.contract_submit(actor=actor or deal.owner, contract=contract)
    reviewer = reviewer or contract_services.reviewers_of(contract)[0]
    return contract_services.contract_approve(actor=reviewer, contract=contract, comment="同意")
