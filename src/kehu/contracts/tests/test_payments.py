"""Payment plans and payments: the rules of the services, 成交's first payment, 回款/复购 by the
final payment or a repeat order, overdue reminders, collected vs expected."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest
from django.utils import timezone

from kehu.contracts.models import ContractStatus, Payment, PaymentPlan
from kehu.contracts.selectors import payments as selectors
from kehu.contracts.services import contracts as contract_services
from kehu.contracts.services import payments as services
from kehu.contracts.tests.support import payments_contract, record_payment
from kehu.core import config
from kehu.core.errors import Conflict, Forbidden, InvalidInput, NotFound
from kehu.core.testing.deals import prepare
from kehu.core.testing.factories import Organisation
from kehu.notifications.models import Notification
from kehu.opportunities import services as deals
from kehu.opportunities.models import Stage, StageChange
from kehu.opportunities.tests.factories import make_opportunity

pytestmark = pytest.mark.django_db

AMOUNT = Decimal("300000.00")


def deal_with_contract(org: Organisation, **contract: Any) -> Any:
    deal = make_opportunity(org.rep, amount=AMOUNT, needs="产线数据采集")
    return deal, payments_contract(deal, reviewer=org.east_manager, **contract)


def win(org: Organisation, deal: Any) -> Any:
    """Win with the open stages' criteria met (成交's own are what these tests are about)."""
    deal = prepare(deal, "negotiation", org.rep)
    return deals.opportunity_win(actor=org.rep, opportunity=deal)


# --- plans ------------------------------------------------------------------------------------


def test_installments_are_numbered_in_due_order(org: Organisation) -> None:
    _deal, contract = deal_with_contract(org)
    today = timezone.localdate()
    late = services.plan_create(
        actor=org.rep,
        contract=contract,
        data={"due_on": today + timedelta(days=60), "amount": "200000"},
    )
    early = services.plan_create(
        actor=org.rep, contract=contract, data={"due_on": today, "amount": "100,000.00"}
    )
    late.refresh_from_db()
    assert (early.sequence, late.sequence) == (1, 2)
    assert early.amount == Decimal("100000.00")


def test_installments_cannot_exceed_the_contract(org: Organisation) -> None:
    _deal, contract = deal_with_contract(org)
    day = timezone.localdate()
    services.plan_create(actor=org.rep, contract=contract, data={"due_on": day, "amount": "250000"})
    with pytest.raises(InvalidInput) as error:
        services.plan_create(
            actor=org.rep, contract=contract, data={"due_on": day, "amount": "50000.01"}
        )
    assert "amount" in error.value.errors
    assert "50000.00" in error.value.errors["amount"][0]


@pytest.mark.parametrize(
    ("data", "field"),
    [
        ({"due_on": "2026-02-30", "amount": "1"}, "due_on"),
        ({"due_on": "", "amount": "1"}, "due_on"),
        ({"due_on": "1999-12-31", "amount": "1"}, "due_on"),
        ({"due_on": "2026-01-05", "amount": "abc"}, "amount"),
        ({"due_on": "2026-01-05", "amount": "-5"}, "amount"),
        ({"due_on": "2026-01-05", "amount": "0.001"}, "amount"),
        ({"due_on": "2026-01-05", "amount": "NaN"}, "amount"),
        ({"due_on": "2026-01-05", "amount": "1", "sequence": 3}, "sequence"),
    ],
)
def test_bad_plan_input_names_the_field(
    org: Organisation, data: dict[str, Any], field: str
) -> None:
    _deal, contract = deal_with_contract(org)
    with pytest.raises(InvalidInput) as error:
        services.plan_create(actor=org.rep, contract=contract, data=data)
    assert field in error.value.errors
    assert not PaymentPlan.objects.exists()


def test_plan_edit_and_delete_renumber(org: Organisation) -> None:
    _deal, contract = deal_with_contract(org)
    today = timezone.localdate()
    first = services.plan_create(
        actor=org.rep, contract=contract, data={"due_on": today, "amount": "100000"}
    )
    second = services.plan_create(
        actor=org.rep,
        contract=contract,
        data={"due_on": today + timedelta(days=30), "amount": "200000"},
    )
    services.plan_update(
        actor=org.rep, plan=first, data={"due_on": today + timedelta(days=90), "note": "尾款"}
    )
    second.refresh_from_db()
    first.refresh_from_db()
    assert (second.sequence, first.sequence, first.note) == (1, 2, "尾款")
    services.plan_delete(actor=org.rep, plan=second)
    first.refresh_from_db()
    assert first.sequence == 1


# --- who may ------------------------------------------------------------------------------------


def test_scope_and_roles(org: Organisation) -> None:
    _deal, contract = deal_with_contract(org)
    data = {"due_on": timezone.localdate(), "amount": "1000"}
    for outsider in (org.colleague, org.south_rep, org.south_manager, org.marketing, org.service):
        with pytest.raises(NotFound):
            services.plan_create(actor=outsider, contract=contract, data=data)
    services.plan_create(actor=org.east_manager, contract=contract, data=data)
    services.plan_create(actor=org.admin, contract=contract, data=data)
    assert PaymentPlan.objects.count() == 2
    assert services.payment_may_write(org.rep, contract)
    assert not services.payment_may_write(org.colleague, contract)


def test_only_managers_delete_a_payment_with_a_reason(org: Organisation) -> None:
    _deal, contract = deal_with_contract(org)
    payment = record_payment(contract, amount="1000")
    with pytest.raises(Forbidden):
        services.payment_delete(actor=org.rep, payment=payment, reason="录错")
    with pytest.raises(InvalidInput) as error:
        services.payment_delete(actor=org.east_manager, payment=payment, reason=" ")
    assert "reason" in error.value.errors
    services.payment_delete(actor=org.east_manager, payment=payment, reason="录错了金额")
    assert not Payment.objects.exists()
    row = Payment.history.filter(id=payment.pk, history_type="-").get()
    assert row.history_user == org.east_manager
    assert row.history_change_reason == "录错了金额"


# --- payments ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "status", [ContractStatus.DRAFT, ContractStatus.IN_REVIEW, ContractStatus.VOID]
)
def test_payments_need_an_approved_contract(org: Organisation, status: str) -> None:
    _deal, contract = deal_with_contract(org, status=status)
    with pytest.raises(Conflict) as error:
        record_payment(contract, amount="1000")
    assert error.value.code == "contract_not_approved"


def test_a_payment_above_the_open_amount_needs_a_reason(org: Organisation) -> None:
    _deal, contract = deal_with_contract(org)
    record_payment(contract, amount="250000")
    with pytest.raises(InvalidInput) as error:
        record_payment(contract, amount="50000.01")
    assert error.value.code == "payment_exceeds_contract"
    assert "50000.00" in error.value.errors["amount"][0]
    assert Payment.objects.count() == 1
    excess = record_payment(contract, amount="60000", excess_reason="含运费一万元")
    assert excess.excess_reason == "含运费一万元"
    # a reason given for a payment within the open amount is not kept
    _deal2, other = deal_with_contract(org)
    within = record_payment(other, amount="1000", excess_reason="不需要")
    assert within.excess_reason == ""


def test_payment_fields_are_checked(org: Organisation) -> None:
    _deal, contract = deal_with_contract(org)
    tomorrow = timezone.localdate() + timedelta(days=1)
    cases = [
        ({"received_on": tomorrow}, "received_on"),
        ({"method": "bitcoin"}, "method"),
        ({"invoice_status": "issued"}, "invoice_number"),
        ({"invoice_status": "lost"}, "invoice_status"),
        ({"plan": 999999}, "plan"),
        ({"invoice_number": "x" * 61}, "invoice_number"),
    ]
    for data, field in cases:
        with pytest.raises(InvalidInput) as error:
            record_payment(contract, amount="1000", **data)
        assert field in error.value.errors, data
    assert not Payment.objects.exists()


def test_payment_history_and_invoice_update(org: Organisation) -> None:
    _deal, contract = deal_with_contract(org)
    payment = record_payment(contract, amount="90000", method="acceptance_bill")
    assert payment.recorded_by == org.rep
    payment = services.payment_update_invoice(
        actor=org.east_manager,
        payment=payment,
        data={"invoice_number": "No.0451", "invoice_status": "issued"},
    )
    assert (payment.invoice_number, payment.invoice_status) == ("No.0451", "issued")
    latest = payment.history.first()
    assert latest.history_user == org.east_manager
    with pytest.raises(InvalidInput) as error:
        services.payment_update_invoice(actor=org.rep, payment=payment, data={"amount": "1"})
    assert "amount" in error.value.errors
    with pytest.raises(NotFound):
        services.payment_update_invoice(
            actor=org.south_rep, payment=payment, data={"invoice_status": "sent"}
        )


# --- 成交 needs the first payment --------------------------------------------------------------


def test_won_requires_the_first_payment(org: Organisation) -> None:
    deal, contract = deal_with_contract(org)
    won = Stage.objects.get(code="won")
    assert "first_payment" in won.requirements
    with pytest.raises(InvalidInput) as error:
        win(org, deal)
    assert "first_payment" in error.value.errors
    record_payment(contract, amount="90000")
    deal = win(org, deal)
    assert deal.stage.code == "won"


def test_a_payment_on_an_unapproved_contract_does_not_count(org: Organisation) -> None:
    deal, contract = deal_with_contract(org)
    record_payment(contract, amount="90000")
    contract.status = ContractStatus.VOID
    contract.save()
    with pytest.raises(InvalidInput):
        win(org, deal)


def test_the_requirement_is_a_setting(org: Organisation) -> None:
    deal = make_opportunity(org.rep, amount=AMOUNT)
    payments_contract(deal)  # 成交 also needs an approved contract (the contracts area)
    config.put(services.WON_REQUIRES_FIRST_PAYMENT.key, False)
    config.clear_cache()
    assert win(org, deal).stage.code == "won"


# --- 回款/复购 ---------------------------------------------------------------------------


def test_the_final_payment_moves_a_won_deal_to_paid(org: Organisation) -> None:
    deal, contract = deal_with_contract(org)
    record_payment(contract, amount="90000")
    deal = win(org, deal)
    record_payment(contract, amount="200000")
    deal.refresh_from_db()
    assert deal.stage.code == "won"
    record_payment(contract, amount="10000", actor=org.east_manager)
    deal.refresh_from_db()
    assert deal.stage.code == "paid"
    entry = StageChange.objects.filter(opportunity=deal).order_by("-entered_at", "-id").first()
    assert entry is not None
    assert (entry.stage.code, entry.entered_by) == ("paid", org.east_manager)
    assert deal.history.first().history_user == org.east_manager


def test_every_approved_contract_must_be_paid(org: Organisation) -> None:
    deal, first = deal_with_contract(org)
    second = payments_contract(deal, amount="50000", reviewer=org.east_manager)
    record_payment(first, amount="300000")
    deal = win(org, deal)
    deal.refresh_from_db()
    assert deal.stage.code == "won"  # the second contract is still open
    record_payment(second, amount="50000")
    deal.refresh_from_db()
    assert deal.stage.code == "paid"


def test_a_fully_paid_open_deal_stays_until_won(org: Organisation) -> None:
    deal, contract = deal_with_contract(org)
    record_payment(contract, amount=str(AMOUNT))
    deal.refresh_from_db()
    assert deal.is_open
    assert selectors.deal_payments(user=org.rep, opportunity=deal).fully_paid


def test_an_approved_repeat_order_moves_the_won_deal_to_paid(org: Organisation) -> None:
    deal, contract = deal_with_contract(org)
    record_payment(contract, amount="90000")
    deal = win(org, deal)
    repeat = payments_contract(
        deal, amount="80000", status=ContractStatus.IN_REVIEW, is_repeat_order=True
    )
    deal.refresh_from_db()
    assert deal.stage.code == "won"
    contract_services.contract_approve(actor=org.east_manager, contract=repeat)
    deal.refresh_from_db()
    assert deal.stage.code == "paid"
    assert StageChange.objects.filter(opportunity=deal, stage__code="paid").count() == 1


# --- overdue reminders ----------------------------------------------------------------------------


def test_overdue_installments_remind_owner_and_manager_once(org: Organisation) -> None:
    _deal, contract = deal_with_contract(org)
    today = timezone.localdate()
    first = services.plan_create(
        actor=org.rep,
        contract=contract,
        data={"due_on": today - timedelta(days=10), "amount": "100000"},
    )
    services.plan_create(
        actor=org.rep,
        contract=contract,
        data={"due_on": today - timedelta(days=3), "amount": "100000"},
    )
    services.plan_create(
        actor=org.rep,
        contract=contract,
        data={"due_on": today + timedelta(days=30), "amount": "100000"},
    )
    record_payment(contract, amount="100000")  # covers the first installment
    assert services.overdue_notify(today=today) == 1
    notes = Notification.objects.filter(kind="payment_overdue")
    assert {n.recipient for n in notes} == {org.rep, org.east_manager}
    assert notes.first().title.rstrip("期").endswith("2")  # the second installment
    assert services.overdue_notify(today=today) == 0
    first.refresh_from_db()
    assert first.overdue_notified_at is None  # it was paid


def test_overdue_grace_days(org: Organisation) -> None:
    _deal, contract = deal_with_contract(org)
    today = timezone.localdate()
    services.plan_create(
        actor=org.rep,
        contract=contract,
        data={"due_on": today - timedelta(days=3), "amount": "100000"},
    )
    config.put(services.OVERDUE_GRACE_DAYS.key, 5)
    config.clear_cache()
    assert services.overdue_notify(today=today) == 0
    assert services.overdue_notify(today=today + timedelta(days=3)) == 1


# --- collected vs expected -----------------------------------------------------------------------


def test_collections_by_month_rep_and_department(org: Organisation) -> None:
    _deal, contract = deal_with_contract(org)
    today = timezone.localdate()
    start = today.replace(day=1)
    services.plan_create(
        actor=org.rep, contract=contract, data={"due_on": start, "amount": "100000"}
    )
    record_payment(contract, amount="40000", received_on=start)
    _south_deal = make_opportunity(org.south_rep, amount=AMOUNT)
    south = payments_contract(_south_deal, reviewer=org.south_manager)
    record_payment(south, amount="5000", received_on=start)

    mine = selectors.collections(user=org.rep, start=start, end=today, group="none")
    assert (mine.expected, mine.collected, mine.rate) == (
        Decimal("100000"),
        Decimal("40000"),
        40.0,
    )
    everyone = selectors.collections(user=org.admin, start=start, end=today, group="owner")
    by_owner = {row.label: row.collected for row in everyone.rows}
    assert by_owner == {str(org.rep): Decimal("40000"), str(org.south_rep): Decimal("5000")}
    teams = selectors.collections(user=org.east_manager, start=start, end=today, group="department")
    assert [(row.label, row.collected) for row in teams.rows] == [("上海组", Decimal("40000"))]
    months = selectors.collections(user=org.admin, start=start, end=today, group="month")
    assert [row.label for row in months.rows] == [start.strftime("%Y-%m")]
    overdue = selectors.collections(
        user=org.rep, start=start, end=today + timedelta(days=1), group="none"
    )
    if start < today:
        assert (overdue.overdue, overdue.overdue_count) == (Decimal("60000"), 1)


def test_collections_query_count_does_not_grow(
    org: Organisation, django_assert_max_num_queries: Any
) -> None:
    today = timezone.localdate()
    for _ in range(4):
        _deal, contract = deal_with_contract(org)
        services.plan_create(
            actor=org.rep, contract=contract, data={"due_on": today, "amount": "1000"}
        )
        record_payment(contract, amount="1000")
    with django_assert_max_num_queries(12):
        selectors.collections(user=org.east_manager, start=today, end=today, group="owner")
    deal, _contract = deal_with_contract(org)
    with django_assert_max_num_queries(6):
        selectors.deal_payments(user=org.rep, opportunity=deal)


def test_a_repeat_signal_without_reviewer_does_nothing(org: Organisation) -> None:
    deal, _contract = deal_with_contract(org)
    payments_contract(deal, is_repeat_order=True)  # no reviewer recorded
    deal.refresh_from_db()
    assert deal.is_open
