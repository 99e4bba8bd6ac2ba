"""Contracts feed the customer grade (客户分级): the payment record and the repeat orders.

``contract_grade_input`` is registered with ``customers.grading.register_grade_input``. It
reads the approved contracts of the customers (three queries, whatever their number):

- **payment record**: each installment (``PaymentPlan``) due in the grading window is *on
  time* when the payments received on or before its due date cover it (the contract's
  installments are covered in due order by the total received, whether or not a payment names
  its installment), *late* when it was covered after its due date or is still not covered past
  it (overdue). An installment due later that is already covered counts as on time; one due
  later and not covered does not count yet.
- **repeat orders** (复购): an approved contract marked as a repeat order, signed (or approved)
  in the window, on a deal that has an earlier approved contract, is one more order with its
  amount: the deal itself counted once when it was won (``opportunities.grading``).

Recording or removing a payment, and approving a repeat order, regrade the customer after the
commit (``regrade_later``, called by those services); the nightly job catches installments
falling overdue.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from datetime import date
from decimal import Decimal
from typing import Any

from django.db import transaction
from django.utils import timezone

from kehu.contracts.models import Contract, ContractStatus, Payment, PaymentPlan
from kehu.customers import grading
from kehu.customers.services import customer_recompute_grades
from kehu.opportunities.grading import window_start


def installment_record(
    plans: Sequence[tuple[date, Decimal]],
    payments: Sequence[tuple[date, Decimal]],
    *,
    today: date,
    since: date,
) -> tuple[int, int]:
    """(on time, late) installments of one contract; ``plans`` (due, amount) and
    ``payments`` (received, amount) in any order."""
    received = sorted(payments)
    on_time = late = 0
    needed = Decimal(0)
    for due_on, amount in sorted(plans):
        needed += Decimal(amount)
        covered_on: date | None = None
        total = Decimal(0)
        for received_on, paid in received:
            total += Decimal(paid)
            if total >= needed:
                covered_on = received_on
                break
        if due_on < since:
            continue  # before the window
        if covered_on is not None and covered_on <= due_on:
            on_time += 1
        elif covered_on is not None or due_on < today:
            late += 1  # paid after the due date, or overdue
    return on_time, late


def contract_grade_input(customer_ids: Sequence[int]) -> dict[int, grading.GradeInput]:
    """{customer id: GradeInput(repeat-order amount and orders, installments on time / late)}."""
    ids = list(customer_ids)
    since_at = window_start()
    since = timezone.localtime(since_at).date()
    today = timezone.localdate()
    contracts = list(
        Contract.objects.filter(
            opportunity__customer_id__in=ids, status=ContractStatus.APPROVED
        ).values_list(
            "id",
            "opportunity_id",
            "opportunity__customer_id",
            "is_repeat_order",
            "amount",
            "signed_on",
            "reviewed_at",
        )
    )
    if not contracts:
        return {}
    contract_ids = [row[0] for row in contracts]
    plans: dict[int, list[tuple[date, Decimal]]] = defaultdict(list)
    for contract_id, due_on, amount in PaymentPlan.objects.filter(
        contract_id__in=contract_ids
    ).values_list("contract_id", "due_on", "amount"):
        plans[contract_id].append((due_on, amount))
    payments: dict[int, list[tuple[date, Decimal]]] = defaultdict(list)
    for contract_id, received_on, amount in Payment.objects.filter(
        contract_id__in=contract_ids
    ).values_list("contract_id", "received_on", "amount"):
        payments[contract_id].append((received_on, amount))

    figures: dict[int, dict[str, Any]] = defaultdict(
        lambda: {"amount": Decimal(0), "orders": 0, "on_time": 0, "late": 0}
    )
    first_of_deal: dict[int, int] = {}
    for contract_id, deal_id, *_rest in sorted(contracts, key=lambda row: row[0]):
        first_of_deal.setdefault(deal_id, contract_id)
    for contract_id, deal_id, customer_id, repeat, amount, signed_on, reviewed_at in contracts:
        row = figures[customer_id]
        if contract_id in plans:
            on_time, late = installment_record(
                plans[contract_id], payments.get(contract_id, []), today=today, since=since
            )
            row["on_time"] += on_time
            row["late"] += late
        ordered_on = signed_on or (timezone.localtime(reviewed_at).date() if reviewed_at else None)
        if repeat and first_of_deal[deal_id] != contract_id and ordered_on and ordered_on >= since:
            row["amount"] += Decimal(amount)
            row["orders"] += 1
    return {
        customer_id: grading.GradeInput(
            amount=row["amount"],
            orders=row["orders"],
            paid_on_time=row["on_time"],
            paid_late=row["late"],
        )
        for customer_id, row in figures.items()
    }


def regrade_later(contract: Contract, *, reason: str) -> None:
    """Regrade the contract's customer once the write (a payment, an approved repeat order)
    commits."""
    customer_id = (
        Contract.objects.filter(pk=contract.pk)
        .values_list("opportunity__customer_id", flat=True)
        .first()
    )
    if customer_id is None:
        return
    transaction.on_commit(
        lambda: customer_recompute_grades(customer_ids=[customer_id], reason=reason)
    )
