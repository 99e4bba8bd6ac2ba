"""Downloadable import templates: XLSX with Chinese / English headers, drop-downs, an example.

Sheet 1 is where data goes (the importer reads the first sheet); enumerations get a
data-validation drop-down fed from a hidden "Lists" sheet; sheet 2 holds an example row
and sheet 3 the instructions.
"""

from __future__ import annotations

from typing import Any

from django.utils.translation import gettext as _

from kehu.core import custom_fields
from kehu.customers.models import Industry, Region
from kehu.opportunities.models import Stage, StageKind
from kehu.transfer.reading import column_letter
from kehu.transfer.specs import FieldSpec, fields_for


def _single_choice(spec: FieldSpec) -> bool:
    return spec.custom is not None and spec.custom.type == custom_fields.CHOICE


def _options(spec: FieldSpec) -> list[str]:
    if _single_choice(spec) and spec.custom is not None:  # a custom field's choices
        return list(spec.custom.choices)
    if spec.type == "choice":
        return [names[0] for names in spec.choices.values()]
    if spec.type == "bool":
        return ["是", "否"]
    if spec.type == "industry":
        return [
            str(i) for i in Industry.objects.select_related("parent").filter(parent__isnull=False)
        ]
    if spec.type == "region":
        return [r.name for r in Region.objects.filter(level=1)]
    if spec.type == "stage":
        stages = Stage.objects.filter(is_active=True).exclude(kind=StageKind.LOST)
        return list(stages.order_by("order").values_list("name_zh", flat=True))
    return []


def _instructions(kind: str) -> list[str]:
    """The instructions sheet: what one row is and what the kind's rules are."""
    common = [
        _("Dates: 2024-05-20, 2024/5/20 or 2024年5月20日. Phones: 13812345678 or 021-61234567."),
        _("Formulas are not imported: paste values."),
    ]
    customer_reference = _(
        "Customer: the customer number, the unified social credit code or the exact customer "
        "name of a customer you can see."
    )
    if kind == "leads":
        return [
            _("Fill in the first sheet, one row per lead; keep the header row."),
            _(
                "Columns marked * are required; give a mobile number or an e-mail address. "
                "A lead with the same mobile, e-mail or company name as an existing lead is a "
                "duplicate."
            ),
            _(
                "Owner: the user name or name of a sales rep; without one the lead goes to the "
                "pool or the assignment rules."
            ),
            *common,
        ]
    if kind == "opportunities":
        return [
            _("Fill in the first sheet, one row per opportunity; keep the header row."),
            customer_reference,
            _(
                "Stage: one of the pipeline stages; each stage's requirements apply (an "
                "amount from 方案提交, a close date from 谈判签约). Empty: the first stage."
            ),
            _("Amounts: 200000, 20万 or ¥200,000."),
            *common,
        ]
    if kind == "contacts":
        return [
            _("Fill in the first sheet, one row per contact; keep the header row."),
            customer_reference,
            _(
                "Columns marked * are required, and so are the fields an administrator made "
                "required for contacts (by default a mobile, a work phone or an e-mail). A "
                "contact of the same customer with the same mobile or e-mail is a duplicate."
            ),
            _(
                "By default a mobile beside a work phone needs its reason (手机号说明). "
                "Gender: 先生 or 女士. Decision maker and primary contact: 是 or 否."
            ),
            *common,
        ]
    if kind == "followups":
        return [
            _("Fill in the first sheet, one row per follow-up; keep the header row."),
            customer_reference,
            _(
                "Follow-up time: a date with an optional time (2024-05-20 14:30); a date "
                "alone means 09:00. The same customer, time and method is a duplicate."
            ),
            _("Next follow-up: a date from today on, together with the next step."),
            *common,
        ]
    if kind == "tickets":
        return [
            _("Fill in the first sheet, one row per service ticket; keep the header row."),
            customer_reference,
            _(
                "Created: when the customer raised it (a date with an optional time; a date "
                "alone means 09:00), not in the future; empty: now. The SLA clock starts there. "
                "The same customer, subject and creation day is a duplicate."
            ),
            _(
                "Status: empty, 新建 or 已分配 leaves the ticket as created (assigned when "
                "someone is responsible); 处理中, 等待客户, 已解决 and 已关闭 follow the status "
                "flow. Give a resolved or closed ticket its resolution time."
            ),
            _(
                "Assignee: the user name or name of a service user, manager or administrator; "
                "empty: the routing rules or the customer's service specialist. Contact: the "
                "name or mobile of one of the customer's contacts."
            ),
            *common,
        ]
    return [
        _("Fill in the first sheet, one row per customer; keep the header row."),
        _(
            "Columns marked * are required, and so are the fields an administrator made "
            "required for new customers (by default industry, size, source, need and a "
            "contact's mobile or e-mail); write 待核实 where a value is not known yet."
        ),
        common[0],
        _(
            "Several rows with the same company add its contacts when duplicates are set to "
            "“update”."
        ),
        common[1],
    ]


def write_template(kind: str, target: Any) -> None:
    from openpyxl import Workbook
    from openpyxl.comments import Comment
    from openpyxl.styles import Font, PatternFill
    from openpyxl.worksheet.datavalidation import DataValidation

    specs = fields_for(kind)
    workbook = Workbook()
    data: Any = workbook.active
    data.title = "导入数据 Data"
    lists = workbook.create_sheet("Lists")
    example = workbook.create_sheet("示例 Example")
    notes = workbook.create_sheet("说明 Instructions")
    bold = Font(bold=True)
    required_fill = PatternFill("solid", fgColor="FDE2E1")
    for index, spec in enumerate(specs):
        letter = column_letter(index)
        cell = data.cell(row=1, column=index + 1, value=spec.header)
        cell.font = bold
        if spec.required:
            cell.fill = required_fill
        data.column_dimensions[letter].width = max(14, len(spec.header) + 4)
        if spec.type in ("text", "phone", "credit_code", "customer"):
            # text cells keep leading zeros and long digit strings
            for row in range(2, 1002):
                data.cell(row=row, column=index + 1).number_format = "@"
        options = _options(spec)
        if options:
            for row, option in enumerate(options, start=1):
                lists.cell(row=row, column=index + 1, value=option)
            validation = DataValidation(
                type="list",
                formula1=f"=Lists!${letter}$1:${letter}${len(options)}",
                allow_blank=True,
                showErrorMessage=spec.type in ("choice", "bool", "stage") or _single_choice(spec),
                errorTitle=_("Not in the list"),
                error=_("Choose a value from the list."),
            )
            data.add_data_validation(validation)
            validation.add(f"{letter}2:{letter}10000")
            cell.comment = Comment(_("Choose from the drop-down list."), "Kehu")
        example.cell(row=1, column=index + 1, value=spec.header).font = bold
        example.cell(row=2, column=index + 1, value=spec.example or None)
        example.column_dimensions[letter].width = data.column_dimensions[letter].width
    data.freeze_panes = "A2"
    lists.sheet_state = "hidden"
    lines = _instructions(kind)
    notes.column_dimensions["A"].width = 110
    for row, line in enumerate(lines, start=1):
        notes.cell(row=row, column=1, value=line)
    workbook.save(target)
