"""``kehu demo``'s contracts step: approved contracts for won deals (drafted by the owner,
approved by the owner's manager, through the services) with their payment plans and payments
received, and one contract waiting for review, so the manager's "to review" box, the
collections panel and the overdue reminders have something in them."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

from django.db.models import Q
from django.utils import timezone

from kehu.accounts.models import Role
from kehu.contracts.models import Contract, ContractStatus
from kehu.contracts.services import contracts as services
from kehu.contracts.services import payments
from kehu.core.demo import DemoRun, DemoStep
from kehu.opportunities.models import Opportunity, StageKind

APPROVED = 40
TERMS = (
    "1. 乙方于合同签订后30日内交付并完成安装调试；\n"
    "2. 付款方式：合同签订后预付30%，验收合格后支付60%，质保期满支付10%；\n"
    "3. 质保期一年，7×24小时电话支持。"
)


def _deals(kind_filter: Q, limit: int) -> list[Opportunity]:
    """Deals without a contract, the furthest along first (谈判签约 before 方案提交)."""
    return list(
        Opportunity.objects.filter(kind_filter)
        .filter(owner__is_active=True, owner__role__in=[Role.SALES, Role.MANAGER])
        .exclude(pk__in=Contract.objects.values("opportunity_id"))
        .select_related("owner", "stage", "customer")
        .order_by("-stage__order", "-pk")[:limit]
    )


def _draft(deal: Opportunity, index: int) -> Contract:
    today = timezone.localdate()
    return services.contract_create(
        actor=deal.owner,
        opportunity=deal,
        data={
            "title": f"{deal.customer.name} 采购合同"[:200],
            "amount": deal.amount or 100000,
            "signed_on": today - timedelta(days=index),
            "starts_on": today - timedelta(days=index),
            "ends_on": today - timedelta(days=index) + timedelta(days=365),
            "terms": TERMS,
        },
    )


def _collect(contract: Contract, index: int) -> None:
    """30% on signing, 60% after acceptance (60 days on), 10% after the warranty year; the
    advance is received, every third contract has its acceptance payment too (on time or, for
    older ones, overdue), every seventh is paid in full and goes on to 回款/复购."""
    signed = contract.signed_on or timezone.localdate()
    owner = contract.opportunity.owner
    amount = contract.amount
    shares = (
        (signed, "0.3"),
        (signed + timedelta(days=60), "0.6"),
        (signed + timedelta(days=365), "0.1"),
    )
    plans = [
        payments.plan_create(
            actor=owner,
            contract=contract,
            data={"due_on": due, "amount": (amount * Decimal(share)).quantize(Decimal("0.01"))},
        )
        for due, share in shares
    ]
    received = plans[: 3 if index % 7 == 0 else 2 if index % 3 == 0 else 1]
    today = timezone.localdate()
    for plan in received:
        payments.payment_record(
            actor=owner,
            contract=contract,
            data={
                "amount": plan.amount,
                "received_on": min(plan.due_on, today),
                "plan": plan.pk,
                "invoice_number": f"No.{contract.number}-{plan.sequence}",
                "invoice_status": "issued",
            },
        )


def make_contracts(*, approved: int = APPROVED) -> int:
    made = 0
    for index, deal in enumerate(_deals(Q(stage__kind=StageKind.WON), approved)):
        contract = _draft(deal, index)
        reviewers = services.reviewers_of(contract)
        if not reviewers:
            continue
        services.contract_submit(actor=deal.owner, contract=contract)
        contract = services.contract_approve(
            actor=reviewers[0], contract=contract, comment="条款已核对"
        )
        _collect(contract, index)
        made += 1
    for deal in _deals(Q(stage__kind=StageKind.OPEN), 1):
        contract = _draft(deal, 0)
        if services.reviewers_of(contract):
            services.contract_submit(actor=deal.owner, contract=contract)
        made += 1
    return made


def _step(run: DemoRun) -> str:
    return f"{make_contracts()} contracts"


def _has_data() -> bool:
    return Contract.objects.filter(status=ContractStatus.APPROVED).exists()


CONTRACTS = DemoStep(key="contracts", order=32, run=_step, has_data=_has_data)
