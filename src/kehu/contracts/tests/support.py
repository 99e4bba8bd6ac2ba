"""Test support of the payments area: an approved contract straight through the ORM (the
contracts area's review service is tested there) and payments through the real service."""

from __future__ import annotations

import itertools
from datetime import date
from decimal import Decimal
from typing import Any

from django.utils import timezone

from kehu.accounts.models import User
from kehu.contracts.models import Contract, ContractStatus, Payment
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
        title=f"{deal.name} 合同",
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
