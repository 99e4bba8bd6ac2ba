"""Writes of segments (客户分群): create, change (with version), delete, recount, and the
entries of static lists, picked by hand or imported from a CSV/XLSX file of customer numbers,
phones or e-mails (per-row errors; the rows that match are added, nothing else).

Who: marketing manages every segment, a manager their departments' (and creates segments of
their own department), admins all (the model's policy); sales reps and service have no
segments (``Forbidden``).
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass, field
from typing import Any

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from kehu.accounts.models import Department, Role
from kehu.campaigns.models import Segment, SegmentEntry, SegmentKind, SegmentTarget
from kehu.campaigns.selectors import segments as selectors
from kehu.core import audit
from kehu.core.access import is_admin, lock_editable, managed_department_ids
from kehu.core.contact_points import email_address, phone_e164
from kehu.core.errors import Forbidden, InvalidInput
from kehu.core.services import bump_version, check_version
from kehu.customers.models import Contact, Customer
from kehu.leads.models import Lead

SEGMENT_ROLES = {Role.ADMIN, Role.MANAGER, Role.MARKETING}
MAX_ENTRIES_PER_CALL = 5_000
MAX_IMPORT_ROWS = 20_000
MAX_IMPORT_BYTES = 5 * 1024 * 1024


def segment_may_manage(user: Any) -> bool:
    """Whether the user's role works with segments at all (pages show the buttons)."""
    return bool(user and user.is_authenticated and (is_admin(user) or user.role in SEGMENT_ROLES))


def _require_role(actor: Any) -> None:
    if not segment_may_manage(actor):
        raise Forbidden(_("Only marketing, managers and administrators work with segments."))


def _clean_text(data: dict[str, Any], key: str, limit: int, *, required: bool) -> str:
    value = data.get(key, "")
    if value is None or not isinstance(value, str):
        raise InvalidInput(errors={key: [_("Expected a text.")]})
    value = value.strip()
    if required and not value:
        raise InvalidInput(errors={key: [_("This field is required.")]})
    if len(value) > limit:
        raise InvalidInput(errors={key: [_("At most %(n)s characters.") % {"n": limit}]})
    return value


def _department(actor: Any, department_id: Any) -> Department | None:
    if department_id in (None, ""):
        return None
    if type(department_id) is not int:
        raise InvalidInput(errors={"department_id": [_("Expected a department id.")]})
    department = Department.objects.filter(pk=department_id).first()
    if department is None:
        raise InvalidInput(errors={"department_id": [_("Unknown department.")]})
    if (
        actor.role == Role.MANAGER
        and not is_admin(actor)
        and department.pk not in managed_department_ids(actor)
    ):
        raise InvalidInput(errors={"department_id": [_("Not one of your departments.")]})
    return department


@transaction.atomic
def segment_create(*, actor: Any, data: dict[str, Any]) -> Segment:
    """A new segment. ``data``: name, description, target, kind, conditions (dynamic),
    department_id (a manager's own department by default)."""
    _require_role(actor)
    target = data.get("target") or SegmentTarget.CUSTOMERS
    if target not in SegmentTarget.values:
        raise InvalidInput(errors={"target": [_("Unknown target %(value)s.") % {"value": target}]})
    kind = data.get("kind") or SegmentKind.DYNAMIC
    if kind not in SegmentKind.values:
        raise InvalidInput(errors={"kind": [_("Unknown kind %(value)s.") % {"value": kind}]})
    conditions = data.get("conditions") or {}
    if kind == SegmentKind.STATIC and conditions:
        raise InvalidInput(errors={"conditions": [_("A static list has no conditions.")]})
    conditions = selectors.validate(target, conditions)
    department = _department(actor, data.get("department_id"))
    if department is None and actor.role == Role.MANAGER:
        department = actor.department
    segment = Segment.objects.create(
        name=_clean_text(data, "name", 100, required=True),
        description=_clean_text(data, "description", 500, required=False),
        target=target,
        kind=kind,
        conditions=conditions,
        owner=actor,
        department=department,
    )
    return segment


@transaction.atomic
def segment_update(
    *, actor: Any, segment_id: int, data: dict[str, Any], version: int | None
) -> Segment:
    """Change name, description, conditions or department; the target and the kind stay."""
    segment = lock_editable(Segment.objects.all(), actor, pk=segment_id)
    _require_role(actor)
    check_version(segment, version)
    for key in ("target", "kind"):
        if key in data and data[key] is not None and data[key] != getattr(segment, key):
            raise InvalidInput(
                errors={key: [_("A segment's %(key)s cannot change.") % {"key": key}]}
            )
    if data.get("name") is not None:
        segment.name = _clean_text(data, "name", 100, required=True)
    if data.get("description") is not None:
        segment.description = _clean_text(data, "description", 500, required=False)
    if data.get("conditions") is not None:
        if segment.kind == SegmentKind.STATIC and data["conditions"]:
            raise InvalidInput(errors={"conditions": [_("A static list has no conditions.")]})
        segment.conditions = selectors.validate(segment.target, data["conditions"])
        segment.last_count = None
        segment.counted_at = None
    if "department_id" in data and data["department_id"] is not None:
        segment.department = _department(actor, data["department_id"])
    bump_version(segment)
    segment.save()
    return segment


@audit.audited("campaigns.segment_deleted", target="segment_id", model="campaigns.segment")
@transaction.atomic
def segment_delete(*, actor: Any, segment_id: int) -> None:
    segment = lock_editable(Segment.objects.all(), actor, pk=segment_id)
    _require_role(actor)
    segment.delete()


def segment_recount(*, actor: Any, segment: Segment) -> int:
    """Count the segment as the actor sees it and keep the figure for the list."""
    count = selectors.segment_count(segment, actor)
    Segment.objects.filter(pk=segment.pk).update(last_count=count, counted_at=timezone.now())
    segment.last_count = count
    return count


# --- static lists -----------------------------------------------------------------------------


def _static(actor: Any, segment_id: int) -> Segment:
    # the row first: a segment outside the actor's scope is 404 whatever their role
    segment = lock_editable(Segment.objects.all(), actor, pk=segment_id)
    _require_role(actor)
    if segment.kind != SegmentKind.STATIC:
        raise InvalidInput(errors={"kind": [_("Only a static list has entries.")]})
    return segment


def _add(segment: Segment, ids: list[int]) -> int:
    column = selectors.ENTRY_COLUMN[segment.target]
    have = set(
        SegmentEntry.objects.filter(segment=segment, **{f"{column}__in": ids}).values_list(
            column, flat=True
        )
    )
    new = [pk for pk in dict.fromkeys(ids) if pk not in have]
    SegmentEntry.objects.bulk_create(
        [SegmentEntry(segment=segment, **{column: pk}) for pk in new], batch_size=1000
    )
    if new:
        Segment.objects.filter(pk=segment.pk).update(last_count=None, counted_at=None)
    return len(new)


@transaction.atomic
def entries_add(*, actor: Any, segment_id: int, ids: list[int]) -> dict[str, int]:
    """Add rows by id to a static list: those the actor sees; the rest are reported, not
    added (``not_found``); rows already in are ``already``."""
    segment = _static(actor, segment_id)
    if len(ids) > MAX_ENTRIES_PER_CALL:
        raise InvalidInput(
            errors={"ids": [_("At most %(n)s per call.") % {"n": MAX_ENTRIES_PER_CALL}]}
        )
    wanted = list(dict.fromkeys(ids))
    visible = set(
        selectors._scoped(segment.target, actor).filter(pk__in=wanted).values_list("pk", flat=True)
    )
    found = [pk for pk in wanted if pk in visible]
    added = _add(segment, found)
    return {"added": added, "already": len(found) - added, "not_found": len(wanted) - len(found)}


@audit.audited("campaigns.segmententry_deleted", target="segment_id", model="campaigns.segment")
@transaction.atomic
def entries_remove(*, actor: Any, segment_id: int, ids: list[int]) -> int:
    segment = _static(actor, segment_id)
    column = selectors.ENTRY_COLUMN[segment.target]
    removed, _detail = SegmentEntry.objects.filter(
        segment=segment, **{f"{column}__in": ids[:MAX_ENTRIES_PER_CALL]}
    ).delete()
    if removed:
        Segment.objects.filter(pk=segment.pk).update(last_count=None, counted_at=None)
    return removed


@dataclass
class ImportResult:
    added: int = 0
    already: int = 0
    errors: list[dict[str, Any]] = field(default_factory=list)  # {"row", "value", "error"}


def _read_values(name: str, content: bytes) -> list[str]:
    """The first column of a CSV or XLSX file, one value per row (a header row is skipped
    when its first cell is not a number, phone or e-mail)."""
    lower = name.lower()
    if lower.endswith(".xlsx"):
        from openpyxl import load_workbook  # only the import reads spreadsheets

        try:
            book = load_workbook(io.BytesIO(content), read_only=True, data_only=True)
        except Exception:  # any unreadable workbook is the user's file
            raise InvalidInput(
                errors={"file": [_("The file is not a readable XLSX workbook.")]}
            ) from None
        sheet = book.worksheets[0]
        values = []
        for row in sheet.iter_rows(max_col=1, values_only=True):
            values.append("" if not row or row[0] is None else str(row[0]).strip())
            if len(values) > MAX_IMPORT_ROWS + 1:
                break
        return values
    if lower.endswith(".csv") or lower.endswith(".txt"):
        try:
            text = content.decode("utf-8-sig")
        except UnicodeDecodeError:
            try:
                text = content.decode("gb18030")
            except UnicodeDecodeError:
                raise InvalidInput(
                    errors={"file": [_("The file is not UTF-8 or GB18030 text.")]}
                ) from None
        if "\x00" in text:
            raise InvalidInput(errors={"file": [_("The file is not a text file.")]})
        return [(row[0].strip() if row else "") for row in csv.reader(io.StringIO(text))]
    raise InvalidInput(errors={"file": [_("Upload a .csv or .xlsx file.")]})


def _kind_of(value: str) -> tuple[str, str] | None:
    """("email" | "phone" | "number", normalised value), or None when it is none of those."""
    if "@" in value:
        address = email_address(value)
        return ("email", address) if address else None
    phone = phone_e164(value)
    if phone:
        return "phone", phone
    if value and len(value) <= 40 and not value.isspace():
        return "number", value
    return None


CHUNK = 500


def _matches(target: str, actor: Any, kind: str, values: set[str]) -> dict[str, set[int]]:
    """value -> the ids of the target rows it names, among those the actor sees; looked up
    ``CHUNK`` values at a time (e-mails and phones are stored normalised, as parsed here)."""
    out: dict[str, set[int]] = {}
    ordered = sorted(values)
    for start in range(0, len(ordered), CHUNK):
        for key, pk in _chunk_matches(target, actor, kind, ordered[start : start + CHUNK]):
            out.setdefault(key, set()).add(pk)
    return out


def _chunk_matches(target: str, actor: Any, kind: str, values: list[str]) -> list[tuple[str, int]]:
    customers = Customer.objects.visible_to(actor)
    if target == SegmentTarget.LEADS:
        if kind == "number":
            return []
        column = "email" if kind == "email" else "mobile"
        leads = Lead.objects.visible_to(actor).filter(**{f"{column}__in": values})
        return [(value, pk) for pk, value in leads.values_list("pk", column)]
    if kind == "number":
        rows = dict(customers.filter(number__in=values).values_list("pk", "number"))
        if target == SegmentTarget.CUSTOMERS:
            return [(number, pk) for pk, number in rows.items()]
        primary = Contact.objects.filter(customer_id__in=list(rows), is_primary=True)
        return [
            (rows[customer_id], pk) for pk, customer_id in primary.values_list("pk", "customer_id")
        ]
    contacts = Contact.objects.filter(customer_id__in=customers.order_by().values("pk"))
    columns = ("email",) if kind == "email" else ("mobile", "work_phone")
    out: list[tuple[str, int]] = []
    for column in columns:
        found = contacts.filter(**{f"{column}__in": values}).values_list(
            "pk", "customer_id", column
        )
        for pk, customer_id, value in found:
            out.append((value, customer_id if target == SegmentTarget.CUSTOMERS else pk))
    return out


@transaction.atomic
def entries_import(*, actor: Any, segment_id: int, name: str, content: bytes) -> ImportResult:
    """Add the rows a file names (customer numbers, phones or e-mails, first column) to a
    static list. Each row that names nothing the actor sees, or is not a number, phone or
    e-mail, is an error of its own; the others are added."""
    segment = _static(actor, segment_id)
    if len(content) > MAX_IMPORT_BYTES:
        raise InvalidInput(errors={"file": [_("The file is larger than 5 MB.")]})
    values = _read_values(name, content)
    if len(values) > MAX_IMPORT_ROWS + 1:
        raise InvalidInput(
            errors={"file": [_("At most %(n)s rows per file.") % {"n": MAX_IMPORT_ROWS}]}
        )
    parsed: list[tuple[int, str, tuple[str, str] | None]] = []
    for index, value in enumerate(values, start=1):
        if not value:
            continue
        parsed.append((index, value, _kind_of(value)))
    # a header row: the first non-empty row when it is none of the three kinds, or a word
    if parsed and (
        parsed[0][2] is None
        or parsed[0][1].lower()
        in {"number", "phone", "email", "mobile", "客户编号", "手机", "邮箱", "电话"}
    ):
        parsed = parsed[1:]
    wanted: dict[str, set[str]] = {"email": set(), "phone": set(), "number": set()}
    for _row, _value, kind in parsed:
        if kind:
            wanted[kind[0]].add(kind[1])
    found = {kind: _matches(segment.target, actor, kind, values) for kind, values in wanted.items()}
    result = ImportResult()
    ids: list[int] = []
    for row, value, kind in parsed:
        if kind is None:
            result.errors.append(
                {
                    "row": row,
                    "value": value[:100],
                    "error": _("Not a customer number, phone or e-mail."),
                }
            )
            continue
        hits = found[kind[0]].get(kind[1])
        if not hits:
            result.errors.append(
                {
                    "row": row,
                    "value": value[:100],
                    "error": _("No match among the records you see."),
                }
            )
            continue
        ids.extend(sorted(hits))
    unique = list(dict.fromkeys(ids))
    result.added = _add(segment, unique)
    result.already = len(unique) - result.added
    return result
