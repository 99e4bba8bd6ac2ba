"""The grade's reasons on the customer page: which rule gave it and with which figures.

A section of the customer page (``customers/sections.py``), loaded when it comes into view:
``grading.explain`` reads the figures (one query per grade input) and this module words them.
Amounts are sensitive like the annual budget: a user who sees the budget masked sees *** for
every amount (the orders, the payment record and the satisfaction stay).
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from kehu.core.access import policy_of
from kehu.core.formatting import money, number, percent
from kehu.customers import grading
from kehu.customers.sections import Section

MASK = "***"


def _figure(code: str, value: Any, masked: bool) -> str:
    if value is None:
        return "—"
    if code in {"amount", "average_order"}:
        return MASK if masked else money(value, cents=False)
    if code == "on_time_rate":
        return percent(value)
    if code == "satisfaction":
        return f"{Decimal(str(value)):.1f}/5"
    return number(value)


def check_text(check: grading.Check, masked: bool) -> str:
    """One condition in words: ``amount a year ¥200,000 of ¥500,000 needed``."""
    labels = {
        "amount": _("amount won a year"),
        "orders": _("orders a year"),
        "average_order": _("average order value"),
        "on_time_rate": _("installments paid on time"),
        "satisfaction": _("satisfaction"),
    }
    return _("%(what)s %(has)s (rule: at least %(need)s)") % {
        "what": labels[check.code],
        "has": _figure(check.code, check.has, masked),
        "need": _figure(check.code, check.need, masked),
    }


def context(customer: Any, user: Any) -> dict[str, Any]:
    decision = grading.explain(customer)
    value = decision.value
    masked = "annual_budget" in grading_masked_fields(user, customer)
    rule = decision.rule
    figures = [
        (
            _("Annual budget standing in for the amount")
            if value.from_budget
            else _("Amount won a year"),
            _figure("amount", value.amount, masked),
        ),
        (_("Orders a year"), _figure("orders", value.orders, masked)),
        (_("Average order value"), _figure("average_order", value.average_order, masked)),
        (
            _("Installments paid on time"),
            _("%(rate)s (%(on_time)s on time, %(late)s late or overdue)")
            % {
                "rate": percent(value.on_time_rate),
                "on_time": value.paid_on_time,
                "late": value.paid_late,
            }
            if value.on_time_rate is not None
            else "—",
        ),
        (_("Satisfaction"), _figure("satisfaction", value.satisfaction, masked)),
    ]
    if rule is not None:
        given = [check_text(check, masked) for check in rule.checks if check.met]
        because = _("Rule %(grade)s holds: %(checks)s.") % {
            "grade": rule.grade,
            "checks": "; ".join(given),
        }
    else:
        because = _("No rule holds, so the grade is %(grade)s.") % {"grade": decision.grade}
    higher = [
        {
            "grade": outcome.grade,
            "text": "; ".join(check_text(check, masked) for check in outcome.failed),
        }
        for outcome in decision.higher
    ]
    return {
        "decision": decision,
        "stored": customer.grade,
        "override": customer.grade_override,
        "figures": figures,
        "because": because,
        "higher": higher,
        "window_months": grading.window_months(),
    }


def grading_masked_fields(user: Any, customer: Any) -> frozenset[str]:
    return policy_of(type(customer)).masked_fields(user, customer)


GRADE_SECTION = Section(
    key="grade",
    title=gettext_lazy("Grade"),
    template="customers/_grade_section.html",
    context=context,
    order=5,
)
