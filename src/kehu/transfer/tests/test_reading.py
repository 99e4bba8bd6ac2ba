"""Bad input: every problem gets a clear message naming the line or column; nothing is written."""

from __future__ import annotations

import zipfile
from pathlib import Path
from typing import Any

import pytest
from django.test import override_settings

from kehu.core.errors import InvalidInput
from kehu.customers.models import Customer
from kehu.transfer import engine, services
from kehu.transfer.reading import FileProblem, detect_encoding, open_sheet, text_content
from kehu.transfer.tests.helpers import HEADERS, customer_rows, write_csv, write_xlsx

pytestmark = pytest.mark.django_db


def _import(org: Any, path: Path, **options: Any) -> Any:
    job = services.import_job_create(actor=org.admin, kind="customers", path=path, **options)
    job.dry_run = False
    return engine.run_job(job)


def test_empty_file(org: Any, tmp_path: Path) -> None:
    path = tmp_path / "empty.csv"
    path.write_bytes(b"")
    with pytest.raises(FileProblem, match="empty") as error:
        services.import_job_create(actor=org.admin, kind="customers", path=path)
    assert error.value.code == "empty_file"


def test_only_headers(org: Any, tmp_path: Path) -> None:
    path = write_csv(tmp_path / "headers.csv", [])
    job = _import(org, path)
    assert job.status == "failed"
    assert "no data rows" in job.message
    assert Customer.objects.count() == 0


def test_only_headers_xlsx(org: Any, tmp_path: Path) -> None:
    job = _import(org, write_xlsx(tmp_path / "headers.xlsx", []))
    assert job.status == "failed"
    assert "no data rows" in job.message


def test_binary_file_renamed_to_csv(org: Any, tmp_path: Path) -> None:
    path = tmp_path / "photo.csv"
    path.write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(range(256)) * 4)
    with pytest.raises(FileProblem) as error:
        services.import_job_create(actor=org.admin, kind="customers", path=path)
    assert error.value.code == "binary_file"
    assert "not a spreadsheet" in error.value.detail


def test_old_xls_is_refused_with_advice(org: Any, tmp_path: Path) -> None:
    path = tmp_path / "old.xlsx"
    path.write_bytes(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 600)
    with pytest.raises(FileProblem, match=r"\.xls"):
        services.import_job_create(actor=org.admin, kind="customers", path=path)


def test_corrupted_xlsx(org: Any, tmp_path: Path) -> None:
    good = write_xlsx(tmp_path / "good.xlsx", customer_rows(3))
    broken = tmp_path / "broken.xlsx"
    broken.write_bytes(good.read_bytes()[:400])
    with pytest.raises(FileProblem) as error:
        services.import_job_create(actor=org.admin, kind="customers", path=broken)
    assert error.value.code == "corrupt_xlsx"


def _rewrite_sheet(path: Path, change: Any) -> None:
    """The workbook at ``path`` with its first sheet's XML passed through ``change``."""
    with zipfile.ZipFile(path) as source:
        members = {info.filename: source.read(info) for info in source.infolist()}
    members["xl/worksheets/sheet1.xml"] = change(members["xl/worksheets/sheet1.xml"])
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as target:
        for name, data in members.items():
            target.writestr(name, data)


def test_a_sheet_without_its_dimension_is_opened_from_its_head(tmp_path: Path) -> None:
    """Opening parses the XML up to the first cell, not the whole sheet (see reading.py): a
    sheet without ``<dimension>`` whose last row is damaged opens (its ``<row>`` elements are
    counted in the bytes, the damaged one too), and its rows fail there."""
    from openpyxl import Workbook

    workbook = Workbook(write_only=True)  # as Kehu's exports: no <dimension>
    sheet = workbook.create_sheet()
    for row in [HEADERS, *customer_rows(3)]:
        sheet.append(row)
    path = tmp_path / "no-dimension.xlsx"
    workbook.save(path)
    _rewrite_sheet(path, lambda xml: xml.replace(b"</sheetData>", b"<row><c></sheetData>"))
    opened = open_sheet(path)
    assert opened.headers == HEADERS
    assert opened.total_rows == 4  # counted in the XML: the dimension is never trusted
    with pytest.raises(FileProblem) as error:
        list(opened.rows())
    assert error.value.code == "corrupt_xlsx"

    sized = write_xlsx(tmp_path / "sized.xlsx", customer_rows(3))
    assert open_sheet(sized).total_rows == 3


MAIN = 'xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"'


@pytest.mark.parametrize(
    "xml",
    [
        f"<is {MAIN}><t>上海科技</t></is>",
        f'<is {MAIN}><t xml:space="preserve">  前后空格 </t></is>',
        f"<is {MAIN}><t/></is>",
        f"<is {MAIN}></is>",
        f"<si {MAIN}><r><rPr><b/></rPr><t>粗</t></r><r><t>体</t></r></si>",
        f'<si {MAIN}><t>漢字</t><rPh sb="0" eb="2"><t>カンジ</t></rPh>'
        '<phoneticPr fontId="1"/></si>',
        f"<si {MAIN}><t>a</t><r><t>b</t></r><t>c</t></si>",
        f"<si {MAIN}><r><t/></r><r><t>x</t><t>y</t></r></si>",
        "<si><t>无命名空间</t></si>",
    ],
)
def test_string_cells_read_as_openpyxl_reads_them(xml: str) -> None:
    from xml.etree.ElementTree import fromstring

    from openpyxl.cell.text import Text

    node = fromstring(xml)
    assert text_content(node) == Text.from_tree(node).content


def test_xlsx_text_cells_come_back_as_written(tmp_path: Path) -> None:
    rows = customer_rows(5)
    rows[0][0] = "  前后空格的公司  "
    rows[1][0] = "x005F_转义"
    path = write_xlsx(tmp_path / "text.xlsx", rows)
    with zipfile.ZipFile(path) as archive:
        assert b't="inlineStr"' in archive.read("xl/worksheets/sheet1.xml")
    read = [cells for _line, cells in open_sheet(path).rows()]
    assert [cells[0] for cells in read] == [row[0] for row in rows]


def test_shared_strings_as_excel_writes_them(tmp_path: Path) -> None:
    """Excel keeps text in a shared-string table (openpyxl writes inline strings)."""
    import io

    from openpyxl.reader.strings import read_string_table

    open_sheet(write_xlsx(tmp_path / "any.xlsx", customer_rows(1)))  # installs the reader
    table = (
        f'<sst {MAIN} count="3" uniqueCount="3"><si><t>上海科技有限公司</t></si>'
        "<si><r><rPr><b/></rPr><t>粗</t></r><r><t>体</t></r></si>"
        "<si><t>x005F_x000D_回车</t></si></sst>"
    )
    strings = read_string_table(io.BytesIO(table.encode()))
    assert strings == ["上海科技有限公司", "粗体", "x000D_回车"]


def test_xlsx_renamed_to_csv_is_read_as_xlsx(org: Any, tmp_path: Path) -> None:
    source = write_xlsx(tmp_path / "data.xlsx", customer_rows(2))
    renamed = tmp_path / "data.csv"
    renamed.write_bytes(source.read_bytes())
    assert open_sheet(renamed).format == "xlsx"


def test_gbk_and_bom_are_detected(tmp_path: Path) -> None:
    rows = customer_rows(3)
    gbk = write_csv(tmp_path / "gbk.csv", rows, encoding="gbk")
    bom = write_csv(tmp_path / "bom.csv", rows, encoding="utf-8-sig")
    assert detect_encoding(gbk) == "gb18030"
    assert detect_encoding(bom) == "utf-8-sig"
    sheet = open_sheet(gbk)
    assert sheet.headers == HEADERS
    assert next(sheet.rows())[1][0] == rows[0][0]
    assert open_sheet(bom).headers[0] == "客户名称"


@pytest.mark.parametrize("delimiter", [";", "\t", "|"])
def test_delimiters_excel_writes(tmp_path: Path, delimiter: str) -> None:
    path = write_csv(tmp_path / "semi.csv", customer_rows(3), delimiter=delimiter)
    sheet = open_sheet(path)
    assert sheet.delimiter == delimiter
    assert sheet.headers == HEADERS


def test_mixed_encodings_name_the_lines(org: Any, tmp_path: Path) -> None:
    path = tmp_path / "mixed.csv"
    path.write_bytes(
        "客户名称,手机\n".encode()
        + "上海华瑞科技有限公司,13812345678\n".encode()
        + "北京恒泰科技有限公司,13912345678\n".encode("gbk")
    )
    with pytest.raises(FileProblem) as error:
        services.import_job_create(actor=org.admin, kind="customers", path=path)
    assert error.value.code == "mixed_encoding"
    assert "line 1" in error.value.detail
    assert "line 3" in error.value.detail
    assert Customer.objects.count() == 0


def test_duplicate_header_names(org: Any, tmp_path: Path) -> None:
    path = write_csv(
        tmp_path / "dup.csv", [["甲公司", "1", "2"]], headers=["客户名称", "手机", "手机"]
    )
    with pytest.raises(FileProblem) as error:
        services.import_job_create(actor=org.admin, kind="customers", path=path)
    assert error.value.code == "duplicate_header"
    assert "B" in error.value.detail
    assert "C" in error.value.detail
    assert "手机" in error.value.detail


@override_settings(IMPORT_MAX_FILE_BYTES=64 * 1024 * 1024)  # 30 MB: over the default limit
def test_ten_megabyte_cell(org: Any, tmp_path: Path) -> None:
    rows = customer_rows(2)
    rows[1][0] = "大" * (10 * 1024 * 1024)
    job = _import(org, write_csv(tmp_path / "big.csv", rows))
    assert job.status == "done"
    assert job.counts["invalid"] == 1
    assert job.counts["created"] == 1
    error = job.errors[0]
    assert error["line"] == 3
    assert error["column"] == "客户名称"
    assert "32767" in error["message"]


def test_formula_cells_are_never_evaluated(org: Any, tmp_path: Path) -> None:
    rows = customer_rows(2)
    rows[0][0] = '=HYPERLINK("http://evil.example/","点我")'
    path = write_xlsx(tmp_path / "formula.xlsx", rows)
    job = _import(org, path)
    assert job.counts["invalid"] == 1
    assert job.counts["created"] == 1
    assert job.errors[0]["line"] == 2
    assert "formula" in job.errors[0]["message"]
    assert not Customer.objects.filter(name__contains="HYPERLINK").exists()


def test_formula_text_in_csv_is_refused(org: Any, tmp_path: Path) -> None:
    rows = customer_rows(1)
    rows[0][0] = "=cmd|' /C calc'!A0"
    rows.append(customer_rows(1, start=9)[0])
    rows[1][0] = '=HYPERLINK("http://x")'
    job = _import(org, write_csv(tmp_path / "formula.csv", rows))
    # the DDE payload is plain text for Kehu (no function call), the HYPERLINK call is refused
    assert job.counts["invalid"] == 1
    assert job.errors[0]["line"] == 3


def test_hundred_junk_columns_without_a_name_column(org: Any, tmp_path: Path) -> None:
    headers = [f"junk{i}" for i in range(100)]
    path = write_csv(tmp_path / "junk.csv", [["x"] * 100], headers=headers)
    with pytest.raises(InvalidInput, match="客户名称") as error:
        services.import_job_create(actor=org.admin, kind="customers", path=path)
    assert error.value.code == "missing_column"
    assert Customer.objects.count() == 0


def test_junk_columns_beside_real_ones_are_ignored(org: Any, tmp_path: Path) -> None:
    headers = [*HEADERS, *(f"junk{i}" for i in range(100))]
    rows = [row + ["垃圾"] * 100 for row in customer_rows(3)]
    job = _import(org, write_csv(tmp_path / "junk.csv", rows, headers=headers))
    assert job.counts["created"] == 3
    assert all(job.mapping[f"junk{i}"] == "" for i in range(100))
