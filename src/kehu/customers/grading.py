"""Customer grading (客户分级): A/B/C/D from configurable rules fed by the business.

The handbooks grade by cooperation amount a year (战略客户 > 50万/年), purchase frequency,
average order value and, here, the payment record and satisfaction. Apps above customers
report their figures with ``register_grade_input``: a function that takes a list of customer
ids and answers ``{customer_id: GradeInput(...)}`` for those it knows, in a fixed number of
queries. Today: opportunities reports the deals won in the grading window (amount and
orders), contracts the repeat orders and the payment record (installments paid on time /
late or overdue), service the average satisfaction. The figures of all sources are summed.

The annual budget stands in for the amount of a customer with no order in the window (a
setting), so a new prospect with a large budget is graded by its potential until it buys.

``decide(value)`` walks the rules in order: a rule is reached by its minimum amount a year OR
its minimum orders a year, and then holds only if the average order value, the on-time
payment rate and the satisfaction reach the rule's minimums (each checked only when the
customer has such a figure, and only when the minimum is above 0). The first rule that holds
gives the grade, otherwise D. ``explain`` keeps, for the customer page, which rule gave the
grade and why each higher rule did not.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal
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
        if minimum and not 1 <= minimum <= 5:  # 0 or empty: no minimum
            return gettext("A minimum satisfaction is 0 (none) or between 1 and 5.")
        if not 0 <= (rule.get("min_on_time_rate") or 0) <= 100:
            return gettext("A minimum share paid on time lies between 0 and 100 (%).")
    return None


GRADE_RULES = config.define(
    "customers.grade_rules",
    [
        {
            "grade": "A",
            "min_amount": 500000,
            "min_orders": 10,
            "min_average_order": 20000,
            "min_on_time_rate": 80,
            "min_satisfaction": 0.0,
        },
        {
            "grade": "B",
            "min_amount": 100000,
            "min_orders": 3,
            "min_average_order": 0,
            "min_on_time_rate": 60,
            "min_satisfaction": 0.0,
        },
        {
            "grade": "C",
            "min_amount": 10000,
            "min_orders": 1,
            "min_average_order": 0,
            "min_on_time_rate": 0,
            "min_satisfaction": 0.0,
        },
    ],
    _("Customer grade rules"),
    group="customers",
    help=_(
        "In order, the first rule that holds gives the grade; otherwise D. A rule is reached "
        "by its minimum amount won a year (yuan) or its minimum orders a year, and holds if "
        "the average order value (yuan), the share of installments paid on time (%) and the "
        "survey satisfaction (1-5) reach its minimums; 0 means no minimum, and a customer "
        "without such a figure passes that check. Handbook: strategic customers (A) above "
        "500,000 yuan a year."
    ),
    minimum=0,
    maximum=10_000_000_000,
    # rows stored before these minimums existed stay valid
    optional=("min_average_order", "min_on_time_rate", "min_satisfaction"),
    check=_grade_rules_check,
)
GRADE_WINDOW_MONTHS = config.define(
    "customers.grade_window_months",
    12,
    _("Grading window"),
    group="customers",
    unit=_("months"),
    minimum=1,
    maximum=60,
    help=_(
        "Orders won and payments due in these last months feed the grade; amounts and order "
        "counts are brought to a year (a 24-month window halves them)."
    ),
)
GRADE_BUDGET_STANDS_IN = config.define(
    "customers.grade_budget_stands_in",
    True,
    _("Budget stands in for the amount"),
    group="customers",
    help=_(
        "Grade a customer without any order in the grading window by its annual budget, as "
        "the amount a year it may bring."
    ),
)
DEFAULT_GRADE = "D"
RULE_FIELDS = (
    "min_amount",
    "min_orders",
    "min_average_order",
    "min_on_time_rate",
    "min_satisfaction",
)


@dataclass(frozen=True)
class GradeInput:
    """What one source knows of one customer; ``gather_inputs`` sums the sources.

    ``amount`` and ``orders`` are for the whole grading window as reported; ``gather_inputs``
    brings them to a year. ``paid_on_time`` / ``paid_late`` count installments (late: paid
    after the due date, or still unpaid past it).
    """

    amount: Decimal = Decimal(0)
    orders: int = 0
    satisfaction: float | None = None  # average survey score 1-5; None: never surveyed
    paid_on_time: int = 0
    paid_late: int = 0
    from_budget: bool = False  # the amount is the annual budget standing in (no orders)

    @property
    def average_order(self) -> Decimal | None:
        if not self.orders or self.from_budget:
            return None
        return (Decimal(self.amount) / self.orders).quantize(Decimal("0.01"))

    @property
    def on_time_rate(self) -> float | None:
        due = self.paid_on_time + self.paid_late
        return round(100.0 * self.paid_on_time / due, 1) if due else None


GradeInputSource = Callable[[Sequence[int]], dict[int, GradeInput]]
_sources: list[GradeInputSource] = []


def register_grade_input(fn: GradeInputSource) -> GradeInputSource:
    """Let another app contribute figures (amount, orders, payments, satisfaction) per customer."""
    if fn not in _sources:
        _sources.append(fn)
    return fn


def unregister_grade_input(fn: GradeInputSource) -> None:
    if fn in _sources:
        _sources.remove(fn)


def window_months() -> int:
    return max(1, int(config.get(GRADE_WINDOW_MONTHS.key)))


def gather_inputs(customers: Sequence[Any]) -> dict[int, GradeInput]:
    """Every source's figures summed per customer, brought to a year; the budget stands in
    for a customer without orders (when the setting says so). One query per source."""
    ids = [customer.pk for customer in customers]
    summed: dict[int, dict[str, Any]] = {
        pk: {"amount": Decimal(0), "orders": 0, "on_time": 0, "late": 0, "satisfaction": None}
        for pk in ids
    }
    for source in _sources:
        for pk, value in source(ids).items():
            row = summed.get(pk)
            if row is None:
                continue
            row["amount"] += Decimal(value.amount)
            row["orders"] += int(value.orders)
            row["on_time"] += int(value.paid_on_time)
            row["late"] += int(value.paid_late)
            if value.satisfaction is not None:
                row["satisfaction"] = value.satisfaction
    per_year = Decimal(12) / Decimal(window_months())
    budget_stands_in = bool(config.get(GRADE_BUDGET_STANDS_IN.key))
    result: dict[int, GradeInput] = {}
    for customer in customers:
        row = summed[customer.pk]
        amount = (row["amount"] * per_year).quantize(Decimal("0.01"))
        orders = int((Decimal(row["orders"]) * per_year).to_integral_value(ROUND_HALF_UP))
        budget = Decimal(customer.annual_budget or 0)
        from_budget = budget_stands_in and not row["orders"] and amount == 0 and budget > 0
        result[customer.pk] = GradeInput(
            amount=budget if from_budget else amount,
            orders=orders,
            satisfaction=row["satisfaction"],
            paid_on_time=row["on_time"],
            paid_late=row["late"],
            from_budget=from_budget,
        )
    return result


def budget_input(budget: Any) -> GradeInput:
    """A new customer's input: only its budget is known (when the budget stands in)."""
    amount = Decimal(budget or 0)
    if amount <= 0 or not config.get(GRADE_BUDGET_STANDS_IN.key):
        return GradeInput()
    return GradeInput(amount=amount, from_budget=True)


# --- deciding ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Check:
    """One condition of a rule: what it asks (``need``) and what the customer has."""

    code: str  # amount | orders | average_order | on_time_rate | satisfaction
    need: Any
    has: Any
    met: bool


@dataclass(frozen=True)
class RuleOutcome:
    grade: str
    reached: bool  # by amount or orders
    holds: bool  # reached and every qualifier met
    checks: tuple[Check, ...]

    @property
    def failed(self) -> tuple[Check, ...]:
        """Why the rule does not hold: the amount and orders when it is not reached, else the
        qualifiers the customer misses."""
        volume = {"amount", "orders"}
        return tuple(
            check
            for check in self.checks
            if not check.met and (check.code in volume) != self.reached
        )


@dataclass(frozen=True)
class Decision:
    grade: str
    value: GradeInput
    outcomes: tuple[RuleOutcome, ...] = field(default_factory=tuple)

    @property
    def rule(self) -> RuleOutcome | None:
        """The rule that gave the grade (None: no rule held, the default grade)."""
        return next((outcome for outcome in self.outcomes if outcome.holds), None)

    @property
    def higher(self) -> tuple[RuleOutcome, ...]:
        """The rules before the one that gave the grade: why each did not hold."""
        found: list[RuleOutcome] = []
        for outcome in self.outcomes:
            if outcome.holds:
                break
            found.append(outcome)
        return tuple(found)


def _number(rule: dict[str, Any], key: str) -> Decimal:
    try:
        return Decimal(str(rule.get(key) or 0))
    except ArithmeticError:
        return Decimal(0)


def _outcome(value: GradeInput, rule: dict[str, Any]) -> RuleOutcome:
    min_amount = _number(rule, "min_amount")
    min_orders = int(_number(rule, "min_orders"))
    amount_met = value.amount >= min_amount
    orders_met = min_orders > 0 and value.orders >= min_orders
    checks = [Check("amount", min_amount, value.amount, amount_met)]
    if min_orders > 0:
        checks.append(Check("orders", min_orders, value.orders, orders_met))
    reached = amount_met or orders_met
    qualified = True
    for code, key, has in (
        ("average_order", "min_average_order", value.average_order),
        ("on_time_rate", "min_on_time_rate", value.on_time_rate),
        ("satisfaction", "min_satisfaction", value.satisfaction),
    ):
        need = _number(rule, key)
        if need <= 0 or has is None:
            continue  # no minimum, or no such figure: the check holds
        met = Decimal(str(has)) >= need
        checks.append(Check(code, need, has, met))
        qualified = qualified and met
    return RuleOutcome(str(rule.get("grade", "")), reached, reached and qualified, tuple(checks))


def decide(value: GradeInput, rules: list[dict[str, Any]] | None = None) -> Decision:
    outcomes: list[RuleOutcome] = []
    for rule in rules if rules is not None else config.get(GRADE_RULES.key):
        outcome = _outcome(value, rule)
        outcomes.append(outcome)
        if outcome.holds:
            return Decision(outcome.grade, value, tuple(outcomes))
    return Decision(DEFAULT_GRADE, value, tuple(outcomes))


def grade_for(value: GradeInput, rules: list[dict[str, Any]] | None = None) -> str:
    return decide(value, rules).grade


def explain(customer: Any) -> Decision:
    """The grade the rules give ``customer`` today, with its figures and each rule's outcome
    (one query per source)."""
    return decide(gather_inputs([customer])[customer.pk])
