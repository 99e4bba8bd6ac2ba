"""Hard limits of an import file, from the settings (``IMPORT_*``, env ``KEHU_IMPORT_*``).

Every limit is checked where it is cheapest and before anything is written: the file size and
the zip expansion of an XLSX (from its zip directory, before openpyxl opens it) when the file
is opened, the rows and the header's columns when its header is checked, the wall time of
each check phase (opening the file, the dry run) while rows are read. Each answers with a
``LimitExceeded`` that names the limit (and the setting that raises it).
"""

from __future__ import annotations

import time
import zipfile
from dataclasses import dataclass
from pathlib import Path

from django.conf import settings
from django.utils.translation import gettext as _

from kehu.core.errors import InvalidInput

MB = 1024 * 1024
DEFAULTS = {
    "IMPORT_MAX_FILE_BYTES": 20 * MB,
    "IMPORT_MAX_ROWS": 200_000,
    "IMPORT_MAX_COLUMNS": 200,
    "IMPORT_CHECK_SECONDS": 600,
    "IMPORT_MAX_UNZIPPED_BYTES": 200 * MB,
    "IMPORT_MAX_ZIP_RATIO": 200,
}


class LimitExceeded(InvalidInput):
    """The file is over one of the import limits; nothing is imported."""

    code = "limit_exceeded"


def _setting(name: str) -> int:
    return int(getattr(settings, name, DEFAULTS[name]))


def size_text(size: float) -> str:
    """20 MB, 18.6 MB; below a tenth of a MB in KB (the small limits of tests)."""
    if size >= MB / 10:
        return f"{round(size / MB, 1):g} MB"
    return f"{max(1, round(size / 1024))} KB"


@dataclass(frozen=True)
class ImportLimits:
    max_bytes: int
    max_rows: int
    max_columns: int
    check_seconds: float
    max_unzipped_bytes: int
    max_zip_ratio: int

    @classmethod
    def current(cls) -> ImportLimits:
        return cls(
            max_bytes=_setting("IMPORT_MAX_FILE_BYTES"),
            max_rows=_setting("IMPORT_MAX_ROWS"),
            max_columns=_setting("IMPORT_MAX_COLUMNS"),
            check_seconds=float(getattr(settings, "IMPORT_CHECK_SECONDS", 600)),
            max_unzipped_bytes=_setting("IMPORT_MAX_UNZIPPED_BYTES"),
            max_zip_ratio=_setting("IMPORT_MAX_ZIP_RATIO"),
        )

    def check_size(self, path: Path) -> None:
        size = path.stat().st_size
        if size > self.max_bytes:
            raise LimitExceeded(
                _(
                    "The file is %(size)s; imports take files of at most %(limit)s "
                    "(setting KEHU_IMPORT_MAX_MB)."
                )
                % {"size": size_text(size), "limit": size_text(self.max_bytes)},
                code="file_too_large",
            )

    def check_zip(self, path: Path) -> None:
        """An XLSX's expansion, from its zip directory (zipfile never inflates a member past
        the size its directory entry declares, so these sizes bound the reading)."""
        try:
            with zipfile.ZipFile(path) as archive:
                members = archive.infolist()
        except (zipfile.BadZipFile, OSError, ValueError):
            return  # not a zip after all: the workbook's own opening reports the damage
        unzipped = sum(member.file_size for member in members)
        packed = max(1, sum(member.compress_size for member in members))
        if unzipped > self.max_unzipped_bytes:
            raise LimitExceeded(
                _(
                    "The XLSX file unpacks to %(size)s; imports unpack at most %(limit)s "
                    "(setting KEHU_IMPORT_MAX_UNZIPPED_MB)."
                )
                % {"size": size_text(unzipped), "limit": size_text(self.max_unzipped_bytes)},
                code="unzipped_too_large",
            )
        if unzipped / packed > self.max_zip_ratio:
            raise LimitExceeded(
                _(
                    "The XLSX file unpacks to %(ratio)d times its size; more than %(limit)d "
                    "times is refused (setting KEHU_IMPORT_MAX_ZIP_RATIO)."
                )
                % {"ratio": unzipped // packed, "limit": self.max_zip_ratio},
                code="zip_ratio",
            )

    def too_many_rows(self) -> LimitExceeded:
        return LimitExceeded(
            _(
                "The file has more than %(limit)d rows (blank rows included); split it into "
                "files of at most %(limit)d rows (setting KEHU_IMPORT_MAX_ROWS)."
            )
            % {"limit": self.max_rows},
            code="too_many_rows",
        )

    def check_columns(self, count: int) -> None:
        if count > self.max_columns:
            raise LimitExceeded(
                _(
                    "The header row has more than %(limit)d columns; imports read at most "
                    "%(limit)d (setting KEHU_IMPORT_MAX_COLUMNS)."
                )
                % {"limit": self.max_columns},
                code="too_many_columns",
            )


class Deadline:
    """The wall-time limit of one check phase, checked as rows are read. ``time.monotonic``
    is system-wide, so the reading child process checks the same deadline."""

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self.at = time.monotonic() + seconds

    def check(self) -> None:
        if time.monotonic() > self.at:
            raise LimitExceeded(
                _(
                    "Checking the file took longer than %(limit)s seconds, the import's time "
                    "limit; split it into smaller files (setting KEHU_IMPORT_CHECK_SECONDS)."
                )
                % {"limit": f"{self.seconds:g}"},
                code="check_too_slow",
            )
