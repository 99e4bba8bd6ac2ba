"""After an import: the verification report and the downloadable error report.

The verification report is the handbook's acceptance step (SEED_NOTES §9): completeness per
field (source cells that had a value vs. stored records that hold one), the overall figure
against the 98 % target, and a random sample of 50 records shown source row vs. stored record.
"""

from __future__ import annotations

import json
import random
from collections.abc import Iterable, Iterator
from datetime import datetime
from pathlib import Path
from typing import Any, Generic, TypeVar

from django.core.exceptions import FieldDoesNotExist
from django.db import models
from django.db.models import Count, Q
from django.utils.translation import gettext as _

from kehu.core import custom_fields
from kehu.customers.models import TO_VERIFY, Contact, Customer
from kehu.customers.normalize import phone_display
from kehu.followups.models import FollowUp
from kehu.leads.models import Lead
from kehu.opportunities.models import Opportunity
from kehu.service.models import Ticket
from kehu.transfer import mapping as mapping_module
from kehu.transfer.cleaning import CellError, Cleaner, fold_text
from kehu.transfer.exporting import xlsx_text_cell
from kehu.transfer.models import ImportJob, ImportRecord
from kehu.transfer.reading import open_sheet
from kehu.transfer.specs import FieldSpec, spec_map

T = TypeVar("T")

SAMPLE_SIZE = 50
TARGET = 98.0
CONTACT_FIELD = {
    "contact_name": "name",
    "contact_title": "title",
    "contact_mobile": "mobile",
    "contact_work_phone": "work_phone",
    "contact_email": "email",
    "contact_wechat": "wechat",
    "contact_is_decision_maker": "is_decision_maker",
}
CUSTOM = "custom."  # the import keys of custom fields (自定义字段): custom.<key>
NULLABLE = {"industry", "region", "founded_on", "annual_budget", "credit_code", "owner"}


def _stored_counts(job: ImportJob, keys: list[str]) -> dict[str, int]:
    if job.kind != "customers":
        return _record_counts(job, keys)
    ids = ImportRecord.objects.filter(job=job, created=True).values("object_id")
    customers = Customer.objects.filter(pk__in=ids)
    aggregates: dict[str, Any] = {}
    for key in keys:
        if key.startswith(CUSTOM):  # a custom field (自定义字段): a value under its key
            aggregates[key] = Count("pk", filter=Q(custom__has_key=key.removeprefix(CUSTOM)))
        elif key in NULLABLE:
            aggregates[key] = Count(key)
        elif key in spec_map(job.kind) and spec_map(job.kind)[key].group == "customer":
            if key == "tags":
                continue
            aggregates[key] = Count("pk", filter=~Q(**{key: ""}))
    counts: dict[str, int] = dict(customers.aggregate(**aggregates)) if aggregates else {}
    if "tags" in keys:
        counts["tags"] = customers.filter(tags__isnull=False).distinct().count()
    contacts = Contact.objects.filter(customer_id__in=ids)
    for key in keys:
        target = CONTACT_FIELD.get(key)
        if target is None:
            continue
        if target == "is_decision_maker":
            filled = contacts
        elif target == "name":
            filled = contacts.exclude(name="").exclude(name=TO_VERIFY)
        else:
            filled = contacts.exclude(**{target: ""})
        counts[key] = filled.values("customer_id").distinct().count()
    return counts


def build_verification(
    job: ImportJob, sampled: list[tuple[int, int, list[Any]]] | None = None
) -> dict[str, Any]:
    """``sampled``: (file line, customer id, cells) the import drew as it went, so the file
    is not read a second time (an XLSX of 100,000 rows: ~50 s); else drawn here."""
    specs = spec_map(job.kind)
    source: dict[str, int] = {k: int(v) for k, v in job.report.get("source_filled", {}).items()}
    keys = [key for key in job.mapping.values() if key]
    stored = _stored_counts(job, keys)
    fields: list[dict[str, Any]] = []
    total_source = total_stored = 0
    for key in keys:
        wanted = source.get(key, 0)
        kept = min(stored.get(key, 0), wanted)
        total_source += wanted
        total_stored += kept
        fields.append(
            {
                "key": key,
                "label": specs[key].zh if key in specs else key,
                "source": wanted,
                "stored": kept,
                "percent": round(kept * 100 / wanted, 1) if wanted else 100.0,
            }
        )
    overall = round(total_stored * 100 / total_source, 2) if total_source else 100.0
    created = ImportRecord.objects.filter(job=job, created=True).count()
    return {
        "fields": fields,
        "overall": overall,
        "target": TARGET,
        "passed": overall >= TARGET,
        "records": created,
        "sample": sample_rows(job, sampled=sampled),
    }


def _custom_stored(record: Any, key: str) -> Any:
    return (record.custom or {}).get(key.removeprefix(CUSTOM))


def _custom_display(record: Any, spec: FieldSpec) -> str:
    value = _custom_stored(record, spec.key)
    if spec.custom is None:
        return "" if value is None else str(value)
    return custom_fields.display(spec.custom, value)


def _display(customer: Customer, contact: Contact | None, key: str) -> str:
    if key.startswith(CUSTOM):
        spec = spec_map("customers").get(key)
        return _custom_display(customer, spec) if spec else ""
    target = CONTACT_FIELD.get(key)
    if target is not None:
        if contact is None:
            return ""
        value = getattr(contact, target)
        if target in ("mobile", "work_phone"):
            return phone_display(value)
        if isinstance(value, bool):
            return _("yes") if value else _("no")
        return str(value or "")
    if key == "tags":
        return ",".join(tag.name for tag in customer.tags.all())
    value = getattr(customer, key, None)
    if hasattr(customer, f"get_{key}_display") and value:
        return str(getattr(customer, f"get_{key}_display")())
    return "" if value is None else str(value)


def _same(
    cleaner: Cleaner, spec: FieldSpec, raw: str, customer: Customer, contact: Contact | None
) -> bool:
    try:
        cleaned = cleaner.clean_cell(spec, raw)
    except CellError:
        return False
    target = CONTACT_FIELD.get(spec.key)
    if spec.key.startswith(CUSTOM):
        stored = _custom_stored(customer, spec.key)
    elif target is not None:
        stored = getattr(contact, target) if contact else None
    elif spec.key == "tags":
        stored = [tag.name for tag in customer.tags.all()]
        return cleaned is None or set(cleaned) <= set(stored)
    else:
        stored = getattr(
            customer,
            f"{spec.key}_id" if spec.type in ("industry", "region", "user") else spec.key,
            None,
        )
    if cleaned is None:
        return True
    return str(cleaned) == str(stored)


class Reservoir(Generic[T]):
    """A uniform random sample of ``size`` of the items offered, in one pass, holding only the
    sample (a million-row import's records as a list took ~100 MB)."""

    def __init__(self, size: int, rng: random.Random) -> None:
        self.size, self.rng = size, rng
        self.items: list[T] = []
        self.seen = 0

    def offer(self, item: T) -> None:
        if self.seen < self.size:
            self.items.append(item)
        else:
            slot = self.rng.randrange(self.seen + 1)
            if slot < self.size:
                self.items[slot] = item
        self.seen += 1


def reservoir_sample(items: Iterable[T], size: int, rng: random.Random) -> list[T]:
    reservoir: Reservoir[T] = Reservoir(size, rng)
    for item in items:
        reservoir.offer(item)
    return reservoir.items


def sample_rows(
    job: ImportJob,
    size: int = SAMPLE_SIZE,
    *,
    sampled: list[tuple[int, int, list[Any]]] | None = None,
) -> list[dict[str, Any]]:
    """A random sample of created records beside the file rows they came from."""
    if sampled:
        chosen = {line: pk for line, pk, _cells in sampled}
        file_rows: Iterable[tuple[int, list[Any]]] = sorted(
            (line, cells) for line, _pk, cells in sampled
        )
    else:
        records = ImportRecord.objects.filter(job=job, created=True).values_list(
            "row_number", "object_id"
        )
        rng = random.Random(job.pk)
        chosen = dict(reservoir_sample(records.iterator(chunk_size=5000), size, rng))
        file_rows = open_sheet(job.file_path, encoding=job.encoding).rows()
    if not chosen:
        return []
    if job.kind != "customers":
        return _record_sample(job, chosen)
    customers = {
        c.pk: c
        for c in Customer.objects.filter(pk__in=chosen.values())
        .select_related("industry__parent", "region__parent", "owner")
        .prefetch_related("tags", "contacts")
    }
    headers = (
        job.detected.get("headers") or open_sheet(job.file_path, encoding=job.encoding).headers
    )
    indexes = mapping_module.column_indexes(job.kind, headers, job.mapping)
    specs = spec_map(job.kind)
    cleaner = Cleaner(job.kind, actor=job.created_by)
    sample: list[dict[str, Any]] = []
    for line, cells in file_rows:
        if line not in chosen:
            continue
        customer = customers.get(chosen[line])
        if customer is None:
            continue
        contact = next((c for c in customer.contacts.all() if c.is_primary), None)
        pairs = []
        for key, index in indexes.items():
            raw = fold_text(cells[index] if index < len(cells) else "")[:200]
            pairs.append(
                {
                    "label": specs[key].zh,
                    "source": raw,
                    "stored": _display(customer, contact, key)[:200],
                    "same": _same(cleaner, specs[key], raw, customer, contact),
                }
            )
        sample.append({"line": line, "id": customer.pk, "number": customer.number, "pairs": pairs})
        if len(sample) >= len(chosen):
            break
    sample.sort(key=lambda item: item["line"])
    return sample


# --- leads, opportunities, follow-ups ---------------------------------------------------------
# import field → model attribute, where they differ
RECORD_ATTRIBUTES = {
    "leads": {"owner": "assignee"},
    "contacts": {
        **CONTACT_FIELD,
        "contact_gender": "gender",
        "contact_is_primary": "is_primary",
        "contact_mobile_reason": "mobile_reason",
        "contact_notes": "notes",
    },
}
RECORD_LINKS = {
    "leads": "/leads/{id}/",
    "opportunities": "/opportunities/{id}/",
    "tickets": "/service/tickets/{id}/",
}


def record_model(kind: str) -> type[models.Model]:
    models_of: dict[str, type[models.Model]] = {
        "contacts": Contact,
        "leads": Lead,
        "opportunities": Opportunity,
        "followups": FollowUp,
        "tickets": Ticket,
    }
    return models_of[kind]


def _attribute(kind: str, key: str) -> str:
    return RECORD_ATTRIBUTES.get(kind, {}).get(key, key)


def _record_counts(job: ImportJob, keys: list[str]) -> dict[str, int]:
    """Per field, the created records that hold a value (one aggregate query)."""
    model = record_model(job.kind)
    ids = ImportRecord.objects.filter(job=job, created=True).values("object_id")
    aggregates: dict[str, Any] = {}
    for key in keys:
        if key.startswith(CUSTOM):
            aggregates[key] = Count("pk", filter=Q(custom__has_key=key.removeprefix(CUSTOM)))
            continue
        name = _attribute(job.kind, key)
        try:
            model_field = model._meta.get_field(name)
        except FieldDoesNotExist:
            continue
        if isinstance(model_field, models.CharField | models.TextField):
            aggregates[key] = Count("pk", filter=~Q(**{name: ""}))
        else:
            aggregates[key] = Count(name)
    if not aggregates:
        return {}
    return dict(model._default_manager.filter(pk__in=ids).aggregate(**aggregates))


def _record_value(record: Any, key: str, kind: str) -> Any:
    """The stored value in the form the cleaner produces (codes, ids, aware datetimes)."""
    name = _attribute(kind, key)
    if key.startswith(CUSTOM):
        return _custom_stored(record, key)
    if key == "stage":
        return record.stage.code
    field = record._meta.get_field(name)
    if field.is_relation:
        return getattr(record, field.attname)
    return getattr(record, name)


def _record_display(record: Any, key: str, kind: str) -> str:
    from django.utils import timezone

    if key.startswith(CUSTOM):
        spec = spec_map(kind).get(key)
        return _custom_display(record, spec) if spec else ""
    name = _attribute(kind, key)
    value = getattr(record, name, None)
    if value is None or value == "":
        return ""
    if hasattr(record, f"get_{name}_display"):
        return str(getattr(record, f"get_{name}_display")())
    if name in ("mobile", "work_phone"):
        return str(phone_display(value))
    if isinstance(value, datetime):  # 跟进时间, a ticket's creation and resolution
        return f"{timezone.localtime(value):%Y-%m-%d %H:%M}"
    return str(value)


def _record_same(cleaner: Cleaner, spec: FieldSpec, raw: str, record: Any, kind: str) -> bool:
    try:
        cleaned = cleaner.clean_cell(spec, raw)
    except CellError:
        return False
    if cleaned is None:
        return True
    if spec.type == "customer":
        customer = record.customer
        return raw in (customer.number, customer.name) or raw.upper() == customer.credit_code
    if spec.key == "contact":
        contact = record.contact
        if contact is None:
            return False
        # a mobile in the file may lack the +86 the contacts store
        return raw == contact.name or (
            bool(contact.mobile) and contact.mobile in (raw, f"+86{raw}")
        )
    if spec.key == "contact_mobile" and kind == "contacts":
        return cleaned in (record.mobile, record.work_phone)  # a landline is the work phone
    stored = _record_value(record, spec.key, kind)
    return bool(cleaned == stored) or str(cleaned) == str(stored)


def _record_sample(job: ImportJob, chosen: dict[int, int]) -> list[dict[str, Any]]:
    model = record_model(job.kind)
    related = [
        f.name
        for f in model._meta.get_fields()
        if f.many_to_one and f.concrete and f.name != "related_type"
    ]
    stored = model._default_manager.select_related(*related).in_bulk(list(chosen.values()))
    sheet = open_sheet(job.file_path, encoding=job.encoding)
    indexes = mapping_module.column_indexes(job.kind, sheet.headers, job.mapping)
    specs = spec_map(job.kind)
    cleaner = Cleaner(job.kind, actor=job.created_by)
    link = RECORD_LINKS.get(job.kind, "/customers/{customer}/")
    sample: list[dict[str, Any]] = []
    for line, cells in sheet.rows():
        record = stored.get(chosen.get(line, 0))
        if record is None:
            continue
        pairs = []
        for key, index in indexes.items():
            raw = fold_text(cells[index] if index < len(cells) else "")[:200]
            pairs.append(
                {
                    "label": specs[key].zh,
                    "source": raw,
                    "stored": _record_display(record, key, job.kind)[:200],
                    "same": _record_same(cleaner, specs[key], raw, record, job.kind),
                }
            )
        url = link.format(id=record.pk, customer=getattr(record, "customer_id", ""))
        sample.append(
            {"line": line, "id": record.pk, "number": str(record)[:80], "url": url, "pairs": pairs}
        )
        if len(sample) >= len(chosen):
            break
    sample.sort(key=lambda item: item["line"])
    return sample


def error_lines(job: ImportJob) -> dict[int, str]:
    # The engine imports this module at its top (build_verification); lazily, so no cycle.
    from kehu.transfer.engine import errors_path

    path = errors_path(job)
    lines: dict[int, str] = {}
    if path.exists():
        with path.open(encoding="utf-8") as handle:
            for text in handle:
                item = json.loads(text)
                lines[int(item["line"])] = "; ".join(f"{c}: {m}" for c, m in item["errors"])
    for item in job.errors:
        if item["line"] not in lines:
            lines[int(item["line"])] = str(item["message"])
    return lines


def write_error_report(job: ImportJob, target: Path) -> int:
    """The original rows that failed, plus an error column, as XLSX. Returns the row count."""
    from openpyxl import Workbook

    problems = error_lines(job)
    workbook = Workbook(write_only=True)
    sheet = workbook.create_sheet(_("Errors"))
    headers = list(job.detected.get("headers", []))
    sheet.append([_("Line"), *(xlsx_text_cell(sheet, h) for h in headers), _("Errors")])
    written = 0
    if problems:
        for line, cells in _rows_of(job):
            if line in problems:
                sheet.append([line, *(xlsx_text_cell(sheet, c) for c in cells), problems[line]])
                written += 1
    workbook.save(target)
    return written


def _rows_of(job: ImportJob) -> Iterator[tuple[int, list[Any]]]:
    sheet = open_sheet(job.file_path, encoding=job.encoding)
    yield from sheet.rows()
