"""Test support: contracts made the way users make them (through the services).

``approved_contract(deal)`` drafts a contract on the deal as its owner, submits it and has the
owner's manager (or an admin) approve it, so the deal meets the 成交 stage's
``contract_approved`` requirement. The integrator wires it into the shared win helper.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from django.core.files.uploadedfile import SimpleUploadedFile

from kehu.accounts.models import User
from kehu.contracts.models import Contract
from kehu.contracts.services import contracts as services
from kehu.opportunities.models import Opportunity


def contract_file(name: str = "合同.pdf") -> SimpleUploadedFile:
    return SimpleUploadedFile(name, b"%PDF-1.4 contract", content_type="application/pdf")


def draft_contract(
    deal: Opportunity, *, actor: User | None = None, file: bool = True, **data: Any
) -> Contract:
    values: dict[str, Any] = {
        "title": f"{deal.name} 合同",
        "amount": deal.amount or Decimal("100000"),
        "terms": "验收后30日内付款",
        **data,
    }
    return services.contract_create(
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
    contract = services.contract_submit(actor=actor or deal.owner, contract=contract)
    reviewer = reviewer or services.reviewers_of(contract)[0]
    return services.contract_approve(actor=reviewer, contract=contract, comment="同意")
