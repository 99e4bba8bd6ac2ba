"""Customer grading (客户分级): A/B/C/D from configurable rules and pluggable inputs.

Until opportunities and orders exist, the annual budget stands in for the cooperation amount.
Other apps contribute real figures with ``register_grade_input``: a function that takes a list
of customer ids and answers ``{customer_id: GradeInput(amount, orders, satisfaction)}`` for those
it knows (the service app reports the average satisfaction score of the customer's surveys).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from kehu.core import config


def _grade_rules_check(rules: Any) -> str | None:
    grades = [str(rule["grade"]) for rule in rules]
    if any(not grade for grade in grades):
        return gettext("Give every rule a grade (A, B, C…).")
    if len(set(grades)) != len(grades):
        return gettext("Each grade may have one rule only.")
    for rule in rules:
        minimum = rule.get("min_satisfaction")
        if minimum is not None and not 1 <= minimum <= 5:
            return gettext("A minimum satisfaction lies between 1 and 5.")
    return None


GRADE_RULES = config.define(
    "customers.grade_rules",
    [
        {"grade": "A", "min_amount": 500000, "min_orders": 10},
        {"grade": "B", "min_amount": 100000, "min_orders": 3},
        {"grade": "C", "min_amount": 10000, "min_orders": 1},
    ],
    _(
        "Customer grade rules: the first rule whose minimum cooperation amount (yuan) or "
        "order count is reached gives the grade; otherwise D. A rule may also name a minimum "
        "satisfaction (min_satisfaction, 1-5) that a customer with survey answers must reach"
    ),
    minimum=0,
    maximum=10_000_000_000,
    optional=("min_satisfaction",),
    row={"grade": "A", "min_amount": 500000, "min_orders": 10, "min_satisfaction": 4.0},
    check=_grade_rules_check,
    help=_(
        "Rules in order, best grade first; a customer gets the first grade whose minimum amount "
        "(yuan) or order count it reaches, else D. Leave min_satisfaction empty to ignore surveys "
        "(handbook: strategic customers above 50万 a year)."
    ),
)
DEFAULT_GRADE = "D"


@dataclass(frozen=True)
class GradeInput:
    amount: Decimal = Decimal(0)
    orders: int = 0
    satisfaction: float | None = None  # average survey score 1-5; None: never surveyed


GradeInputSource = Callable[[Sequence[int]], dict[int, GradeInput]]
_sources: list[GradeInputSource] = []


def register_grade_input(fn: GradeInputSource) -> GradeInputSource:
    """Let another app contribute cooperation amount / order count per customer."""
    if fn not in _sources:
        _sources.append(fn)
    return fn


def unregister_grade_input(fn: GradeInputSource) -> None:
    if fn in _sources:
        _sources.remove(fn)


def gather_inputs(customers: Sequence[Any]) -> dict[int, GradeInput]:
    """Amount = the larger of the budget proxy and what the apps report; orders summed; the
    satisfaction is the one reported (one app reports it)."""
    ids = [customer.pk for customer in customers]
    amounts: dict[int, Decimal] = {pk: Decimal(0) for pk in ids}
    orders: dict[int, int] = dict.fromkeys(ids, 0)
    satisfaction: dict[int, float] = {}
    for source in _sources:
        for pk, value in source(ids).items():
            if pk in amounts:
                amounts[pk] += Decimal(value.amount)
                orders[pk] += int(value.orders)
                if value.satisfaction is not None:
                    satisfaction[pk] = value.satisfaction
    result: dict[int, GradeInput] = {}
    for customer in customers:
        budget = Decimal(customer.annual_budget or 0)
        result[customer.pk] = GradeInput(
            max(budget, amounts[customer.pk]), orders[customer.pk], satisfaction.get(customer.pk)
        )
    return result


def grade_for(value: GradeInput, rules: list[dict[str, Any]] | None = None) -> str:
    for rule in rules if rules is not None else config.get("customers.grade_rules"):
        amount_reached = value.amount >= Decimal(str(rule.get("min_amount", 0)))
        orders_reached = value.orders >= int(rule.get("min_orders", 0) or 0) > 0
        if (amount_reached or orders_reached) and _satisfied(value, rule):
            return str(rule["grade"])
    return DEFAULT_GRADE


def _satisfied(value: GradeInput, rule: dict[str, Any]) -> bool:
    """A rule's minimum satisfaction holds for a customer without survey answers."""
    minimum = rule.get("min_satisfaction")
    return not minimum or value.satisfaction is None or value.satisfaction >= float(minimum)
