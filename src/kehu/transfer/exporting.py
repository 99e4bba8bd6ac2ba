"""Exports: customers (with contacts) and contacts to CSV (UTF-8 with BOM) and XLSX, streamed.

Rows come from ``Customer.objects.visible_to(user)`` with the customer list's filters
(``CustomerFilters``), in chunks (``iterator(chunk_size=…)``), so memory stays bounded for a
million rows. Sensitive fields are masked per row (``policy_of(Customer).masked_fields``), and
contacts' phones, email and WeChat are masked (138****1234) on every row the exporting user has
no full access to, by the same rule as the pages and the API (``kehu.core.masking``); so are
the ``contact_fields`` of a model's access policy (leads' mobile and email).
Control characters other than tab, line feed and carriage return (U+0000–U+001F, which XML 1.0
and so XLSX cannot hold) are dropped from text in both formats, so any stored text exports.
Cells that start with = + - @ (or a tab / carriage return) are then prefixed with ' so a
spreadsheet never runs them as formulas (CSV injection). Only roles in the
``transfer.export_roles`` setting may export; every export is recorded in ``ExportLog``.
"""

from __future__ import annotations

import csv
import io
import json
import re
import tempfile
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any

import phonenumbers
from django.contrib.auth import get_user_model
from django.db.models import Prefetch, QuerySet
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from kehu.core import audit, config, custom_fields, masking
from kehu.core.access import MASK, is_admin, policy_of
from kehu.core.context import current_request_id
from kehu.core.days import on_days
from kehu.core.errors import Forbidden, InvalidInput
from kehu.core.formatting import XLSX_AMOUNT, XLSX_AMOUNT_CENTS
from kehu.customers.models import Contact, Customer
from kehu.customers.selectors import CustomerFilters
from kehu.transfer.models import ExportKind, ExportLog
from kehu.transfer.specs import spec_map

CHUNK = 2000
EXPORT_ROLES = config.define(
    "transfer.export_roles",
    ["admin"],
    gettext_lazy("Roles that may export data (admin, manager, sales, service, marketing)"),
    group="system",
    choices=config.ROLES,
    help=gettext_lazy(
        "Only these roles see the export buttons and may export; exports stay within each user's "
        "scope and masks."
    ),
)
IMPORT_ROLES = config.define(
    "transfer.import_roles",
    ["admin", "manager"],
    gettext_lazy("Roles that may import data (admin, manager, sales, service, marketing)"),
    group="system",
    choices=config.ROLES,
    help=gettext_lazy("Only these roles may import spreadsheets of customers, contacts and leads."),
)
DANGEROUS_START = ("=", "+", "-", "@", "\t", "\r")
# What openpyxl refuses (IllegalCharacterError): C0 controls but tab, line feed, carriage return
CONTROL_CHARACTERS = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f]")


def spool() -> Any:
    """A temporary file for an XLSX download; FileResponse closes (and so deletes) it."""
    return tempfile.TemporaryFile(suffix=".xlsx")


def may_export(user: Any) -> bool:
    if not (user and user.is_authenticated and user.is_active):
        return False
    return is_admin(user) or getattr(user, "role", "") in config.get("transfer.export_roles")


def may_import(user: Any) -> bool:
    if not (user and user.is_authenticated and user.is_active):
        return False
    return is_admin(user) or getattr(user, "role", "") in config.get("transfer.import_roles")


def require_export(user: Any) -> None:
    if not may_export(user):
        raise Forbidden(_("Your role may not export data."))


def require_import(user: Any) -> None:
    if not may_import(user):
        raise Forbidden(_("Your role may not import data."))


def printable(value: Any) -> Any:
    """Text without the control characters a spreadsheet cannot hold (dropped)."""
    if isinstance(value, str) and CONTROL_CHARACTERS.search(value):
        return CONTROL_CHARACTERS.sub("", value)
    return value


def escape(value: Any) -> Any:
    """Text safe to export: control characters dropped, then formula-looking text neutralised
    (CSV injection); numbers and dates pass unchanged."""
    value = printable(value)
    if isinstance(value, str) and value.startswith(DANGEROUS_START):
        return "'" + value
    return value


def xlsx_text_cell(sheet: Any, value: Any) -> Any:
    """A write-only cell that holds text as text: openpyxl would store "=…" as a formula.
    Control characters are dropped (openpyxl refuses them)."""
    from openpyxl.cell import WriteOnlyCell

    if value is not None and not isinstance(value, str | int | float):
        value = str(value)
    value = printable(value)
    if isinstance(value, str) and value.startswith("="):
        cell = WriteOnlyCell(sheet, value=value)
        cell.data_type = "s"
        return cell
    return value


def phone_text(value: str) -> str:
    """Chinese numbers in their national form (138 1234 5678), others internationally."""
    if not value:
        return ""
    number_part, _sep, extension = value.partition(";ext=")
    try:
        number = phonenumbers.parse(number_part, "CN")
    except phonenumbers.NumberParseException:
        return value
    style = (
        phonenumbers.PhoneNumberFormat.NATIONAL
        if number.country_code == 86
        else phonenumbers.PhoneNumberFormat.INTERNATIONAL
    )
    text = phonenumbers.format_number(number, style)
    return f"{text} 转{extension}" if extension else text


@dataclass(frozen=True)
class Column:
    header: str
    value: Callable[[Any], Any]
    sensitive: str = ""  # the model field whose masking hides this column
    # What the column shows on a row whose contact details are masked for the user.
    masked_value: Callable[[Any], Any] | None = None

    def read(self, row: Any, *, hidden: frozenset[str], contacts_masked: bool) -> Any:
        if self.sensitive and self.sensitive in hidden:
            return MASK
        if contacts_masked and self.masked_value is not None:
            return self.masked_value(row)
        return self.value(row)


def _choice_text(kind_key: str) -> Callable[[Any], Any]:
    spec = spec_map("customers")[kind_key]

    def read(row: Any) -> Any:
        value = getattr(row, kind_key)
        names = spec.choices.get(value)
        return names[0] if names else value

    return read


def _attr(name: str) -> Callable[[Any], Any]:
    return lambda row: getattr(row, name)


def _customer_columns() -> list[Column]:
    specs = spec_map("customers")

    def header(key: str) -> str:
        return specs[key].header.rstrip(" *")

    def contact(field: str) -> Callable[[Any], Any]:
        def read(row: Any) -> Any:
            primary = row.export_contacts[0] if row.export_contacts else None
            if primary is None:
                return ""
            value = getattr(primary, field)
            if field in ("mobile", "work_phone"):
                return phone_text(value)
            if field == "is_decision_maker":
                return "是" if value else "否"
            return value

        return read

    def masked_contact(field: str) -> Column:
        def read(row: Any) -> Any:
            primary = row.export_contacts[0] if row.export_contacts else None
            return masking.contact_values(primary, masked=True)[field] if primary else ""

        return Column(header(f"contact_{field}"), contact(field), masked_value=read)

    def others(row: Any, *, masked: bool = False) -> str:
        parts = []
        for person in row.export_contacts[1:]:
            shown = masking.contact_values(person, masked=masked)
            mobile = shown["mobile"] if masked else phone_text(person.mobile)
            bits = [person.name, person.title, mobile, shown["email"]]
            parts.append(" ".join(bit for bit in bits if bit))
        return "; ".join(parts)

    return [
        Column("客户编号 / Customer number", _attr("number")),
        Column(header("name"), _attr("name")),
        Column(header("kind"), _choice_text("kind")),
        Column(header("credit_code"), lambda r: r.credit_code or ""),
        Column(header("industry"), lambda r: str(r.industry) if r.industry_id else ""),
        Column(header("region"), lambda r: str(r.region) if r.region_id else ""),
        Column(header("employees_band"), _choice_text("employees_band")),
        Column(header("revenue_band"), _choice_text("revenue_band")),
        Column(header("source"), _choice_text("source")),
        Column(header("source_detail"), _attr("source_detail")),
        Column(header("initial_need"), _attr("initial_need")),
        Column(header("address"), _attr("address")),
        Column(header("website"), _attr("website")),
        Column(header("social_accounts"), _attr("social_accounts")),
        Column(header("founded_on"), lambda r: r.founded_on.isoformat() if r.founded_on else ""),
        Column(header("main_business"), _attr("main_business")),
        Column(header("notes"), _attr("notes")),
        Column(header("competitors"), _attr("competitors")),
        Column(header("cooperation_history"), _attr("cooperation_history"), "cooperation_history"),
        Column(
            header("annual_budget"),
            lambda r: float(r.annual_budget) if r.annual_budget is not None else "",
            "annual_budget",
        ),
        Column(header("status"), _choice_text("status")),
        Column(header("owner"), lambda r: r.owner.username if r.owner_id else ""),
        Column("部门 / Department", lambda r: r.department.name if r.department_id else ""),
        Column(header("priority"), _attr("priority")),
        Column("客户等级 / Grade", lambda r: r.grade_override or r.grade),
        Column(header("tags"), lambda r: ",".join(t.name for t in r.tags.all())),
        Column(header("contact_name"), contact("name")),
        Column(header("contact_title"), contact("title")),
        masked_contact("mobile"),
        masked_contact("work_phone"),
        masked_contact("email"),
        masked_contact("wechat"),
        Column(header("contact_is_decision_maker"), contact("is_decision_maker")),
        Column(
            "其他联系人 / Other contacts", others, masked_value=lambda r: others(r, masked=True)
        ),
        Column(
            "创建时间 / Created",
            lambda r: timezone.localtime(r.created_at).strftime("%Y-%m-%d %H:%M"),
        ),
    ]


def custom_header(spec: custom_fields.FieldSpec) -> str:
    """A custom field's column header, in the form of the built-in ones (客户名称 / Customer
    name), which the import maps back to the field."""
    return f"{spec.label_zh} / {spec.label_en or spec.key}"


def _custom_columns(
    kind: str, user: Any, record: Callable[[Any], Any] = lambda r: r
) -> list[Column]:
    """The custom fields ``user`` sees, one column each (自定义字段); a sensitive one is
    masked on the rows the user has no full access to. ``record`` finds the record holding
    the values (a contact's own, for instance)."""
    names: dict[int, str] = {}

    def user_name(user_id: Any) -> str:
        if isinstance(user_id, int) and user_id not in names:
            found = get_user_model().objects.filter(pk=user_id).first()
            names[user_id] = found.username if found else str(user_id)
        return names.get(user_id, "")

    columns = []
    for spec in custom_fields.fields_for(kind, user):

        def read(row: Any, spec: custom_fields.FieldSpec = spec) -> Any:
            value = (record(row).custom or {}).get(spec.key)
            if spec.type == custom_fields.USER:
                return user_name(value)
            return custom_fields.export_value(spec, value)

        masked = (lambda row: MASK) if spec.sensitive else None
        columns.append(Column(custom_header(spec), read, masked_value=masked))
    return columns


def _masked(field: str) -> Callable[[Any], Any]:
    return lambda contact: masking.mask_contact_field(field, getattr(contact, field))


def _contact_columns() -> list[Column]:
    return [
        Column("客户编号 / Customer number", lambda c: c.customer.number),
        Column("客户名称 / Customer name", lambda c: c.customer.name),
        Column("联系人 / Contact name", _attr("name")),
        Column("职位 / Title", _attr("title")),
        Column("手机 / Mobile", lambda c: phone_text(c.mobile), masked_value=_masked("mobile")),
        Column(
            "办公电话 / Work phone",
            lambda c: phone_text(c.work_phone),
            masked_value=_masked("work_phone"),
        ),
        Column("邮箱 / Email", _attr("email"), masked_value=_masked("email")),
        Column("微信 / WeChat", _attr("wechat"), masked_value=_masked("wechat")),
        Column("是否决策人 / Decision maker", lambda c: "是" if c.is_decision_maker else "否"),
        Column("主要联系人 / Primary", lambda c: "是" if c.is_primary else "否"),
        Column("在职 / Still there", lambda c: "是" if c.is_active else "否"),
        Column("备注 / Notes", _attr("notes")),
    ]


def customer_rows(user: Any, filters: CustomerFilters) -> QuerySet[Customer]:
    queryset: Any = Customer.objects.visible_to(user).select_related(
        "owner", "department", "industry__parent", "region__parent"
    )
    queryset = filters.apply(queryset, user).prefetch_related(
        "tags",
        Prefetch(
            "contacts",
            queryset=Contact.objects.filter(is_active=True).order_by("-is_primary", "pk"),
            to_attr="export_contacts",
        ),
    )
    return queryset


def contact_rows(user: Any, filters: CustomerFilters) -> QuerySet[Contact]:
    customers = filters.apply(Customer.objects.visible_to(user), user).order_by()
    return (
        Contact.objects.filter(customer_id__in=customers.values("pk"))
        .select_related("customer")
        .order_by("customer_id", "-is_primary", "pk")
    )


# Other apps' records: every concrete field, scoped by the model's own access policy.
GENERIC_MODELS = {
    ExportKind.LEADS: "leads.Lead",
    ExportKind.OPPORTUNITIES: "opportunities.Opportunity",
    ExportKind.FOLLOWUPS: "followups.FollowUp",
}
INTERNAL_FIELDS = {"version", "search_text", "name_key", "extra", "custom"}


def _generic_model(kind: str) -> type[Any]:
    from django.apps import apps

    return apps.get_model(GENERIC_MODELS[ExportKind(kind)])


def _field_value(row: Any, field: Any) -> Any:
    if field.is_relation:
        related = getattr(row, field.name)
        if related is None:
            return ""
        return getattr(related, "username", None) or str(related)
    value = getattr(row, field.attname)
    if field.choices and value not in (None, ""):
        return str(getattr(row, f"get_{field.name}_display")())
    if value is None:
        return ""
    if isinstance(value, datetime):
        return timezone.localtime(value).strftime("%Y-%m-%d %H:%M")
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return float(value)
    if isinstance(value, bool):
        return "是" if value else "否"
    if isinstance(value, dict | list):
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, str) and field.name in ("mobile", "work_phone", "phone"):
        return phone_text(value)
    return value


def _generic_columns(model: type[Any]) -> list[Column]:
    columns = []
    # Masked (138****1234) on rows the user has no full access to, as on the pages.
    contact_fields = policy_of(model).contact_fields
    for field in model._meta.concrete_fields:
        if field.name in INTERNAL_FIELDS:
            continue
        label = str(field.verbose_name)

        def read(row: Any, field: Any = field) -> Any:
            return _field_value(row, field)

        masked_value = _masked(field.name) if field.name in contact_fields else None
        columns.append(Column(label[:1].upper() + label[1:], read, field.name, masked_value))
    return columns


def generic_rows(model: type[Any], user: Any, filters: CustomerFilters) -> QuerySet[Any]:
    """The model's visible rows; the created range and the owner filter apply where they fit."""
    queryset = model.objects.visible_to(user)
    relations = [f.name for f in model._meta.concrete_fields if f.is_relation]
    queryset = queryset.select_related(*relations)
    names = {f.name for f in model._meta.concrete_fields}
    if "created_at" in names:
        queryset = queryset.filter(on_days("created_at", filters.created_from, filters.created_to))
    if filters.owner:
        for owner_field in ("owner", "assignee", "author"):
            if owner_field in names:
                queryset = queryset.filter(**{f"{owner_field}_id": filters.owner})
                break
    return queryset.order_by("pk")


class Export:
    """One export: its columns and rows, written as CSV or XLSX, logged when it ends."""

    def __init__(self, *, user: Any, kind: str, filters: CustomerFilters, channel: str) -> None:
        require_export(user)
        if kind not in ExportKind.values:
            raise InvalidInput(_("Unknown export kind %(kind)s.") % {"kind": kind[:30]})
        self.user = user
        self.kind = kind
        self.filters = filters
        self.channel = channel
        self.model: type[Any] | None = None
        if kind == ExportKind.CUSTOMERS:
            self.columns = _customer_columns() + _custom_columns("customer", user)
        elif kind == ExportKind.CONTACTS:
            self.columns = _contact_columns() + _custom_columns("contact", user)
        else:
            self.model = _generic_model(kind)
            self.columns = _generic_columns(self.model)
            custom_kind = custom_fields.MODEL_KINDS.get(self.model._meta.label_lower)
            if custom_kind:
                self.columns += _custom_columns(custom_kind, user)
        self.count = 0

    def filename(self, file_format: str) -> str:
        stamp = timezone.localtime().strftime("%Y%m%d-%H%M")
        return f"kehu-{self.kind}-{stamp}.{file_format}"

    def _records(self) -> Iterator[list[Any]]:
        policy = policy_of(Customer)
        if self.kind == ExportKind.CUSTOMERS:
            rows: Iterable[Any] = customer_rows(self.user, self.filters).iterator(chunk_size=CHUNK)
            for row in rows:
                hidden = policy.masked_fields(self.user, row)
                masked = not policy.has_full_access(self.user, row)
                yield [
                    column.read(row, hidden=hidden, contacts_masked=masked)
                    for column in self.columns
                ]
                self.count += 1
        elif self.model is None:
            for row in contact_rows(self.user, self.filters).iterator(chunk_size=CHUNK):
                masked = not policy.has_full_access(self.user, row.customer)
                yield [
                    column.read(row, hidden=frozenset(), contacts_masked=masked)
                    for column in self.columns
                ]
                self.count += 1
        else:
            model_policy = policy_of(self.model)
            rows = generic_rows(self.model, self.user, self.filters).iterator(chunk_size=CHUNK)
            masks_contacts = bool(model_policy.contact_fields)
            for row in rows:
                hidden = model_policy.masked_fields(self.user, row)
                masked = (masks_contacts or self.model is not None) and not (
                    model_policy.has_full_access(self.user, row)
                )
                yield [
                    column.read(row, hidden=hidden, contacts_masked=masked)
                    for column in self.columns
                ]
                self.count += 1

    def _log(self, file_format: str) -> Callable[[], None]:
        log = ExportLog.objects.create(
            user=self.user,
            kind=self.kind,
            file_format=file_format,
            filters=self.filters.model_dump(mode="json", exclude_defaults=True),
            channel=self.channel,
            request_id=current_request_id(),
        )
        audit.record(
            "transfer.export",
            actor=self.user,
            target=log,
            details={"kind": self.kind, "format": file_format, "channel": self.channel},
        )

        def finish() -> None:
            ExportLog.objects.filter(pk=log.pk).update(
                row_count=self.count, finished_at=timezone.now()
            )

        return finish

    def csv_chunks(self) -> Iterator[bytes]:
        """CSV in UTF-8 with BOM (Excel opens Chinese correctly), a few hundred rows per chunk."""
        finish = self._log("csv")
        buffer = io.StringIO()
        writer = csv.writer(buffer)
        yield "\ufeff".encode()
        writer.writerow([column.header for column in self.columns])
        for index, values in enumerate(self._records(), start=1):
            writer.writerow([escape(value) for value in values])
            if index % 500 == 0:
                yield buffer.getvalue().encode("utf-8")
                buffer.seek(0)
                buffer.truncate()
        yield buffer.getvalue().encode("utf-8")
        finish()

    def write_xlsx(self, target: Any) -> int:
        """XLSX with openpyxl's write-only mode (rows go to disk as they come)."""
        from openpyxl import Workbook

        finish = self._log("xlsx")
        workbook = Workbook(write_only=True)
        sheet = workbook.create_sheet(str(ExportKind(self.kind).label))
        sheet.freeze_panes = "A2"
        sheet.append([column.header for column in self.columns])
        for values in self._records():
            sheet.append(
                [xlsx_amount(sheet, xlsx_text_cell(sheet, escape(value))) for value in values]
            )
        workbook.save(target)
        finish()
        return self.count


def xlsx_amount(sheet: Any, value: Any) -> Any:
    """An amount stays a number (sums and filters work) shown grouped like the pages:
    ``#,##0``, or ``#,##0.00`` when it has cents. Exports hold no other non-whole numbers:
    Decimal fields (amounts, budgets) arrive as floats."""
    if not isinstance(value, float):
        return value
    from openpyxl.cell import WriteOnlyCell

    cell = WriteOnlyCell(sheet, value=value)
    cell.number_format = XLSX_AMOUNT if value.is_integer() else XLSX_AMOUNT_CENTS
    return cell
