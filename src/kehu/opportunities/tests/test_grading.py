"""The deals won feed the customer grade, and winning regrades the customer at once."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
import time_machine
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from kehu.core import config
from kehu.core.testing.deals import win
from kehu.core.testing.factories import Organisation
from kehu.customers import grading
from kehu.customers.services import customer_recompute_grades
from kehu.opportunities.grading import won_grade_input
from kehu.opportunities.models import Opportunity
from kehu.opportunities.tests.factories import make_customer, ready_for_proposal

pytestmark = pytest.mark.django_db


def _win(owner: object, customer: object, amount: str) -> Opportunity:
    deal = ready_for_proposal(owner, customer=customer)  # type: ignore[arg-type]
    deal.amount = Decimal(amount)
    deal.save(update_fields=["amount"])
    return win(deal, owner)  # type: ignore[arg-type]


def test_a_won_200k_deal_makes_a_d_customer_b_at_once(org: Organisation) -> None:
    customer = make_customer(org.rep)
    assert customer.grade == "D"
    deal = _win(org.rep, customer, "200000")
    customer.refresh_from_db()
    assert customer.grade == "B"  # ≥ ¥100,000 a year
    last = customer.history.first()
    assert last is not None
    assert deal.name in (last.history_change_reason or "")  # "…: deal won (name)"
    decision = grading.explain(customer)
    assert decision.value.amount == Decimal("200000.00")
    assert decision.value.orders == 1
    assert decision.rule is not None
    assert decision.rule.grade == "B"
    assert [outcome.grade for outcome in decision.higher] == ["A"]


def test_strategic_customer_above_500k_a_year(org: Organisation) -> None:
    customer = make_customer(org.rep)
    _win(org.rep, customer, "300000")
    _win(org.rep, customer, "250000")
    customer.refresh_from_db()
    assert customer.grade == "A"  # 战略客户 > 50万/年, average order ¥275,000


def test_orders_outside_the_window_do_not_count(org: Organisation) -> None:
    customer = make_customer(org.rep)
    with time_machine.travel(timezone.now() - timedelta(days=400), tick=False):
        _win(org.rep, customer, "200000")
    customer.refresh_from_db()
    assert customer.grade == "B"  # graded when won, 400 days ago
    assert won_grade_input([customer.pk]) == {}
    assert customer_recompute_grades() == 1  # the nightly job: out of the 12 months
    customer.refresh_from_db()
    assert customer.grade == "D"
    config.put("customers.grade_window_months", 24)
    try:
        value = grading.gather_inputs([customer])[customer.pk]
        assert value.amount == Decimal("100000.00")  # ¥200,000 in two years: ¥100,000 a year
        assert customer_recompute_grades() == 1
    finally:
        config.put("customers.grade_window_months", 12)
    customer.refresh_from_db()
    assert customer.grade == "B"


def test_many_small_orders_are_not_strategic(org: Organisation) -> None:
    value = grading.GradeInput(amount=Decimal("60000"), orders=12)
    decision = grading.decide(value)
    assert decision.grade == "B"  # 12 orders a year reach A, the average ¥5,000 does not
    failed = decision.higher[0].failed
    assert [check.code for check in failed] == ["average_order"]


def test_budget_stands_in_only_without_orders(org: Organisation) -> None:
    customer = make_customer(org.rep, annual_budget=Decimal("600000"))
    assert customer.grade == "A"
    _win(org.rep, customer, "20000")
    customer.refresh_from_db()
    assert customer.grade == "C"  # the business now speaks: ¥20,000 a year
    config.put("customers.grade_budget_stands_in", False)
    try:
        other = make_customer(org.rep, annual_budget=Decimal("600000"))
        assert other.grade == "D"
    finally:
        config.put("customers.grade_budget_stands_in", True)


def test_the_customer_page_shows_the_rule_and_figures(org: Organisation) -> None:
    customer = make_customer(org.rep)
    _win(org.rep, customer, "200000")
    client = Client()
    client.force_login(org.rep)
    body = client.get(reverse("customers:tab", args=[customer.pk, "grade"])).content.decode()
    assert "¥200,000" in body
    assert "B" in body
    assert "¥500,000" in body  # why not A: the strategic line
    detail = client.get(reverse("customers:detail", args=[customer.pk])).content.decode()
    assert 'id="section-grade"' in detail


def test_amounts_are_masked_for_a_role_that_sees_masks(org: Organisation) -> None:
    customer = make_customer(org.rep)
    _win(org.rep, customer, "200000")
    client = Client()
    client.force_login(org.marketing)
    body = client.get(reverse("customers:tab", args=[customer.pk, "grade"])).content.decode()
    assert "¥200,000" not in body
    assert "***" in body


def test_grade_inputs_take_a_fixed_number_of_queries(
    org: Organisation, django_assert_max_num_queries: object
) -> None:
    customers = [make_customer(org.rep) for _ in range(3)]
    for customer in customers:
        _win(org.rep, customer, "150000")
    with django_assert_max_num_queries(8):  # type: ignore[operator]
        inputs = grading.gather_inputs(customers)
    assert {value.orders for value in inputs.values()} == {1}
