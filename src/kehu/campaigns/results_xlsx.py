"""XLSX of a campaign's results and of the comparison: the figures the pages show, numbers as
numbers (money ``#,##0.00``, rates in percent points, ROI as a percentage)."""

from __future__ import annotations

import io
from collections.abc import Sequence
from decimal import Decimal
from typing import Any

from django.utils.translation import gettext as _

from kehu.campaigns.selectors.results import CampaignResults

XLSX_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
MONEY = "#,##0.00"
PCT = "0.0"


def _value(value: Decimal | int | None) -> float | int | None:
    if value is None:
        return None
    return int(value) if isinstance(value, int) else float(value)


def _roi(value: Decimal | None) -> float | None:
    return None if value is None else float(value * 100)


def columns() -> list[tuple[str, str, Any]]:
    """(heading, number format, getter) of the comparison's columns, in order."""
    return [
        (_("Campaign"), "", lambda r: r.campaign.name),
        (_("Type"), "", lambda r: str(r.campaign.get_kind_display())),
        (_("Starts"), "", lambda r: r.campaign.starts_on.isoformat()),
        (_("Ends"), "", lambda r: r.campaign.ends_on.isoformat()),
        (_("Department"), "", lambda r: str(r.campaign.department or "")),
        (_("Members"), "0", lambda r: r.members),
        (_("Reached"), "0", lambda r: r.reached),
        (_("Response rate (%)"), PCT, lambda r: _value(r.response_rate)),
        (_("Leads"), "0", lambda r: r.leads),
        (_("Lead conversion rate (%)"), PCT, lambda r: _value(r.lead_conversion_rate)),
        (_("Cost (¥)"), MONEY, lambda r: _value(r.cost)),
        (_("Cost per lead (¥)"), MONEY, lambda r: _value(r.cost_per_lead)),
        (_("Opportunities (last touch)"), "0", lambda r: r.last.opportunities),
        (_("Won amount, last touch (¥)"), MONEY, lambda r: _value(r.last.won_amount)),
        (_("ROI, last touch (%)"), PCT, lambda r: _roi(r.last.roi)),
        (_("Opportunities (first touch)"), "0", lambda r: r.first.opportunities),
        (_("Won amount, first touch (¥)"), MONEY, lambda r: _value(r.first.won_amount)),
        (_("ROI, first touch (%)"), PCT, lambda r: _roi(r.first.roi)),
    ]


def _table(
    sheet: Any, headings: Sequence[str], rows: Sequence[Sequence[Any]], formats: Any
) -> None:
    from openpyxl.styles import Font

    sheet.append(list(headings))
    for cell in sheet[sheet.max_row]:
        cell.font = Font(bold=True)
    for row in rows:
        sheet.append(list(row))
        for cell, number_format in zip(sheet[sheet.max_row], formats or [], strict=False):
            if number_format:
                cell.number_format = number_format


def results_workbook(result: CampaignResults, *, lookback_days: int) -> bytes:
    """One campaign: the figures, first vs last touch, the goals."""
    from openpyxl import Workbook
    from openpyxl.styles import Font

    workbook = Workbook()
    sheet = workbook.active
    assert sheet is not None
    sheet.title = _("Results")[:31]
    sheet.append([_("Results of %(name)s") % {"name": result.campaign.name}])
    sheet["A1"].font = Font(bold=True)
    sheet.append([_("Attribution look-back window: %(days)s days") % {"days": lookback_days}])
    sheet.append([])
    figures = [
        (_("Members"), result.members, "0"),
        (_("Reached"), result.reached, "0"),
        (_("Responded"), result.responded, "0"),
        (_("Response rate (%)"), _value(result.response_rate), PCT),
        (_("Messages sent"), result.messages_sent, "0"),
        (_("Leads"), result.leads, "0"),
        (_("Converted leads"), result.converted_leads, "0"),
        (_("Lead conversion rate (%)"), _value(result.lead_conversion_rate), PCT),
        (_("New customers"), result.new_customers, "0"),
        (_("Budget (¥)"), _value(result.campaign.budget), MONEY),
        (_("Cost (¥)"), _value(result.cost), MONEY),
        (_("Cost per lead (¥)"), _value(result.cost_per_lead), MONEY),
    ]
    _table(
        sheet,
        [_("Figure"), _("Value")],
        [(label, value) for label, value, _f in figures],
        None,
    )
    for offset, (_label, _v, number_format) in enumerate(figures):
        sheet.cell(row=5 + offset, column=2).number_format = number_format
    sheet.append([])
    _table(
        sheet,
        [_("Attribution"), _("First touch"), _("Last touch")],
        [
            (_("Leads"), result.first.leads, result.last.leads),
            (_("Opportunities"), result.first.opportunities, result.last.opportunities),
            (_("Won deals"), result.first.won, result.last.won),
            (
                _("Won amount (¥)"),
                _value(result.first.won_amount),
                _value(result.last.won_amount),
            ),
            (_("ROI (%)"), _roi(result.first.roi), _roi(result.last.roi)),
        ],
        ["", "#,##0.##", "#,##0.##"],
    )
    sheet.column_dimensions["A"].width = 32
    sheet.column_dimensions["B"].width = 18
    sheet.column_dimensions["C"].width = 18
    goals = workbook.create_sheet(_("Goals")[:31])
    _table(
        goals,
        [_("Goal"), _("Measured by"), _("Industry"), _("Region"), _("Target"), _("Actual")],
        [
            (
                goal.goal.label,
                str(goal.goal.get_metric_display()),
                str(goal.goal.industry or ""),
                str(goal.goal.region or ""),
                float(goal.goal.target),
                float(goal.actual),
            )
            for goal in result.goals
        ],
        ["", "", "", "", "#,##0.##", "#,##0.##"],
    )
    goals.column_dimensions["A"].width = 36
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


def compare_workbook(results: Sequence[CampaignResults], *, filters_line: str) -> bytes:
    """The comparison: one row per campaign."""
    from openpyxl import Workbook
    from openpyxl.styles import Font

    workbook = Workbook()
    sheet = workbook.active
    assert sheet is not None
    sheet.title = _("Campaigns")[:31]
    sheet.append([_("Campaign comparison")])
    sheet["A1"].font = Font(bold=True)
    sheet.append([filters_line])
    spec = columns()
    _table(
        sheet,
        [heading for heading, _f, _g in spec],
        [[getter(result) for _h, _f, getter in spec] for result in results],
        [number_format for _h, number_format, _g in spec],
    )
    sheet.column_dimensions["A"].width = 30
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()
