"""The audit trail's admin actions: its export (itself audited) and its retention purge.

The trail is written by every app through ``kehu.core.audit.record``; this module adds what
the governance pages and jobs do with it.
"""

from __future__ import annotations

import csv
import io
import json
from dataclasses import dataclass
from datetime import datetime
from typing import IO, Any

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, pgettext_lazy

from kehu.core import audit, config
from kehu.core.errors import InvalidInput
from kehu.core.models import AuditEntry
from kehu.governance.selectors.audit import AuditFilters, audit_list
from kehu.transfer.exporting import escape, spool, xlsx_text_cell

RETENTION_YEARS = config.define(
    "governance.audit_retention_years",
    3,
    gettext_lazy("Years the audit trail keeps its entries"),
    group="governance",
    unit=config.YEARS,
    minimum=1,
    maximum=30,
    help=gettext_lazy(
        "Entries older than this are purged every night, oldest first; the hash chain keeps "
        "holding from the oldest kept entry (kehu audit verify)."
    ),
)

FORMATS = ("csv", "xlsx")
CHUNK = 2000
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def _columns() -> list[str]:
    return [
        str(pgettext_lazy("audit", "sequence")),
        str(pgettext_lazy("audit", "when")),
        str(pgettext_lazy("audit", "actor id")),
        str(pgettext_lazy("audit", "actor")),
        str(pgettext_lazy("audit", "action")),
        str(pgettext_lazy("audit", "target type")),
        str(pgettext_lazy("audit", "target id")),
        str(pgettext_lazy("audit", "details")),
        str(pgettext_lazy("audit", "IP address")),
        _("Request"),
        str(pgettext_lazy("audit", "hash")),
    ]


def _values(entry: AuditEntry) -> list[Any]:
    return [
        entry.seq,
        timezone.localtime(entry.at).strftime("%Y-%m-%d %H:%M:%S"),
        entry.actor_id,
        entry.actor_name,
        entry.action,
        entry.target_type,
        entry.target_id,
        json.dumps(entry.details, ensure_ascii=False, sort_keys=True) if entry.details else "",
        entry.ip,
        entry.request_id,
        entry.hash,
    ]


@dataclass
class AuditExport:
    file: IO[bytes]
    filename: str
    content_type: str
    rows: int


@transaction.atomic
def audit_export(*, actor: Any, filters: AuditFilters, file_format: str) -> AuditExport:
    """The entries matching ``filters`` as a CSV (UTF-8 with BOM) or XLSX file, newest first.

    The export is itself an entry (``governance.audit_export``: the filters, the format and
    the number of rows), in the same transaction.
    """
    if file_format not in FORMATS:
        raise InvalidInput(errors={"format": [_("Choose csv or xlsx.")]})
    entries = audit_list(user=actor, filters=filters)
    rows = entries.iterator(chunk_size=CHUNK)
    handle = spool()
    count = 0
    if file_format == "csv":
        text = io.TextIOWrapper(handle, encoding="utf-8-sig", newline="")
        writer = csv.writer(text)
        writer.writerow(_columns())
        for entry in rows:
            writer.writerow([escape(value) for value in _values(entry)])
            count += 1
        text.flush()
        text.detach()
        content_type = "text/csv; charset=utf-8"
    else:
        from openpyxl import Workbook

        book = Workbook(write_only=True)
        sheet = book.create_sheet(_("Audit trail"))
        sheet.append(_columns())
        for entry in rows:
            sheet.append([xlsx_text_cell(sheet, value) for value in _values(entry)])
            count += 1
        book.save(handle)
        content_type = XLSX
    handle.seek(0)
    # Recorded once the file is written: the entry locks the chain's head until commit.
    audit.record(
        "governance.audit_export",
        actor=actor,
        details={"format": file_format, "filters": filters.as_query(), "rows": count},
    )
    stamp = timezone.localtime().strftime("%Y%m%d-%H%M%S")
    return AuditExport(handle, f"kehu-audit-{stamp}.{file_format}", content_type, count)


def audit_cutoff(now: datetime | None = None) -> datetime:
    """The moment before which entries are past ``governance.audit_retention_years``."""
    now = timezone.localtime(now or timezone.now())
    years = int(config.get(RETENTION_YEARS.key))
    try:
        return now.replace(year=now.year - years)
    except ValueError:  # 29 February
        return now.replace(year=now.year - years, day=28)


def audit_purge_expired(*, now: datetime | None = None) -> audit.PurgeResult:
    """Delete the entries older than the retention (the nightly job); the chain still holds."""
    return audit.purge(audit_cutoff(now))
