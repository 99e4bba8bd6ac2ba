"""Exports write any stored text: control characters are dropped, formulas neutralised."""

from __future__ import annotations

import csv
import io
from pathlib import Path
from typing import Any

import pytest
from django.db import connection
from openpyxl import load_workbook

from kehu.customers import services as customer_services
from kehu.customers.models import Contact, Customer
from kehu.customers.selectors import CustomerFilters
from kehu.transfer.exporting import Export, escape

pytestmark = pytest.mark.django_db

CONTROLS = "".join(chr(code) for code in range(0x20))  # \x00-\x1f, tab, LF and CR among them
DROPPED = "".join(c for c in CONTROLS if c not in "\t\n\r")


def _customer_with_controls(org: Any) -> Customer:
    customer = customer_services.customer_create(
        actor=org.rep,
        data={"name": "华东精工有限公司"},
        contacts=[{"name": "王伟", "mobile": "13812345678"}],
        force=True,
    )
    # as data written before any input cleaning, or by another system into the database
    # (PostgreSQL's text cannot hold U+0000 at all)
    stored = CONTROLS if connection.vendor == "sqlite" else CONTROLS[1:]
    Customer.objects.filter(pk=customer.pk).update(
        name=f"华东{stored}精工有限公司", address="\x01=1+2"
    )
    Contact.objects.filter(customer=customer).update(title="经理\x07\x1f\t助理")
    return customer


def _export(org: Any, kind: str) -> Export:
    return Export(user=org.admin, kind=kind, filters=CustomerFilters(), channel="cli")


@pytest.mark.parametrize("kind", ["customers", "contacts"])
def test_xlsx_export_drops_control_characters(org: Any, tmp_path: Path, kind: str) -> None:
    _customer_with_controls(org)
    target = tmp_path / "out.xlsx"
    assert _export(org, kind).write_xlsx(target) == 1
    rows = list(load_workbook(target).worksheets[0].iter_rows(values_only=True))
    # an XML reader turns a carriage return into a line feed
    cells = {cell.replace("\r", "\n") for cell in rows[1] if isinstance(cell, str)}
    assert not any(c in cell for cell in cells for c in DROPPED)
    if kind == "customers":
        assert "华东\t\n\n精工有限公司" in cells
        assert "'=1+2" in cells  # the formula is neutralised once the \x01 is gone
    assert "经理\t助理" in cells


def test_csv_export_drops_the_same_characters(org: Any) -> None:
    _customer_with_controls(org)
    content = b"".join(_export(org, "customers").csv_chunks()).decode("utf-8-sig")
    rows = list(csv.reader(io.StringIO(content)))
    assert "华东\t\n\r精工有限公司" in rows[1]
    assert "'=1+2" in rows[1]
    assert not any(c in content for c in DROPPED)


def test_escape_keeps_numbers_and_prefixes_formulas() -> None:
    assert escape(12) == 12
    assert escape("\x00+86 138") == "'+86 138"
    assert escape("@SUM(A1)") == "'@SUM(A1)"
    assert escape("-\x0b5") == "'-5"
    assert escape("普通文本\x1b") == "普通文本"
