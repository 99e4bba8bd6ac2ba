"""The payment record and repeat orders feed the customer grade (contracts.grading)."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal
from typing import Any

import pytest
from django.utils import timezone

from kehu.contracts.grading import contract_grade_input, installment_record
from kehu.contracts.models import Contract, ContractStatus, PaymentPlan
from kehu.contracts.tests.support import record_payment
from kehu.core.testing.factories import Organisation
from kehu.customers import grading
from kehu.opportunities.tests.factories import make_customer, make_opportunity

D = Decimal


def test_installments_on_time_late_and_overdue() -> None:
    today = date(2026, 6, 30)
    since = date(2025, 7, 1)
    plans = [(date(2026, 1, 31), D(100)), (date(2026, 3, 31), D(100)), (date(2026, 5, 31), D(100))]
    # the first paid early, the second a week late, the third not at all (overdue)
    payments = [(date(2026, 1, 20), D(100)), (date(2026, 4, 7), D(100))]
    assert installment_record(plans, payments, today=today, since=since) == (1, 2)
    # one payment covering two installments in advance: both on time
    early = [(date(2026, 1, 1), D(200))]
    assert installment_record(plans[:2], early, today=today, since=since) == (2, 0)
    # an installment not yet due and not paid does not count; one before the window neither
    later = [(date(2026, 8, 31), D(100)), (date(2024, 1, 31), D(50))]
    assert installment_record(later, [(date(2024, 1, 1), D(50))], today=today, since=since) == (
        0,
        0,
    )


def _contract(deal: Any, amount: str, **data: Any) -> Contract:
    values: dict[str, Any] = {
        "opportunity": deal,
        "number": f"HT-{Contract.objects.count() + 1:04}",
        "title": "设备采购合同",
        "amount": D(amount),
        "status": ContractStatus.APPROVED,
        "signed_on": timezone.localdate(),
        **data,
    }
    return Contract.objects.create(**values)


@pytest.mark.django_db(transaction=True)
def test_overdue_payments_keep_a_customer_from_a(org: Organisation) -> None:
    customer = make_customer(org.rep, annual_budget=D("600000"))
    assert customer.grade == "A"  # the budget stands in: no order yet
    deal = make_opportunity(org.rep, customer=customer, amount=D("600000"))
    contract = _contract(deal, "600000")
    today = timezone.localdate()
    first = PaymentPlan.objects.create(
        contract=contract, sequence=1, due_on=today - timedelta(days=60), amount=D("300000")
    )
    PaymentPlan.objects.create(
        contract=contract, sequence=2, due_on=today - timedelta(days=10), amount=D("300000")
    )
    value = contract_grade_input([customer.pk])[customer.pk]
    assert (value.paid_on_time, value.paid_late) == (0, 2)  # both overdue
    strategic = grading.GradeInput(amount=D("600000"), orders=1)
    both = grading.decide(
        grading.GradeInput(amount=D("600000"), orders=1, paid_on_time=0, paid_late=2)
    )
    assert grading.decide(strategic).grade == "A"
    assert both.grade == "C"  # A needs 80% on time, B 60%
    assert [check.code for check in both.higher[0].failed] == ["on_time_rate"]

    # recording a payment regrades the customer after the commit
    record_payment(contract, amount="300000", plan=first.pk, received_on=today - timedelta(days=61))
    value = contract_grade_input([customer.pk])[customer.pk]
    assert (value.paid_on_time, value.paid_late) == (1, 1)
    customer.refresh_from_db()
    assert customer.grade == "C"  # 50% on time: neither A (80%) nor B (60%)
    history = customer.history.first()
    assert history is not None
    assert history.history_change_reason in {
        "Grade recomputed: payment record",
        "重新计算分级：回款记录",
    }


@pytest.mark.django_db
def test_a_repeat_order_is_one_more_order(org: Organisation) -> None:
    customer = make_customer(org.rep)
    deal = make_opportunity(org.rep, customer=customer, amount=D("80000"))
    _contract(deal, "80000")
    _contract(deal, "50000", is_repeat_order=True)
    _contract(deal, "70000", is_repeat_order=True, status=ContractStatus.DRAFT)
    value = contract_grade_input([customer.pk])[customer.pk]
    assert (value.amount, value.orders) == (D("50000"), 1)
    alone = make_customer(org.rep)
    _contract(make_opportunity(org.rep, customer=alone), "90000", is_repeat_order=True)
    assert contract_grade_input([alone.pk]).get(alone.pk, grading.GradeInput()).orders == 0


@pytest.mark.django_db
def test_contract_input_takes_a_fixed_number_of_queries(
    org: Organisation, django_assert_max_num_queries: Any
) -> None:
    customers = [make_customer(org.rep) for _ in range(3)]
    for customer in customers:
        contract = _contract(make_opportunity(org.rep, customer=customer), "1000")
        PaymentPlan.objects.create(contract=contract, due_on=timezone.localdate(), amount=D(1000))
    with django_assert_max_num_queries(4):  # and the window setting, cached afterwards
        assert len(contract_grade_input([c.pk for c in customers])) == 3
