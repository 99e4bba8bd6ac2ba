"""XLSX of reports: one sheet per table, headed by the report's title, period and filters.

A pack (the quarterly review) is several reports in one workbook. The cells hold the values
of ``Report.as_dict`` (numbers as numbers), so the file says what the page and the API say.
"""

from __future__ import annotations

import io
import re
from collections.abc import Sequence
from typing import Any

from django.utils.translation import gettext as _

from kehu.analytics.reporting import Report

XLSX_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
_SHEET_FORBIDDEN = re.compile(r"[\[\]\*\?/\\:]")
_NUMBER_FORMATS = {
    "money": "#,##0.00",
    "pct": "0.0",
    "decimal": "0.0",
    "days": "0.0",
    "hours": "0.0",
}


def _sheet_title(title: str, taken: set[str]) -> str:
    base = _SHEET_FORBIDDEN.sub(" ", title).strip()[:28] or "Sheet"
    name, number = base, 2
    while name.lower() in taken:
        name, number = f"{base[:25]} {number}", number + 1
    taken.add(name.lower())
    return name


def _filters_line(report: dict[str, Any]) -> str:
    return " · ".join(f"{key}={value}" for key, value in report["filters"].items())


def reports_workbook(reports: Sequence[Report]) -> bytes:
    """The XLSX bytes of ``reports``: a summary sheet per report with a summary, then one
    sheet per table."""
    from openpyxl import Workbook
    from openpyxl.styles import Font

    workbook = Workbook()
    workbook.remove(workbook.active)  # type: ignore[arg-type]
    taken: set[str] = set()
    bold = Font(bold=True)
    for report in reports:
        data = report.as_dict()
        if data["summary"]:
            sheet = workbook.create_sheet(_sheet_title(data["title"], taken))
            sheet.append([data["title"]])
            sheet.append([_filters_line(data)])
            sheet.append([])
            for item in data["summary"]:
                sheet.append([item["label"], item["value"]])
            sheet["A1"].font = bold
            sheet.column_dimensions["A"].width = 36
        for table in data["tables"]:
            sheet = workbook.create_sheet(_sheet_title(table["title"], taken))
            sheet.append([f"{data['title']}: {table['title']}"])
            sheet.append([_filters_line(data)])
            sheet.append([column["label"] for column in table["columns"]])
            for cell in sheet[3]:
                cell.font = bold
            for row in table["rows"]:
                sheet.append([row.get(column["key"]) for column in table["columns"]])
            for index, column in enumerate(table["columns"], start=1):
                number_format = _NUMBER_FORMATS.get(column["kind"])
                if number_format:
                    for (cell,) in sheet.iter_rows(min_row=4, min_col=index, max_col=index):
                        cell.number_format = number_format
            if not table["rows"]:  # under the headings, where the rows would be
                sheet.append([_("No data in this period.")])
            if table["note"]:
                sheet.append([])
                sheet.append([table["note"]])
            sheet["A1"].font = bold
    if not workbook.sheetnames:
        workbook.create_sheet(_("Report"))
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


def export_filename(report: Report) -> str:
    return f"kehu-{report.key}-{report.filters.start:%Y%m%d}-{report.filters.end:%Y%m%d}.xlsx"
