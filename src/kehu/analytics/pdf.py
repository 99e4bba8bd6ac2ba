"""The PDF pack of the quarterly review, written with fpdf2 in a CJK font of the system.

Kehu ships no font: the PDF uses a font with Chinese glyphs installed on the server (Noto Sans
CJK from Debian's ``fonts-noto-cjk``, or WenQuanYi), or the file named by the environment
variable ``KEHU_PDF_FONT`` (``path`` or ``path#index`` for a font collection). Without one
the PDF is refused with a clear error (``PdfFontMissing``, 503) instead of printing empty
boxes; docs/operations.md says what to install.
"""

from __future__ import annotations

import glob
import logging
import os
import shutil
import subprocess
from collections.abc import Sequence
from functools import lru_cache
from typing import Any

from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from kehu.analytics.reporting import Report
from kehu.core.errors import KehuError

PDF_TYPE = "application/pdf"

# fontTools, which fpdf2 subsets the font with, logs every table of every subset at INFO.
logging.getLogger("fontTools").setLevel(logging.WARNING)

# Looked for in this order when KEHU_PDF_FONT is not set; ``index`` picks the Simplified
# Chinese face of a collection (Noto Sans CJK's .ttc holds JP, KR, SC, TC, HK in that order).
_CANDIDATES: tuple[tuple[str, int], ...] = (
    ("/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc", 2),
    ("/usr/share/fonts/noto-cjk/NotoSansCJK-Regular.ttc", 2),
    ("/usr/share/fonts/google-noto-cjk/NotoSansCJK-Regular.ttc", 2),
    ("/usr/share/fonts/truetype/wqy/wqy-microhei.ttc", 0),
    ("/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc", 0),
    ("/usr/share/fonts/opentype/noto/NotoSerifCJK-Regular.ttc", 2),
)


class PdfFontMissing(KehuError):
    status = 503
    code = "pdf_font_missing"
    default_detail = gettext_lazy(
        "No font with Chinese characters is installed on the server, so the PDF cannot be "
        "made. Install fonts-noto-cjk (or set KEHU_PDF_FONT to a CJK font file); the XLSX "
        "pack works without it."
    )


def _from_setting(value: str) -> tuple[str, int] | None:
    path, _sep, index = value.partition("#")
    if not os.path.isfile(path):
        return None
    return path, int(index) if index.isdigit() else 0


def _from_fontconfig() -> tuple[str, int] | None:
    """The first font fontconfig lists for Chinese (``fc-list :lang=zh``)."""
    command = shutil.which("fc-list")
    if command is None:
        return None
    try:
        listed = subprocess.run(
            [command, ":lang=zh", "file", "index"],
            capture_output=True,
            text=True,
            timeout=10,
            check=False,
        ).stdout
    except (OSError, subprocess.SubprocessError):
        return None
    for line in sorted(listed.splitlines()):
        path, _sep, rest = line.partition(":")
        index = rest.strip().removeprefix("index=")
        if path.lower().endswith((".ttf", ".otf", ".ttc")) and os.path.isfile(path):
            return path, int(index) if index.isdigit() else 0
    return None


@lru_cache(maxsize=1)
def _discovered() -> tuple[str, int] | None:
    for path, index in _CANDIDATES:
        if os.path.isfile(path):
            return path, index
    for pattern in ("/usr/share/fonts/**/NotoSansCJK*.tt[cf]", "/usr/share/fonts/**/*CJK*.tt[cf]"):
        found = sorted(glob.glob(pattern, recursive=True))
        if found:
            return found[0], 2 if found[0].endswith(".ttc") and "Noto" in found[0] else 0
    return _from_fontconfig()


def cjk_font() -> tuple[str, int]:
    """The font file (and face index in a collection) the PDF is written in."""
    configured = os.environ.get("KEHU_PDF_FONT", "").strip()
    font = _from_setting(configured) if configured else _discovered()
    if font is None:
        raise PdfFontMissing()
    return font


def _text(value: Any, kind: str) -> str:
    if value is None:
        return "—"
    if kind == "money" and isinstance(value, int | float):
        return f"{value:,.2f}"
    if kind == "pct" and isinstance(value, int | float):
        return f"{value:.1f}%"
    if kind in ("days", "hours", "decimal") and isinstance(value, float):
        return f"{value:,.2f}".rstrip("0").rstrip(".")
    if kind == "int" and isinstance(value, int | float):
        return f"{value:,.0f}"
    return str(value)


def reports_pdf(reports: Sequence[Report], *, title: str = "") -> bytes:
    """A PDF of ``reports``: per report its summary and its tables (charts are left to the
    page). Rows carrying a ``kind`` of their own (the review's comparison) use it."""
    from fpdf import FPDF
    from fpdf.enums import XPos, YPos

    path, index = cjk_font()
    pdf = FPDF(orientation="landscape", format="A4")
    pdf.set_auto_page_break(auto=True, margin=12)
    pdf.add_font("cjk", "", path, collection_font_number=index)
    bold = path.replace("Regular", "Bold")  # the table headings' bold face, when installed
    pdf.add_font("cjk", "B", bold if os.path.isfile(bold) else path, collection_font_number=index)
    pdf.set_title(title or (str(reports[0].title) if reports else "Kehu"))
    pdf.add_page()
    width = pdf.epw
    for report in reports:
        data = report.as_dict()
        pdf.set_font("cjk", size=14)
        pdf.multi_cell(width, 8, data["title"], new_x=XPos.LMARGIN, new_y=YPos.NEXT)
        pdf.set_font("cjk", size=8)
        line = " · ".join(f"{key}={value}" for key, value in data["filters"].items())
        pdf.multi_cell(width, 5, line, new_x=XPos.LMARGIN, new_y=YPos.NEXT)
        if data["amounts_masked"]:
            pdf.multi_cell(
                width,
                5,
                _("Amounts of deals whose amounts you may not see are left out of the sums."),
                new_x=XPos.LMARGIN,
                new_y=YPos.NEXT,
            )
        pdf.set_font("cjk", size=9)
        if data["summary"]:
            with pdf.table(col_widths=(3, 2), width=min(width, 160), text_align="LEFT") as grid:
                for item in data["summary"]:
                    row = grid.row()
                    row.cell(item["label"])
                    row.cell(_text(item["value"], item["kind"]))
            pdf.ln(3)
        for table in data["tables"]:
            pdf.set_font("cjk", size=11)
            pdf.multi_cell(width, 7, table["title"], new_x=XPos.LMARGIN, new_y=YPos.NEXT)
            pdf.set_font("cjk", size=8)
            columns = table["columns"]
            if not table["rows"]:
                pdf.multi_cell(
                    width, 5, _("No data in this period."), new_x=XPos.LMARGIN, new_y=YPos.NEXT
                )
            else:
                with pdf.table(text_align="LEFT", first_row_as_headings=True) as grid:
                    heading = grid.row()
                    for column in columns:
                        heading.cell(column["label"])
                    for values in table["rows"]:
                        row = grid.row()
                        for column in columns:
                            kind = (
                                values.get("kind", column["kind"])
                                if column["kind"] != "text"
                                else "text"
                            )
                            row.cell(_text(values.get(column["key"]), kind))
            if table["note"]:
                pdf.multi_cell(width, 5, table["note"], new_x=XPos.LMARGIN, new_y=YPos.NEXT)
            pdf.ln(3)
    return bytes(pdf.output())
