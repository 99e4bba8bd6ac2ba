"""Reading spreadsheets as streams of rows: XLSX (read-only) and CSV in any encoding Excel writes.

The format is decided by the file's content, not its name, so a renamed file is recognised
(or refused with a clear message). CSV encodings: UTF-8, UTF-8 with BOM, GBK/GB18030; a file
mixing encodings is refused with the first row of each kind. Formulas are never evaluated:
XLSX cells are read as stored, and a formula cell is reported, not imported.
"""

from __future__ import annotations

import codecs
import csv
import io
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date, datetime, time
from functools import cache
from pathlib import Path
from typing import Any
from xml.etree.ElementTree import ParseError

from django.utils.translation import gettext as _

from kehu.core.errors import InvalidInput
from kehu.transfer.limits import Deadline, ImportLimits

ENCODINGS = ("utf-8-sig", "utf-8", "gb18030")
ENCODING_ALIASES = {
    "utf8": "utf-8",
    "utf-8": "utf-8",
    "utf-8-sig": "utf-8-sig",
    "utf8-bom": "utf-8-sig",
    "utf-8-bom": "utf-8-sig",
    "gbk": "gb18030",
    "gb2312": "gb18030",
    "gb18030": "gb18030",
}
MAX_CELL = 32767  # Excel's own limit for one cell
SNIFF_BYTES = 64 * 1024
# what openpyxl raises for a damaged workbook: a bad zip, a missing part, bad XML or values
DAMAGED_SHEET = (zipfile.BadZipFile, KeyError, ValueError, EOFError, ParseError)
csv.field_size_limit(64 * 1024 * 1024)  # oversized cells are reported by row, not by csv.Error


class FileProblem(InvalidInput):
    """The file as a whole cannot be read; nothing is imported."""

    code = "bad_file"


@dataclass
class Sheet:
    """Header and a fresh iterator of data rows (1-based data row numbers, as in the file)."""

    format: str
    headers: list[str]
    encoding: str = ""
    delimiter: str = ""
    total_rows: int = 0
    header_line: int = 1
    path: Path = field(default_factory=Path)
    limits: ImportLimits = field(default_factory=ImportLimits.current)
    deadline: Deadline | None = None  # of a check phase, while its rows are read

    def rows(self) -> Iterator[tuple[int, list[Any]]]:
        """Yield (line number in the file, cells) for every non-empty data row; at most
        ``limits.max_columns`` cells of each are read."""
        if self.format == "xlsx":
            yield from _xlsx_rows(self.path, self.header_line, self.limits, self.deadline)
        else:
            yield from _csv_rows(
                self.path,
                self.encoding,
                self.delimiter,
                self.header_line,
                self.limits,
                self.deadline,
            )


def normalise_encoding(name: str) -> str:
    if not name:
        return ""
    key = name.strip().lower().replace("_", "-")
    if key not in ENCODING_ALIASES:
        raise FileProblem(
            _("Unknown encoding %(name)s; use UTF-8, UTF-8-BOM or GBK.") % {"name": name}
        )
    return ENCODING_ALIASES[key]


def _sniff_kind(path: Path) -> str:
    with path.open("rb") as handle:
        head = handle.read(SNIFF_BYTES)
    if not head.strip(b"\xef\xbb\xbf \r\n\t"):
        raise FileProblem(_("The file is empty."), code="empty_file")
    if head.startswith(b"PK\x03\x04"):
        return "xlsx"
    if head.startswith(b"\xd0\xcf\x11\xe0"):
        raise FileProblem(
            _("This is an old Excel 97-2003 (.xls) file; save it as .xlsx or CSV and try again."),
            code="unsupported_format",
        )
    if b"\x00" in head:
        raise FileProblem(
            _("The file is not a spreadsheet (it holds binary data); upload an XLSX or CSV file."),
            code="binary_file",
        )
    return "csv"


def detect_encoding(path: Path) -> str:
    """UTF-8 (with or without BOM) or GB18030; refuse files that mix the two."""
    decoder_utf8 = codecs.getincrementaldecoder("utf-8")()
    first_utf8: int | None = None
    first_other: int | None = None
    bom = False
    with path.open("rb") as handle:
        for number, line in enumerate(handle, start=1):
            if number == 1 and line.startswith(codecs.BOM_UTF8):
                bom = True
                line = line[len(codecs.BOM_UTF8) :]
            if line.isascii():
                continue
            try:
                decoder_utf8.decode(line)
                first_utf8 = first_utf8 or number
            except UnicodeDecodeError:
                decoder_utf8.reset()
                first_other = first_other or number
            if first_utf8 and first_other:
                raise FileProblem(
                    _(
                        "The file mixes encodings: line %(utf8)d is UTF-8 but line %(other)d is "
                        "not (GBK?). Save the whole file in one encoding."
                    )
                    % {"utf8": first_utf8, "other": first_other},
                    code="mixed_encoding",
                )
    if bom:
        return "utf-8-sig"
    if first_other:
        try:
            with path.open("rb") as handle:
                for _line in io.TextIOWrapper(handle, encoding="gb18030", errors="strict"):
                    pass
        except UnicodeDecodeError as error:
            raise FileProblem(
                _("The file is neither UTF-8 nor GBK text; choose its encoding."),
                code="unknown_encoding",
            ) from error
        return "gb18030"
    return "utf-8"


def _sniff_delimiter(sample: str) -> str:
    try:
        return csv.Sniffer().sniff(sample, delimiters=",;\t|").delimiter
    except csv.Error:
        return ","


def _open_text(path: Path, encoding: str) -> io.TextIOWrapper:
    return io.TextIOWrapper(path.open("rb"), encoding=encoding, errors="strict", newline="")


def _csv_rows(
    path: Path,
    encoding: str,
    delimiter: str,
    skip: int,
    limits: ImportLimits,
    deadline: Deadline | None,
) -> Iterator[tuple[int, list[Any]]]:
    width, rows_left = limits.max_columns, limits.max_rows
    with _open_text(path, encoding) as text:
        reader = csv.reader(text, delimiter=delimiter)
        try:
            for cells in reader:
                if reader.line_num <= skip:
                    continue
                if deadline is not None:
                    deadline.check()
                rows_left -= 1
                if rows_left < 0:
                    raise limits.too_many_rows()
                if len(cells) > width:
                    del cells[width:]
                if any(cell.strip() for cell in cells):
                    yield reader.line_num, cells
        except UnicodeDecodeError as error:
            raise FileProblem(
                _("Line %(line)d cannot be read as %(encoding)s; choose another encoding.")
                % {"line": reader.line_num + 1, "encoding": encoding},
                code="bad_encoding",
            ) from error
        except csv.Error as error:
            raise FileProblem(
                _("Line %(line)d is not valid CSV: %(error)s")
                % {"line": reader.line_num, "error": error},
                code="bad_csv",
            ) from error


class FormulaCell(str):
    """A cell that holds a formula: kept as its text, never evaluated, reported by cleaning."""


def _parsed_rows(worksheet: Any, width: int) -> Iterator[tuple[int, list[Any]]]:
    """(row number, values) of the rows the sheet's XML holds, read with openpyxl's streaming
    parser as ``ReadOnlyWorksheet.iter_rows`` reads them, but ignoring the declared dimension:
    ``iter_rows`` pads every row to the dimension's width and adds blank rows up to its
    height, and a sheet declaring ``A1:XFD1048576`` made a million rows of 16,384 cells. Rows
    absent from the XML are not yielded; cells past column ``width`` are not read; a formula
    is its text (``FormulaCell``), a date-time at midnight a date."""
    from openpyxl.worksheet._reader import WorkSheetParser

    book = worksheet.parent
    with worksheet._get_source() as source:
        parser = WorkSheetParser(
            source,
            worksheet._shared_strings,
            data_only=False,
            epoch=book.epoch,
            date_formats=book._date_formats,
            timedelta_formats=book._timedelta_formats,
        )
        for number, cells in parser.parse():
            values: list[Any] = []
            for cell in cells:
                value, column = cell["value"], cell["column"]
                if value is None or column > width:
                    continue
                if cell["data_type"] == "f":
                    value = FormulaCell(str(value))
                elif isinstance(value, datetime) and value.time() == time(0):
                    value = value.date()
                if column > len(values):
                    values.extend([None] * (column - len(values)))
                values[column - 1] = value
            yield number, values


def _size_from_the_head(worksheet: Any) -> None:
    """``ReadOnlyWorksheet._get_size`` that stops where the cells begin.

    openpyxl's own looks for ``<dimension>`` among the XML parser's *end* events, and
    ``<sheetData>`` ends only after its last cell: a sheet written without a dimension
    (openpyxl's write-only mode, hence Kehu's own exports and most generated files) was parsed
    to its end, only to find no size, each time the workbook was opened — twice per import,
    17 % of a 100,000-row import each. Start events see both elements before any cell."""
    from openpyxl.worksheet._reader import DATA_TAG, DIMENSION_TAG
    from openpyxl.worksheet.dimensions import SheetDimension
    from openpyxl.xml.functions import iterparse

    with worksheet._get_source() as source:
        for _event, element in iterparse(source, events=("start",)):
            if element.tag == DATA_TAG:
                return
            if element.tag == DIMENSION_TAG:
                dimension = SheetDimension.from_tree(element)
                if dimension is not None:
                    (
                        worksheet._min_column,
                        worksheet._min_row,
                        worksheet._max_column,
                        worksheet._max_row,
                    ) = dimension.boundaries
                return


@cache
def _read_sizes_from_the_head() -> None:
    from openpyxl.worksheet._read_only import ReadOnlyWorksheet

    if hasattr(ReadOnlyWorksheet, "_get_size"):  # the private method this replaces
        ReadOnlyWorksheet._get_size = _size_from_the_head


def _localname(tag: str) -> str:
    return tag.rpartition("}")[2]


def text_content(node: Any) -> str:
    """What ``openpyxl.cell.text.Text.from_tree(node).content`` answers for an inline string
    (``<is>``) or a shared string (``<si>``): its plain text followed by the text of its
    formatted runs, phonetic runs left out; the last of repeated elements counts, and tags
    are matched without their namespace, as openpyxl's ``Serialisable.from_tree`` does."""
    plain: str | None = None
    runs: list[str] = []
    for child in node:
        name = _localname(child.tag)
        if name == "t":
            plain = child.text
        elif name == "r":
            run: str | None = None
            for part in child:
                if _localname(part.tag) == "t":
                    run = part.text
            if run is not None:
                runs.append(run)
    return "".join(runs) if plain is None else plain + "".join(runs)


class _PlainText:
    """Stands in for openpyxl's ``Text`` in the two readers that only ask for
    ``Text.from_tree(node).content``: the cell parser (inline strings) and the shared-string
    table. ``Text.from_tree`` builds descriptor-checked objects for every string, 27 % of the
    reading process's time on an XLSX of 100,000 rows with inline strings."""

    __slots__ = ("content",)

    def __init__(self, content: str) -> None:
        self.content = content

    @classmethod
    def from_tree(cls, node: Any) -> _PlainText:
        return cls(text_content(node))


@cache
def _read_strings_plainly() -> None:
    from openpyxl.reader import strings
    from openpyxl.worksheet import _reader

    for module in (_reader, strings):
        if getattr(module, "Text", None) is not None:  # the name this replaces
            module.Text = _PlainText  # type: ignore[attr-defined]


def _open_workbook(path: Path, limits: ImportLimits) -> Any:
    from openpyxl import load_workbook

    limits.check_zip(path)  # before openpyxl inflates anything
    _read_sizes_from_the_head()
    _read_strings_plainly()
    # A file object, not the path: openpyxl would refuse a renamed file by its extension.
    handle = path.open("rb")
    try:
        # data_only=False: formulas come back as their text, so nothing is ever evaluated.
        workbook: Any = load_workbook(handle, read_only=True, data_only=False, keep_links=False)
        workbook._kehu_handle = handle
        return workbook
    except (*DAMAGED_SHEET, OSError, TypeError) as error:
        handle.close()
        raise FileProblem(
            _(
                "The XLSX file is damaged or not really an XLSX file; "
                "open it in Excel and save it again."
            ),
            code="corrupt_xlsx",
        ) from error


def _close_workbook(workbook: Any) -> None:
    workbook.close()
    handle = getattr(workbook, "_kehu_handle", None)
    if handle is not None:
        handle.close()


def _xlsx_rows(
    path: Path, skip: int, limits: ImportLimits, deadline: Deadline | None
) -> Iterator[tuple[int, list[Any]]]:
    workbook = _open_workbook(path, limits)
    rows_left = limits.max_rows
    try:
        sheet = workbook.worksheets[0]
        try:
            for number, cells in _parsed_rows(sheet, limits.max_columns):
                if number <= skip:
                    continue
                if deadline is not None:
                    deadline.check()
                rows_left -= 1
                if rows_left < 0:
                    raise limits.too_many_rows()
                if any(value not in (None, "") for value in cells):
                    yield number, cells
        except DAMAGED_SHEET as error:
            raise FileProblem(
                _("The XLSX file is damaged; open it in Excel and save it again."),
                code="corrupt_xlsx",
            ) from error
    finally:
        _close_workbook(workbook)


def _header_text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, datetime | date):
        return value.isoformat()
    return str(value).strip()


def column_letter(index: int) -> str:
    """0 → A, 25 → Z, 26 → AA (as Excel names columns)."""
    letters = ""
    index += 1
    while index:
        index, rest = divmod(index - 1, 26)
        letters = chr(65 + rest) + letters
    return letters


def _check_headers(headers: list[str]) -> None:
    seen: dict[str, int] = {}
    for index, header in enumerate(headers):
        if not header:
            continue
        key = header.casefold()
        if key in seen:
            raise FileProblem(
                _("Columns %(first)s and %(second)s are both named “%(name)s”; rename one of them.")
                % {
                    "first": column_letter(seen[key]),
                    "second": column_letter(index),
                    "name": header,
                },
                code="duplicate_header",
            )
        seen[key] = index
        if len(header) > 200:
            raise FileProblem(
                _("The header of column %(column)s is too long; is the first row a header?")
                % {"column": column_letter(index)},
                code="bad_header",
            )


def _count_records(
    path: Path, encoding: str, delimiter: str, header_line: int, deadline: Deadline
) -> int:
    """CSV records after the header line (a quoted cell may span lines, so lines only bound
    them from above)."""
    count = 0
    with _open_text(path, encoding) as text:
        reader = csv.reader(text, delimiter=delimiter)
        try:
            for _cells in reader:
                if reader.line_num > header_line:
                    count += 1
                    if count % 1024 == 0:
                        deadline.check()
        except (csv.Error, UnicodeDecodeError):
            pass  # reported with its line when the rows are read
    return count


def _count_lines(path: Path) -> int:
    count = 0
    with path.open("rb") as handle:
        while chunk := handle.read(1 << 20):
            count += chunk.count(b"\n")
    return count


def _count_xlsx_rows(worksheet: Any, deadline: Deadline) -> int:
    """The ``<row>`` elements of a sheet's XML, counted in its bytes (no XML parsing; text
    cannot hold ``<``): the rows the file really has, whatever its dimension declares."""
    count = 0
    tail = b""
    with worksheet._get_source() as source:
        while chunk := source.read(1 << 20):
            deadline.check()
            data = tail + chunk
            count += data.count(b"<row ") + data.count(b"<row>")
            tail = data[-4:]  # shorter than a match: none is counted twice
    return count


def open_sheet(
    path: Path | str,
    *,
    encoding: str = "",
    limits: ImportLimits | None = None,
    deadline: Deadline | None = None,
) -> Sheet:
    """Open a file, check its header row and the import limits, and report what was detected.
    ``deadline`` bounds this check (default: a new one of the limits' check seconds)."""
    path = Path(path)
    if not path.exists() or not path.is_file():
        raise FileProblem(_("The file %(name)s does not exist.") % {"name": path.name})
    limits = limits or ImportLimits.current()
    deadline = deadline or Deadline(limits.check_seconds)
    limits.check_size(path)
    kind = _sniff_kind(path)
    if kind == "xlsx":
        workbook = _open_workbook(path, limits)
        try:
            if not workbook.worksheets:
                raise FileProblem(_("The workbook has no worksheet."), code="empty_file")
            sheet = workbook.worksheets[0]
            header_row: list[Any] | None = None
            header_line = 1
            try:
                total = max(0, _count_xlsx_rows(sheet, deadline) - 1)
                if total > limits.max_rows:
                    raise limits.too_many_rows()
                for number, row in _parsed_rows(sheet, limits.max_columns + 1):
                    deadline.check()
                    if any(value not in (None, "") for value in row):
                        header_row, header_line = row, number
                        break
            except DAMAGED_SHEET as error:
                raise FileProblem(
                    _("The XLSX file is damaged; open it in Excel and save it again."),
                    code="corrupt_xlsx",
                ) from error
        finally:
            _close_workbook(workbook)
        if header_row is None:
            raise FileProblem(_("The file is empty."), code="empty_file")
        headers = [_header_text(value) for value in header_row]
        result = Sheet(
            "xlsx", headers, total_rows=total, header_line=header_line, path=path, limits=limits
        )
    else:
        chosen = normalise_encoding(encoding) or detect_encoding(path)
        with _open_text(path, chosen) as text:
            try:
                sample = text.read(SNIFF_BYTES)
            except UnicodeDecodeError as error:
                raise FileProblem(
                    _("The file cannot be read as %(encoding)s; choose another encoding.")
                    % {"encoding": chosen},
                    code="bad_encoding",
                ) from error
        delimiter = _sniff_delimiter(sample)
        header_line = 0
        header_cells: list[str] | None = None
        with _open_text(path, chosen) as text:
            reader = csv.reader(text, delimiter=delimiter)
            try:
                for cells in reader:
                    deadline.check()
                    if any(cell.strip() for cell in cells):
                        header_cells, header_line = cells, reader.line_num
                        break
            except (csv.Error, UnicodeDecodeError) as error:
                raise FileProblem(
                    _("The first line is not valid CSV: %(error)s") % {"error": error},
                    code="bad_csv",
                ) from error
        if header_cells is None:
            raise FileProblem(_("The file is empty."), code="empty_file")
        headers = [cell.strip().lstrip("\ufeff") for cell in header_cells[: limits.max_columns + 1]]
        total = max(0, _count_lines(path) - header_line)
        if total > limits.max_rows:
            total = _count_records(path, chosen, delimiter, header_line, deadline)
            if total > limits.max_rows:
                raise limits.too_many_rows()
        result = Sheet(
            "csv",
            headers,
            encoding=chosen,
            delimiter=delimiter,
            total_rows=total,
            header_line=header_line,
            path=path,
            limits=limits,
        )
    while result.headers and not result.headers[-1]:
        result.headers.pop()
    limits.check_columns(len(result.headers))
    _check_headers(result.headers)
    if not any(result.headers):
        raise FileProblem(_("The first row holds no column names."), code="bad_header")
    return result


def first_data_row(sheet: Sheet) -> tuple[int, list[Any]] | None:
    for item in sheet.rows():
        return item
    return None


def check_has_data(sheet: Sheet) -> None:
    if first_data_row(sheet) is None:
        raise FileProblem(_("The file has a header row but no data rows."), code="no_data")
