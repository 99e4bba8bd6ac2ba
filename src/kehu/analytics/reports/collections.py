"""The "collections" report (回款): collected vs expected by month, rep and department.

Expected is the installments of approved contracts due in the period, collected the money
received in it (``kehu.contracts.selectors.payments.collections``), over the contracts whose
amounts the viewer sees; the department and rep filters narrow by the deal's owner.
"""

from __future__ import annotations

from typing import Any

from django.utils.translation import gettext_lazy as _

from kehu.analytics.registry import ReportSpec, register
from kehu.analytics.reporting import Chart, Column, Report, ReportFilters, Table
from kehu.contracts.selectors.payments import Collections, collections

KEY = "collections"


def _table(key: str, title: Any, first: Any, result: Collections) -> Table:
    columns = [
        Column("label", first),
        Column("expected", _("Expected"), "money"),
        Column("collected", _("Collected"), "money"),
        Column("rate", _("Collection rate"), "pct"),
        Column("gap", _("Gap"), "money"),
    ]
    rows = [
        {
            "label": row.label,
            "expected": row.expected,
            "collected": row.collected,
            "rate": row.rate,
            "gap": row.gap,
        }
        for row in result.rows
    ]
    return Table(key, title, columns, rows)


def build(user: Any, filters: ReportFilters) -> Report:
    def by(group: str) -> Collections:
        return collections(
            user=user,
            start=filters.start,
            end=filters.end,
            group=group,
            owner_id=filters.owner_id,
            department_path=filters.department_path,
        )

    months, owners, departments = by("month"), by("owner"), by("department")
    return Report(
        key=KEY,
        title=_("Collections"),
        filters=filters,
        summary=[
            ("expected", _("Expected"), months.expected, "money"),
            ("collected", _("Collected"), months.collected, "money"),
            ("rate", _("Collection rate"), months.rate, "pct"),
            ("overdue", _("Overdue (unpaid past due)"), months.overdue, "money"),
            ("overdue_count", _("Overdue installments"), months.overdue_count, "int"),
        ],
        tables=[
            _table("months", _("By month"), _("Month"), months),
            _table("owners", _("By rep"), _("Rep"), owners),
            _table("departments", _("By department"), _("Department"), departments),
        ],
        charts=[
            Chart(
                "collected-vs-expected",
                _("Collected vs expected"),
                [row.label for row in months.rows],
                [
                    {
                        "name": str(_("Expected")),
                        "type": "bar",
                        "data": [float(r.expected) for r in months.rows],
                    },
                    {
                        "name": str(_("Collected")),
                        "type": "bar",
                        "data": [float(r.collected) for r in months.rows],
                    },
                ],
                category_kind="month",
                unit="¥",
            )
        ],
        amounts_masked=months.hidden > 0,
    )


register(
    ReportSpec(
        key=KEY,
        title=_("Collections"),
        description=_(
            "Payments collected vs installments expected (回款), by month, rep and department."
        ),
        build=build,
        roles=frozenset({"admin", "manager", "sales"}),
        order=35,
    )
)
