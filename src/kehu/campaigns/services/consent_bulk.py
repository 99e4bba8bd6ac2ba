"""Consent recorded in bulk: the API's list of up to 1,000 rows and the CSV/XLSX upload.

A row names the person by ``contact_id``, ``lead_id``, ``email`` or ``mobile`` (an address
records consent for every contact and lead the user sees with it) and gives ``channel``,
``status``, ``source`` and an optional ``note``. Each row is recorded in its own transaction
through ``consent_record``: a bad row is reported with its field errors and the others are
recorded; nothing of a bad row is written.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass, field
from typing import Any

from django.db import transaction
from django.utils.translation import gettext as _

from kehu.campaigns.models import Consent, ConsentSource
from kehu.campaigns.services.consent import _record, visible_contacts, visible_leads
from kehu.core.contact_points import email_address, phone_e164
from kehu.core.errors import InvalidInput, KehuError
from kehu.core.uploads import content_problem, extension_of

MAX_ROWS = 1000
MAX_UPLOAD_BYTES = 5 * 1024 * 1024
COLUMNS = ("contact_id", "lead_id", "email", "mobile", "channel", "status", "source", "note")
# Column headers the upload also understands (a Chinese spreadsheet)
HEADER_ALIASES = {
    "邮箱": "email",
    "电子邮件": "email",
    "手机": "mobile",
    "手机号": "mobile",
    "渠道": "channel",
    "状态": "status",
    "来源": "source",
    "备注": "note",
}


@dataclass
class RowResult:
    row: int  # 1-based: the API's item number, the upload's line number
    result: str  # recorded | unchanged | error
    people: int = 0
    errors: dict[str, list[str]] = field(default_factory=dict)


@dataclass
class BulkResult:
    rows: list[RowResult] = field(default_factory=list)

    def count(self, result: str) -> int:
        return sum(1 for row in self.rows if row.result == result)


def _error(name: str, message: str) -> InvalidInput:
    return InvalidInput(message, errors={name: [message]})


def _people(actor: Any, row: dict[str, Any]) -> tuple[list[Any], list[Any]]:
    """The contacts and leads a row names, among those ``actor`` sees."""
    contact_id, lead_id = row.get("contact_id"), row.get("lead_id")
    email, mobile = str(row.get("email") or "").strip(), str(row.get("mobile") or "").strip()
    named = [value for value in (contact_id, lead_id, email, mobile) if value not in (None, "")]
    if len(named) != 1:
        raise _error("contact_id", _("Give exactly one of contact_id, lead_id, email, mobile."))
    if contact_id not in (None, ""):
        found = list(visible_contacts(actor).filter(pk=_whole(contact_id, "contact_id")))
        if not found:
            raise _error("contact_id", _("No such contact."))
        return found, []
    if lead_id not in (None, ""):
        leads = list(visible_leads(actor).filter(pk=_whole(lead_id, "lead_id")))
        if not leads:
            raise _error("lead_id", _("No such lead."))
        return [], leads
    if email:
        address = email_address(email)
        if address is None:
            raise _error(
                "email", _("%(value)s is not a valid email address.") % {"value": email[:80]}
            )
        contacts = list(visible_contacts(actor).filter(email__iexact=address))
        leads = list(visible_leads(actor).filter(email__iexact=address))
        where = "email"
    else:
        number = phone_e164(mobile)
        if number is None:
            raise _error(
                "mobile", _("%(value)s is not a valid phone number.") % {"value": mobile[:40]}
            )
        contacts = list(visible_contacts(actor).filter(mobile=number))
        leads = list(visible_leads(actor).filter(mobile=number))
        where = "mobile"
    if not contacts and not leads:
        raise _error(where, _("No contact or lead you can see has this address."))
    return contacts, leads


def _whole(value: Any, name: str) -> int:
    try:
        number = int(str(value).strip())
    except ValueError:
        number = -1
    if number < 1 or number > 2**63 - 1:
        raise _error(name, _("Write a whole number."))
    return number


def consents_record_bulk(
    *, actor: Any, rows: list[dict[str, Any]], default_source: str = ConsentSource.API
) -> BulkResult:
    """Record every row (at most ``MAX_ROWS``); one result per row, in order."""
    if len(rows) > MAX_ROWS:
        raise _error("items", _("At most %(max)d rows at a time.") % {"max": MAX_ROWS})
    result = BulkResult()
    for number, row in enumerate(rows, start=1):
        try:
            with transaction.atomic():
                contacts, leads = _people(actor, row)
                changed = 0
                for person in [*contacts, *leads]:
                    key = "contact" if person in contacts else "lead"
                    before = (
                        Consent.objects.filter(channel=row.get("channel"), **{key: person})
                        .values_list("status", flat=True)
                        .first()
                    )
                    _record(
                        actor,
                        contact=person if key == "contact" else None,
                        lead=person if key == "lead" else None,
                        channel=str(row.get("channel") or ""),
                        status=str(row.get("status") or ""),
                        source=str(row.get("source") or default_source),
                        note=str(row.get("note") or ""),
                        send=None,
                        at=None,
                        checked=True,
                    )
                    changed += before != row.get("status")
        except KehuError as error:
            errors = error.errors or {"items": [error.detail]}
            result.rows.append(RowResult(number, "error", errors=errors))
            continue
        people = len(contacts) + len(leads)
        result.rows.append(RowResult(number, "recorded" if changed else "unchanged", people))
    return result


# --- Upload -----------------------------------------------------------------------------------


def read_upload(upload: Any) -> list[dict[str, Any]]:
    """The rows of a CSV (UTF-8 or GBK) or XLSX upload, keyed by ``COLUMNS`` (header row)."""
    name = str(getattr(upload, "name", "") or "")
    extension = extension_of(name)
    if extension not in ("csv", "xlsx"):
        raise _error("file", _("Upload a .csv or .xlsx file."))
    if (getattr(upload, "size", 0) or 0) > MAX_UPLOAD_BYTES:
        raise _error("file", _("The file is larger than 5 MB."))
    problem = content_problem(upload, extension)
    if problem:
        raise _error("file", problem)
    upload.seek(0)
    data = upload.read()
    table = _csv_rows(data) if extension == "csv" else _xlsx_rows(data)
    if not table:
        raise _error("file", _("The file is empty."))
    header = [_column(cell) for cell in table[0]]
    if not ({"email", "mobile", "contact_id", "lead_id"} & set(header)):
        raise _error(
            "file", _("The first row must name the columns, e.g. email, channel, status, source.")
        )
    rows = []
    for line in table[1:]:
        values = {
            key: ("" if cell is None else str(cell).strip())
            for key, cell in zip(header, line, strict=False)
            if key in COLUMNS
        }
        if any(values.values()):
            rows.append(values)
    if len(rows) > MAX_ROWS:
        raise _error("file", _("At most %(max)d rows at a time.") % {"max": MAX_ROWS})
    return rows


def _column(cell: Any) -> str:
    text = str(cell or "").strip().lower()
    return HEADER_ALIASES.get(text, text)


def _csv_rows(data: bytes) -> list[list[str]]:
    for encoding in ("utf-8-sig", "gb18030"):
        try:
            text = data.decode(encoding)
        except UnicodeDecodeError:
            continue
        return list(csv.reader(io.StringIO(text)))
    raise _error("file", _("The file is neither UTF-8 nor GBK text."))


def _xlsx_rows(data: bytes) -> list[list[Any]]:
    from openpyxl import load_workbook  # heavy: only for an upload

    try:
        book = load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except Exception as error:  # zipfile, XML and openpyxl errors alike: not a workbook
        raise _error("file", _("The file is not a readable .xlsx workbook.")) from error
    try:
        sheet = book.worksheets[0]
        return [list(row) for row in sheet.iter_rows(values_only=True, max_row=MAX_ROWS + 2)]
    finally:
        book.close()
