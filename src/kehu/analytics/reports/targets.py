"""The "targets" report: each target of the period with its actual, attainment % and gap.

Filtered by period (targets overlapping it), department (and below) and rep; the industry
and region filters keep the targets whose segment lies within them. Progress is counted from
the records in the viewer's scope (``selectors.targets``).
"""

from __future__ import annotations

from typing import Any

from django.utils.translation import gettext_lazy as _

from kehu.analytics.models import Measure
from kehu.analytics.registry import ReportSpec, register
from kehu.analytics.reporting import Chart, Column, Report, ReportFilters, Table, region_prefixes
from kehu.analytics.selectors.targets import progress_rows, visible_targets

KEY = "targets"


def _in_filters(target: Any, filters: ReportFilters) -> bool:
    """The target's segment lies within the industry and region filters (a section's
    divisions lie within it)."""
    if filters.industry and filters.industry not in (
        target.industry_id,
        target.industry.parent_id if target.industry else None,
    ):
        return False
    if filters.region:
        wanted = region_prefixes(filters.region)
        own = region_prefixes(target.region) if target.region else ("",)
        if not all(code.startswith(wanted) for code in own):
            return False
    return True


def build(user: Any, filters: ReportFilters) -> Report:
    targets = [
        target
        for target in visible_targets(
            user=user,
            start=filters.start,
            end=filters.end,
            department_id=filters.department_id,
            owner_id=filters.owner_id,
        )
        if _in_filters(target, filters)
    ]
    rows = progress_rows(user=user, targets=targets, cached=True)
    columns = [
        Column("name", _("Target")),
        Column("scope_label", _("Department or rep")),
        Column("segment_label", _("Segment")),
        Column("measure_label", _("Measure")),
        Column("start", _("From")),
        Column("end", _("To")),
        Column("value", _("Target value"), "decimal"),
        Column("actual", _("Actual"), "decimal"),
        Column("attainment_pct", _("Attainment"), "pct"),
        Column("gap", _("Gap"), "decimal"),
    ]
    table_rows = [
        {column.key: row[column.key] for column in columns}
        | {"start": row["start"].isoformat(), "end": row["end"].isoformat()}
        for row in rows
    ]
    met = sum(1 for row in rows if row["met"])
    attained = [
        min(row["attainment_pct"], 100.0) for row in rows if row["attainment_pct"] is not None
    ]
    average = round(sum(attained) / len(attained), 1) if attained else None
    labels = [f"{row['name']} ({row['scope_label']})" for row in rows]
    charts = [
        Chart(
            "attainment",
            _("Attainment by target (%)"),
            labels,
            [
                {
                    "name": str(_("Attainment")),
                    "type": "bar",
                    "data": [r["attainment_pct"] or 0 for r in rows],
                }
            ],
            unit="%",
        )
    ]
    counted = [row for row in rows if row["measure"] != Measure.WON_AMOUNT]
    if counted:
        charts.append(
            Chart(
                "target-vs-actual",
                _("Target vs actual (counts)"),
                [f"{row['name']} ({row['scope_label']})" for row in counted],
                [
                    {
                        "name": str(_("Target value")),
                        "type": "bar",
                        "data": [r["value"] for r in counted],
                    },
                    {
                        "name": str(_("Actual")),
                        "type": "bar",
                        "data": [r["actual"] for r in counted],
                    },
                ],
            )
        )
    amounts = [row for row in rows if row["measure"] == Measure.WON_AMOUNT]
    if amounts:
        charts.append(
            Chart(
                "target-vs-actual-amount",
                _("Target vs actual (won amount)"),
                [f"{row['name']} ({row['scope_label']})" for row in amounts],
                [
                    {
                        "name": str(_("Target value")),
                        "type": "bar",
                        "data": [float(r["value"]) for r in amounts],
                    },
                    {
                        "name": str(_("Actual")),
                        "type": "bar",
                        "data": [float(r["actual"]) for r in amounts],
                    },
                ],
                unit="¥",
            )
        )
    return Report(
        key=KEY,
        title=_("Targets"),
        filters=filters,
        summary=[
            ("targets", _("Targets"), len(rows), "int"),
            ("met", _("Met"), met, "int"),
            ("attainment_pct", _("Average attainment"), average, "pct"),
        ],
        tables=[
            Table(
                "targets",
                _("Targets and progress"),
                columns,
                table_rows,
                note=_(
                    "Progress is counted from the records you can see (at most five minutes "
                    "old); attainment in the average is capped at 100%."
                ),
            )
        ],
        charts=charts,
        amounts_masked=any(row["amounts_hidden"] for row in rows),
    )


register(
    ReportSpec(
        key=KEY,
        title=_("Targets"),
        description=_(
            "Targets of the period with attainment % and the gap, counted from the records."
        ),
        build=build,
        order=10,
        template="analytics/targets/report.html",
    )
)
