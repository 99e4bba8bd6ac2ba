"""Destruction (合规销毁): remove a customer's, a contact's or a lead's personal data everywhere
Kehu keeps it, and leave one tombstone without it.

Three entry points, each one transaction, each for admins only:

- ``destroy_customers(ids, ...)``: the customers and every record of theirs are **deleted**:
  contacts, follow-ups and tasks, sent e-mails, deals with their contracts and payments,
  handovers, tickets with their messages, inbound e-mails and surveys, attachments (rows and
  files on disk), shares, status changes, pool entries and events, reveal logs, scores,
  campaign members, messages, consent and touches, the leads converted into them, external
  ids, import records, and every history row of all of these.
- ``destroy_contact(contact, ...)``: the PIPL erasure of one person: the contact and its rows
  (consent, campaign members and messages, touches, reveal logs, e-mails sent to it) are
  deleted; the customer's own records stay (the company remains a customer) with the
  person's name, numbers and e-mail replaced by ``***`` in their text and history.
- ``destroy_lead(lead, ...)``: the PIPL erasure of a lead (a web-form submission included).

Beyond the rows reached through foreign keys, the person's values (names, phone numbers,
e-mails, also their earlier values from history) are searched in the places that copy them as
text: in-app notifications and their deliveries, webhook delivery payloads, the admin log,
inbound e-mails, saved filters, import jobs (first errors, duplicates, verification report,
per-row decisions), their saved error reports and uploaded files. Generated exports are
streamed or spooled to anonymous temporary files and never stored, so none remains.

Only ids and counts are kept: a ``DestructionRun`` row and one ``governance.destruction``
audit entry (who, policy or reason, how many rows of each kind). A customer under legal
hold (``holds.held_ids``) is refused, and so is the whole call.

Nothing is anonymised to keep a figure except what other rows already hold: a campaign send
keeps its ``total`` and ``skipped`` counts (numbers, no person), and the activity statistics
(``analytics.ActivityDay``) keep their per-rep counts, which name no customer.
"""

from __future__ import annotations

import contextlib
import csv
import io
import json
import os
import re
import tempfile
import zipfile
from collections import Counter, defaultdict
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote, quote_plus

from django.apps import apps
from django.conf import settings
from django.contrib.contenttypes.models import ContentType
from django.core.files.storage import default_storage
from django.db import connection, models, transaction
from django.db.models import F, Q, QuerySet, Value
from django.db.models.deletion import Collector, ProtectedError, RestrictedError
from django.db.models.functions import Cast, Left, Replace
from django.utils.translation import gettext as _

from kehu.core import audit
from kehu.core.access import is_admin
from kehu.core.errors import Conflict, Forbidden, InvalidInput, NotFound
from kehu.customers.models import Contact, Customer
from kehu.customers.services import refresh_search
from kehu.governance.models import DestructionKind, DestructionRun
from kehu.governance.services import holds
from kehu.leads.models import Lead

__all__ = ["DestructionResult", "destroy_contact", "destroy_customers", "destroy_lead"]

MASK = "***"
CHINA_PHONE = re.compile(r"^\+86(\d{6,})$")
MIN_NEEDLE = 2  # a one-character value ("王") would blank every text that contains it
CHUNK = 500
NEEDLES_PER_QUERY = 60
# Rows that point at a customer's records with PROTECT: its deals, their contracts and
# payments, its handovers and tickets, all destroyed with it. Any other protecting row stops
# the destruction: a new kind of record must be added here on purpose.
OWNED_PROTECTED = frozenset(
    {
        "opportunities.opportunity",
        "contracts.contract",
        "contracts.payment",
        "service.ticket",
        "service.handover",
    }
)
# The values that name a person (or a customer company), per model, for the text search.
PERSON_FIELDS: dict[str, tuple[str, ...]] = {
    "customers.customer": ("name",),
    "customers.contact": ("name", "mobile", "work_phone", "email", "wechat"),
    "leads.lead": ("contact_name", "mobile", "email", "company_name"),
}
# Text copies found by value: (model, text fields, whether they store escaped or quoted
# forms); a row that holds a value is deleted.
TEXT_COPIES: tuple[tuple[str, tuple[str, ...], bool], ...] = (
    ("notifications.notification", ("title", "body", "url"), False),
    ("notifications.delivery", ("subject", "text"), False),
    ("integrations.webhookdelivery", ("body",), False),  # JSON written with ensure_ascii=False
    ("admin.logentry", ("object_repr", "change_message"), True),
    ("service.inboundemail", ("sender", "subject"), False),
    ("customers.savedfilter", ("query",), True),  # a URL query string
    ("followups.sentemail", ("to_address",), False),
)
# JSON copies kept as records of something else (the export log, a segment's conditions): the
# row stays, the person's values in it are replaced.
JSON_COPIES: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("transfer.exportlog", ("filters",)),
    ("campaigns.segment", ("conditions",)),
)
# The model an import job's ImportRecord.object_id points at, per import kind.
IMPORT_KINDS = {
    "customers": "customers.customer",
    "leads": "leads.lead",
    "opportunities": "opportunities.opportunity",
    "followups": "followups.followup",
}
EXTERNAL_KINDS = {
    "customer": "customers.customer",
    "contact": "customers.contact",
    "opportunity": "opportunities.opportunity",
}
# Rewritten files waiting for the commit: (new content, path); (None, path) removes it.
Staged = list[tuple[Path | None, Path]]
IMPORT_JSON_FIELDS = ("errors", "duplicates", "report", "row_decisions", "detected")


@dataclass(frozen=True)
class DestructionResult:
    run_id: int
    kind: str
    subjects: int
    counts: dict[str, int]
    files_removed: int
    audit_seq: int


# --- the values to look for ----------------------------------------------------------------
class Needles:
    """A person's values and the forms they take in stored text (JSON escapes, URL quoting)."""

    def __init__(self, values: Iterable[str]) -> None:
        clean: set[str] = set()
        for value in values:
            if value:
                clean.update(_written_forms(str(value).strip()))
        self.values = sorted((v for v in clean if len(v) >= MIN_NEEDLE), key=len, reverse=True)
        plain: set[str] = set()
        forms: set[str] = set()
        for value in self.values:
            plain.update({value, value.lower()})
            forms.update({json.dumps(value)[1:-1], quote(value), quote_plus(value)})
        self.plain = sorted(plain, key=len, reverse=True)
        self.forms = sorted(forms | plain, key=len, reverse=True)

    def __bool__(self) -> bool:
        return bool(self.values)

    def found_in(self, text: str) -> bool:
        lowered = text.lower()
        return any(form.lower() in lowered for form in self.forms)

    def redact(self, text: str) -> str:
        for form in self.forms:
            if form in text:
                text = text.replace(form, MASK)
        return text

    def any_in(self, *fields: str, encoded: bool = True) -> Iterator[Q]:
        """Q objects, each OR-ing ``field__contains`` over a slice of the forms (``encoded``:
        with the JSON-escaped and URL-quoted ones, for columns that store those)."""
        forms = self.forms if encoded else self.plain
        for start in range(0, len(forms), NEEDLES_PER_QUERY):
            query = Q()
            for form in forms[start : start + NEEDLES_PER_QUERY]:
                for name in fields:
                    query |= Q(**{f"{name}__contains": form})
            yield query


def _written_forms(value: str) -> set[str]:
    """A value as people write it: phones are stored as E.164 (``+8613912345678``) but typed
    into files and notes nationally (``13912345678``, ``021-66778899``)."""
    forms = {value}
    match = CHINA_PHONE.match(value)
    if match:
        national = match.group(1)
        forms.add(national)
        if not national.startswith("1"):  # a landline: trunk prefix and area code
            forms.add("0" + national)
            for split in (2, 3):
                forms.add(f"0{national[:split]}-{national[split:]}")
    return forms


def _history_model(label: str) -> type[models.Model] | None:
    model = apps.get_model(label)
    history = getattr(model, "history", None)
    return getattr(history, "model", None) if history is not None else None


def _values_of(label: str, ids: Iterable[int]) -> list[str]:
    """The person fields of these rows, now and in every history row (earlier names count)."""
    ids = list(ids)
    found: list[str] = []
    fields = PERSON_FIELDS[label]
    sources: list[type[models.Model]] = [apps.get_model(label)]
    history = _history_model(label)
    if history is not None:
        sources.append(history)
    for model in sources:
        for start in range(0, len(ids), CHUNK):
            chunk = ids[start : start + CHUNK]
            for row in model._base_manager.filter(id__in=chunk).values_list(*fields):
                found.extend(str(value) for value in row if value)
    return found


# --- one run -------------------------------------------------------------------------------
@dataclass
class _Run:
    needles: Needles
    counts: Counter[str] = field(default_factory=Counter)
    destroyed: dict[str, set[int]] = field(default_factory=lambda: defaultdict(set))
    files: set[str] = field(default_factory=set)
    staged: Staged = field(default_factory=list)

    def count(self, label: str, number: int) -> None:
        if number:
            self.counts[label.lower()] += number

    def delete(self, queryset: QuerySet[Any], depth: int = 0) -> None:
        """Delete the rows and everything that depends on them, PROTECT included for the
        customer's own records (OWNED_PROTECTED), noting ids and files on the way."""
        if depth > 8:
            raise Conflict(_("The records to destroy depend on each other too deeply."))
        for _attempt in range(10):
            collector = Collector(using=queryset.db, origin=queryset)
            try:
                collector.collect(queryset)
            except (ProtectedError, RestrictedError) as error:
                blocking = (
                    error.protected_objects
                    if isinstance(error, ProtectedError)
                    else error.restricted_objects
                )
                by_model: dict[type[models.Model], set[Any]] = defaultdict(set)
                for row in blocking:
                    if row._meta.label_lower not in OWNED_PROTECTED:
                        raise Conflict(
                            _("A %(kind)s record depends on the records to destroy.")
                            % {"kind": row._meta.verbose_name},
                            code="destruction_blocked",
                        ) from error
                    by_model[type(row)].add(row.pk)
                for model, pks in by_model.items():
                    self.delete(model._base_manager.filter(pk__in=pks), depth + 1)
                continue
            self._note(collector)
            _total, per_model = collector.delete()
            for label, number in per_model.items():
                self.count(label, number)
            return
        raise Conflict(_("The records to destroy could not be collected."))

    def _note(self, collector: Collector) -> None:
        for model, rows in collector.data.items():
            label = model._meta.label_lower
            file_fields = [
                f for f in model._meta.concrete_fields if isinstance(f, models.FileField)
            ]
            for row in rows:
                self.destroyed[label].add(row.pk)
                for file_field in file_fields:
                    name = getattr(row, file_field.attname)
                    if name:
                        self.files.add(str(name))
        for queryset in collector.fast_deletes:
            model = queryset.model
            names = [
                f.attname for f in model._meta.concrete_fields if isinstance(f, models.FileField)
            ]
            if names:
                for row in queryset.values_list(*names):
                    self.files.update(str(name) for name in row if name)

    # history ---------------------------------------------------------------------------
    def purge_history(self, *, owners: Iterable[str] = ()) -> None:
        """Delete the history rows of every destroyed record (the deletion itself wrote one
        more each) and, for ``owners`` (customers, leads), every history row pointing at them."""
        owner_labels = set(owners)
        for model in apps.get_models():
            instance = getattr(model, "instance_type", None)
            if instance is None or not hasattr(model, "history_id"):
                continue
            own = self.destroyed.get(instance._meta.label_lower, set())
            self._delete_ids(model, "id", own)
            for fk in model._meta.concrete_fields:
                if not fk.is_relation or fk.name == "history_user" or fk.related_model is None:
                    continue
                target = fk.related_model._meta.label_lower
                if target in owner_labels:
                    self._delete_ids(model, fk.attname, self.destroyed.get(target, set()))

    def _delete_ids(self, model: type[models.Model], column: str, ids: set[int]) -> None:
        ordered = sorted(ids)
        for start in range(0, len(ordered), CHUNK):
            chunk = ordered[start : start + CHUNK]
            number, _ = model._base_manager.filter(**{f"{column}__in": chunk}).delete()
            self.count(model._meta.label_lower, number)

    # rows that point by id, not by foreign key ------------------------------------------
    def purge_id_references(self) -> None:
        from kehu.integrations.models import ExternalId
        from kehu.transfer.models import ImportRecord

        for kind, label in EXTERNAL_KINDS.items():
            ids = sorted(self.destroyed.get(label, set()))
            for start in range(0, len(ids), CHUNK):
                number, _ = ExternalId.objects.filter(
                    kind=kind, object_id__in=ids[start : start + CHUNK]
                ).delete()
                self.count("integrations.externalid", number)
        for kind, label in IMPORT_KINDS.items():
            ids = sorted(self.destroyed.get(label, set()))
            for start in range(0, len(ids), CHUNK):
                number, _ = ImportRecord.objects.filter(
                    job__kind=kind, object_id__in=ids[start : start + CHUNK]
                ).delete()
                self.count("transfer.importrecord", number)
        log_entry = _optional_model("admin.logentry")
        if log_entry is not None:
            for label, pks in self.destroyed.items():
                if not pks:
                    continue
                model = apps.get_model(label)
                if getattr(model, "instance_type", None) is not None:
                    continue
                content_type = ContentType.objects.get_for_model(model)
                texts = sorted(str(pk) for pk in pks)
                for start in range(0, len(texts), CHUNK):
                    number, _ = log_entry._base_manager.filter(
                        content_type=content_type, object_id__in=texts[start : start + CHUNK]
                    ).delete()
                    self.count("admin.logentry", number)

    # text copies ------------------------------------------------------------------------
    def purge_text_copies(self) -> None:
        if not self.needles:
            return
        for label, fields, encoded in TEXT_COPIES:
            model = _optional_model(label)
            if model is None:
                continue
            for query in self.needles.any_in(*fields, encoded=encoded):
                number, _ = model._base_manager.filter(query).delete()
                self.count(label, number)

    def redact_json_copies(self) -> None:
        if not self.needles:
            return
        for label, fields in JSON_COPIES:
            model = _optional_model(label)
            if model is None:
                continue
            texts = {f"_text_{name}": Cast(name, models.TextField()) for name in fields}
            matching: set[Any] = set()
            for query in self.needles.any_in(*texts):
                matching.update(
                    model._base_manager.annotate(**texts).filter(query).values_list("pk", flat=True)
                )
            for row in model._base_manager.filter(pk__in=sorted(matching)):
                for name in fields:
                    setattr(row, name, _scrub_json(getattr(row, name), self.needles))
                row.save(update_fields=list(fields))
                self.count(f"{label}.redacted", 1)

    def scrub_imports(self) -> None:
        """Import jobs keep what their rows said (first errors, duplicates, the report, the
        per-row decisions) in JSON, in a saved error report and in the uploaded file: the
        person's values are replaced there; row numbers and counts stay."""
        from kehu.transfer.models import ImportJob

        if not self.needles:
            return
        for job in ImportJob.objects.select_for_update().order_by("pk"):
            changed: list[str] = []
            for name in IMPORT_JSON_FIELDS:
                value = getattr(job, name)
                scrubbed = _scrub_json(value, self.needles)
                if scrubbed != value:
                    setattr(job, name, scrubbed)
                    changed.append(name)
            for name in ("message", "original_name"):
                value = getattr(job, name)
                if value and self.needles.found_in(value):
                    setattr(job, name, self.needles.redact(value))
                    changed.append(name)
            if changed:
                job.save(update_fields=changed)
                self.count("transfer.importjob", 1)
            report = Path(settings.MEDIA_ROOT) / "transfer" / f"job-{job.pk}" / "errors.jsonl"
            if report.is_file() and _scrub_jsonl(report, self.needles, self.staged):
                self.count("transfer.error_report", 1)
            if job.is_running or not job.file_path:
                continue
            source = Path(job.file_path)
            if source.is_file() and _scrub_sheet(source, self.needles, job.encoding, self.staged):
                self.count("transfer.import_file", 1)

    # redaction inside a customer's remaining records (a contact's erasure) -------------
    def redact_customer_records(self, customer_id: int) -> None:
        """Replace the person's values in the text of the customer and the records that hang
        off it (two levels: tickets → messages, deals → contracts), history rows included."""
        if not self.needles:
            return
        level_one: list[tuple[type[models.Model], QuerySet[Any]]] = [
            (Customer, Customer._base_manager.filter(pk=customer_id))
        ]
        history = _history_model("customers.customer")
        if history is not None:
            level_one.append((history, history._base_manager.filter(id=customer_id)))
        for model in apps.get_models():
            for fk in model._meta.concrete_fields:
                if fk.is_relation and fk.related_model is Customer:
                    level_one.append(
                        (model, model._base_manager.filter(**{fk.attname: customer_id}))
                    )
        parents = dict(level_one)
        level_two: list[tuple[type[models.Model], QuerySet[Any]]] = []
        for model in apps.get_models():
            for fk in model._meta.concrete_fields:
                if not fk.is_relation or fk.related_model is Customer:
                    continue
                parent = parents.get(fk.related_model)  # type: ignore[arg-type]
                if parent is not None and fk.name != "history_user":
                    level_two.append(
                        (
                            model,
                            model._base_manager.filter(
                                **{f"{fk.attname}__in": parent.values("pk")}
                            ),
                        )
                    )
        histories: list[tuple[type[models.Model], QuerySet[Any]]] = []
        for model, queryset in level_one + level_two:
            history = _history_model(model._meta.label_lower)
            if history is not None:  # earlier rows too (a lead before its conversion)
                histories.append(
                    (history, history._base_manager.filter(id__in=queryset.values("pk")))
                )
        for model, queryset in level_one + level_two + histories:
            self._redact(model, queryset)

    def _redact(self, model: type[models.Model], queryset: QuerySet[Any]) -> None:
        text_fields = [
            f
            for f in model._meta.concrete_fields
            if isinstance(f, (models.CharField, models.TextField))
            and not f.choices
            and not f.primary_key
            and f.name not in {"request_id", "history_type", "number", "dedupe_key"}
        ]
        self._redact_json(model, queryset)
        if not text_fields:
            return
        hits = Q()
        for query in self.needles.any_in(*(f.attname for f in text_fields), encoded=False):
            hits |= query
        if not queryset.filter(hits).exists():
            return
        for text_field in text_fields:
            for form in self.needles.plain:
                replaced: Any = Replace(F(text_field.attname), Value(form), Value(MASK))
                if isinstance(text_field, models.CharField) and text_field.max_length:
                    replaced = Left(replaced, text_field.max_length)
                number = queryset.filter(**{f"{text_field.attname}__contains": form}).update(
                    **{text_field.attname: replaced}
                )
                self.count(f"{model._meta.label_lower}.redacted", number)

    def _redact_json(self, model: type[models.Model], queryset: QuerySet[Any]) -> None:
        """JSON columns (a web-form lead's extra fields, an event's data): rewritten in Python."""
        names = [f.attname for f in model._meta.concrete_fields if isinstance(f, models.JSONField)]
        if not names:
            return
        texts = {f"_text_{name}": Cast(name, models.TextField()) for name in names}
        hits = Q()
        for query in self.needles.any_in(*texts):
            hits |= query
        for row in queryset.annotate(**texts).filter(hits).values("pk", *names):
            changes = {
                name: _scrub_json(row[name], self.needles)
                for name in names
                if _scrub_json(row[name], self.needles) != row[name]
            }
            if changes:
                model._base_manager.filter(pk=row["pk"]).update(**changes)
                self.count(f"{model._meta.label_lower}.redacted", 1)

    # the end ----------------------------------------------------------------------------
    def remove_files_on_commit(self) -> None:
        files, staged = sorted(self.files), list(self.staged)
        self.count("files", len(files))

        def remove() -> None:
            for name in files:
                with contextlib.suppress(OSError):
                    default_storage.delete(name)
            _apply_staged(staged)
            _checkpoint_sqlite()

        transaction.on_commit(remove)


def _optional_model(label: str) -> type[models.Model] | None:
    try:
        return apps.get_model(label)
    except LookupError:
        return None


def _scrub_json(value: Any, needles: Needles) -> Any:
    """A copy of ``value`` without the person: list items that name them are dropped (an
    error row, a duplicate), other strings have the values replaced."""
    if isinstance(value, list):
        return [_scrub_json(item, needles) for item in value if not _names(item, needles)]
    if isinstance(value, dict):
        return {key: _scrub_json(item, needles) for key, item in value.items()}
    if isinstance(value, str) and needles.found_in(value):
        return needles.redact(value)
    return value


def _names(value: Any, needles: Needles) -> bool:
    if isinstance(value, (list, dict)):
        return needles.found_in(json.dumps(value, ensure_ascii=False, default=str))
    return False


def _replace_file(path: Path, write: Any, staged: Staged | None) -> None:
    """Write the new content beside ``path``; it takes the old one's place at once, or, with
    ``staged``, when the transaction commits (a rollback leaves the file as it was)."""
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=".destroy-")
    try:
        with os.fdopen(handle, "wb") as target:
            write(target)
        if staged is None:
            os.replace(temporary, path)
        else:
            staged.append((Path(temporary), path))
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temporary)
        raise


def _apply_staged(staged: Staged) -> None:
    for temporary, path in staged:
        with contextlib.suppress(OSError):
            if temporary is None:
                path.unlink()
            else:
                os.replace(temporary, path)


def _discard_staged(staged: Staged) -> None:
    for temporary, _path in staged:
        if temporary is not None:
            with contextlib.suppress(OSError):
                temporary.unlink()
    staged.clear()


def _scrub_jsonl(path: Path, needles: Needles, staged: Staged | None = None) -> bool:
    """Drop the lines of a saved error report that name the person."""
    lines = path.read_bytes().splitlines(keepends=True)
    kept = []
    for line in lines:
        text = line.decode("utf-8", errors="replace")
        try:
            decoded = json.dumps(json.loads(text), ensure_ascii=False)
        except ValueError:
            decoded = text
        if not (needles.found_in(text) or needles.found_in(decoded)):
            kept.append(line)
    if len(kept) == len(lines):
        return False
    _replace_file(path, lambda target: target.writelines(kept), staged)
    return True


def _scrub_sheet(path: Path, needles: Needles, encoding: str, staged: Staged | None = None) -> bool:
    """Replace the person's values in an uploaded XLSX or CSV file, cell by cell, so the
    job's row numbers (verification, error report) still point at the same rows."""
    with path.open("rb") as handle:
        head = handle.read(4)
    if head.startswith(b"PK\x03\x04"):
        return _scrub_xlsx(path, needles, staged)
    return _scrub_csv(path, needles, encoding, staged)


def _xlsx_mentions(path: Path, needles: Needles) -> bool:
    """Whether the workbook's XML parts hold a value at all: a cheap look before openpyxl
    loads a large file (text sits in the XML as UTF-8, numbers as digits)."""
    try:
        with zipfile.ZipFile(path) as archive:
            for member in archive.namelist():
                if member.endswith(".xml"):
                    text = archive.read(member).decode("utf-8", errors="replace")
                    if needles.found_in(text.replace("&amp;", "&")):
                        return True
    except zipfile.BadZipFile:
        return True  # let openpyxl judge it
    return False


def _scrub_xlsx(path: Path, needles: Needles, staged: Staged | None) -> bool:
    from openpyxl import load_workbook

    if not _xlsx_mentions(path, needles):
        return False
    workbook = load_workbook(path)
    changed = False
    for sheet in workbook.worksheets:
        for row in sheet.iter_rows():
            for cell in row:
                value = cell.value
                if isinstance(value, int | float) and not isinstance(value, bool):
                    value = str(int(value)) if float(value).is_integer() else str(value)
                    if value in needles.forms:  # a phone typed as a number
                        cell.value = MASK
                        changed = True
                elif isinstance(value, str) and needles.found_in(value):
                    cell.value = needles.redact(value)
                    changed = True
    if changed:
        _replace_file(path, workbook.save, staged)
    workbook.close()
    return changed


def _scrub_csv(path: Path, needles: Needles, encoding: str, staged: Staged | None) -> bool:
    raw = path.read_bytes()
    for candidate in ([encoding] if encoding else []) + ["utf-8-sig", "gb18030"]:
        try:
            text = raw.decode(candidate)
        except (UnicodeDecodeError, LookupError):
            continue
        break
    else:
        # unreadable: it cannot be scrubbed, so it goes
        if staged is None:
            path.unlink()
        else:
            staged.append((None, path))
        return True
    if not needles.found_in(text):
        return False
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    for row in csv.reader(io.StringIO(text, newline="")):
        writer.writerow([needles.redact(cell) for cell in row])
    data = buffer.getvalue().encode(candidate if candidate != "utf-8-sig" else "utf-8-sig")
    _replace_file(path, lambda target: target.write(data), staged)
    return True


def _checkpoint_sqlite() -> None:
    """SQLite keeps old page images in its write-ahead log until a checkpoint: fold the log
    back into the database and truncate it (best effort; a busy reader postpones it)."""
    if connection.vendor == "sqlite":
        with contextlib.suppress(Exception), connection.cursor() as cursor:
            cursor.execute("PRAGMA wal_checkpoint(TRUNCATE)")


@contextlib.contextmanager
def _secure_delete() -> Iterator[None]:
    """On SQLite, overwrite deleted content with zeros instead of leaving it in free pages."""
    if connection.vendor != "sqlite":
        yield
        return
    with connection.cursor() as cursor:
        cursor.execute("PRAGMA secure_delete = ON")
    try:
        yield
    finally:
        with connection.cursor() as cursor:
            cursor.execute("PRAGMA secure_delete = OFF")


@contextlib.contextmanager
def _transaction() -> Iterator[Staged]:
    """The destruction's transaction; files rewritten in it take their place on commit, and
    are thrown away when it fails."""
    staged: Staged = []
    try:
        with _secure_delete(), transaction.atomic():
            yield staged
    except BaseException:
        _discard_staged(staged)
        raise


# --- checks --------------------------------------------------------------------------------
def _check(actor: Any, reason: str) -> str:
    if actor is None or not getattr(actor, "is_authenticated", False) or not is_admin(actor):
        raise Forbidden(_("Only an administrator may destroy records."))
    reason = (reason or "").strip()
    if not reason:
        raise InvalidInput(
            _("Give the reason or policy of the destruction."),
            errors={"reason": [_("This field is required.")]},
        )
    if len(reason) > 200:
        raise InvalidInput(
            _("The reason is longer than 200 characters."),
            errors={"reason": [_("At most 200 characters.")]},
        )
    return reason


def _held(customer_ids: Iterable[int]) -> set[int]:
    """The held ones among these customers: in one call where ``holds`` offers ``held_ids``,
    else one ``is_held`` per customer (the interface the retention workflow keeps)."""
    ids = sorted({int(pk) for pk in customer_ids})
    batch = getattr(holds, "held_ids", None)
    if batch is not None:
        return {int(pk) for pk in batch(ids)}
    return {pk for pk in ids if holds.is_held(pk)}


def _refuse_held(customer_ids: Iterable[int]) -> None:
    held = sorted(_held(customer_ids))
    if held:
        raise Conflict(
            _("Customers under legal hold cannot be destroyed: %(ids)s.")
            % {"ids": ", ".join(str(pk) for pk in held[:20])},
            code="legal_hold",
            extra={"held": held},
        )


def _finish(
    run: _Run, *, kind: str, subjects: int, actor: Any, reason: str, policy_key: str
) -> DestructionResult:
    run.remove_files_on_commit()
    reason = run.needles.redact(reason)  # a reason that names the person keeps no name
    counts = dict(sorted(run.counts.items()))
    record = DestructionRun.objects.create(
        actor=actor,
        kind=kind,
        policy_key=policy_key[:60],
        reason=reason,
        subjects=subjects,
        counts=counts,
        files_removed=counts.get("files", 0),
    )
    entry = audit.record(
        "governance.destruction",
        actor=actor,
        target=record,
        details={
            "kind": kind,
            "policy": policy_key[:60],
            "reason": reason,
            "subjects": subjects,
            "counts": counts,
        },
    )
    record.audit_seq = entry.seq
    record.save(update_fields=["audit_seq"])
    return DestructionResult(
        run_id=record.pk,
        kind=kind,
        subjects=subjects,
        counts=counts,
        files_removed=record.files_removed,
        audit_seq=entry.seq,
    )


# --- the entry points ----------------------------------------------------------------------
def destroy_customers(
    customer_ids: Iterable[int], *, actor: Any, reason: str, policy_key: str = ""
) -> DestructionResult:
    """Destroy these customers and everything of theirs (module docstring). Refused whole
    (409 ``legal_hold``) when one is under legal hold; an id that does not exist is 404."""
    reason = _check(actor, reason)
    ids = sorted({int(pk) for pk in customer_ids})
    if not ids:
        raise InvalidInput(
            _("Choose the customers to destroy."),
            errors={"customer_ids": [_("This field is required.")]},
        )
    with _transaction() as staged:
        found = list(
            Customer._base_manager.select_for_update()
            .filter(pk__in=ids)
            .values_list("pk", flat=True)
        )
        if len(found) != len(ids):
            raise NotFound(f"customers {sorted(set(ids) - set(found))[:20]}")
        _refuse_held(ids)
        lead_ids = list(Lead._base_manager.filter(customer_id__in=ids).values_list("pk", flat=True))
        contact_ids = list(
            Contact._base_manager.filter(customer_id__in=ids).values_list("pk", flat=True)
        )
        run = _Run(
            Needles(
                _values_of("customers.customer", ids)
                + _values_of("customers.contact", contact_ids)
                + _values_of("leads.lead", lead_ids)
            ),
            staged=staged,
        )
        _delete_inbound_email(run, ids)
        run.delete(Lead._base_manager.filter(pk__in=lead_ids))
        for start in range(0, len(ids), CHUNK):
            run.delete(Customer._base_manager.filter(pk__in=ids[start : start + CHUNK]))
        run.purge_history(owners=("customers.customer", "leads.lead"))
        run.purge_id_references()
        run.purge_text_copies()
        run.redact_json_copies()
        run.scrub_imports()
        return _finish(
            run,
            kind=DestructionKind.CUSTOMERS,
            subjects=len(ids),
            actor=actor,
            reason=reason,
            policy_key=policy_key,
        )


def _delete_inbound_email(run: _Run, customer_ids: list[int]) -> None:
    """Inbound e-mails keep their ticket with SET_NULL: delete them with the tickets."""
    from kehu.service.models import InboundEmail, Ticket

    tickets = Ticket._base_manager.filter(customer_id__in=customer_ids).values("pk")
    run.delete(InboundEmail._base_manager.filter(ticket__in=tickets))


def destroy_contact(contact: Contact, *, actor: Any, reason: str) -> DestructionResult:
    """Erase one person who is a contact (PIPL): the contact goes, the customer stays with
    the person's values replaced by ``***`` in its records' text and history."""
    reason = _check(actor, reason)
    with _transaction() as staged:
        locked = Contact._base_manager.select_for_update().filter(pk=contact.pk).first()
        if locked is None:
            raise NotFound(f"contact {contact.pk}")
        customer_id = locked.customer_id
        _refuse_held([customer_id])
        run = _Run(Needles(_values_of("customers.contact", [locked.pk])), staged=staged)
        from kehu.followups.models import SentEmail

        run.delete(SentEmail._base_manager.filter(contact_id=locked.pk))
        run.delete(Contact._base_manager.filter(pk=locked.pk))
        run.purge_history()
        run.purge_id_references()
        run.redact_customer_records(customer_id)
        run.purge_text_copies()
        run.redact_json_copies()
        run.scrub_imports()
        customer = Customer._base_manager.get(pk=customer_id)
        refresh_search(customer)
        Customer._base_manager.filter(pk=customer_id).update(
            name_key=customer.name_key,
            search_text=customer.search_text,
            completeness=customer.completeness,
        )
        return _finish(
            run,
            kind=DestructionKind.CONTACT,
            subjects=1,
            actor=actor,
            reason=reason,
            policy_key="",
        )


def destroy_lead(lead: Lead, *, actor: Any, reason: str) -> DestructionResult:
    """Erase one lead (PIPL), a web-form submission included: the lead, its events, campaign
    rows and history go; its values are searched in the text copies. A lead converted into a
    customer keeps that customer (erase the contact too, or destroy the customer)."""
    reason = _check(actor, reason)
    with _transaction() as staged:
        locked = Lead._base_manager.select_for_update().filter(pk=lead.pk).first()
        if locked is None:
            raise NotFound(f"lead {lead.pk}")
        if locked.customer_id is not None:
            _refuse_held([locked.customer_id])
        values = _values_of("leads.lead", [locked.pk])
        if locked.customer_id is not None:
            # the company is a customer now: its name is not this person's to erase
            company = {locked.company_name}
            values = [value for value in values if value not in company]
        run = _Run(Needles(values), staged=staged)
        run.delete(Lead._base_manager.filter(pk=locked.pk))
        run.purge_history()
        run.purge_id_references()
        run.purge_text_copies()
        run.redact_json_copies()
        run.scrub_imports()
        return _finish(
            run,
            kind=DestructionKind.LEAD,
            subjects=1,
            actor=actor,
            reason=reason,
            policy_key="",
        )
