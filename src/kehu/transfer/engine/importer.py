"""The customer importer: plans each batch (dedup, decisions) and writes it."""

from __future__ import annotations

import json
import random
from collections import defaultdict
from collections.abc import Callable, Iterable
from typing import Any

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from kehu.accounts.models import User
from kehu.core import config
from kehu.core.bulk_insert import RowInserter
from kehu.core.errors import KehuError, NotFound
from kehu.customers import services as customer_services
from kehu.customers.models import (
    TO_VERIFY,
    Contact,
    Customer,
)
from kehu.customers.normalize import company_key, fold, pinyin_keys
from kehu.transfer import mapping as mapping_module
from kehu.transfer import pipeline
from kehu.transfer.cleaning import Cleaner, RowResult
from kehu.transfer.engine.common import (
    BATCH_SIZE,
    CONTACT_KEYS,
    CUSTOMER_KEYS,
    FK_COLUMNS,
    LISTED_DUPLICATES,
    VERIFIABLE,
    Cancelled,
    IdRanges,
    Planned,
    _matching,
    errors_path,
    job_dir,
)
from kehu.transfer.engine.dedup import DuplicateIndex, FileKeys, name_key_of, row_keys
from kehu.transfer.limits import Deadline, ImportLimits
from kehu.transfer.models import ImportJob, ImportRecord, JobStatus, OnDuplicate, empty_counts
from kehu.transfer.reading import FileProblem, open_sheet
from kehu.transfer.reports import SAMPLE_SIZE, Reservoir, build_verification

FIRST_ERRORS = 200


def _contact_data(row: RowResult) -> dict[str, Any] | None:
    values = row.values
    data = {target: values[key] for key, target in CONTACT_KEYS.items() if key in values}
    if not any(data.get(f) for f in ("mobile", "work_phone", "email", "name", "wechat")):
        return None
    if not data.get("name"):
        data["name"] = TO_VERIFY
    return data


def custom_values(values: dict[str, Any]) -> dict[str, Any]:
    """A row's custom-field values (keys ``custom.<key>``) as the record's ``custom``."""
    return {
        key.removeprefix("custom."): value
        for key, value in values.items()
        if key.startswith("custom.")
    }


class Importer:
    """Runs one ``ImportJob`` (dry run or real) and keeps its progress in the database."""

    name_pinyin = True  # rows name new customers, whose search keys need the name's pinyin

    def __init__(
        self,
        job: ImportJob,
        *,
        batch_size: int = BATCH_SIZE,
        progress: Callable[[ImportJob], None] | None = None,
    ) -> None:
        self.job = job
        self.actor: User = job.created_by
        self.batch_size = batch_size
        self.progress = progress
        self.cleaner = Cleaner(job.kind, actor=self.actor)
        self.dedup = DuplicateIndex(float(config.get("customers.duplicate_name_score")))
        self.counts: dict[str, int] = empty_counts()
        self.first_errors: list[dict[str, Any]] = []
        self.listed_duplicates: list[dict[str, Any]] = []
        self._saved_lengths: tuple[int, int] | None = None  # of those two lists, when saved
        self.filled: dict[str, int] = defaultdict(int)
        self.line_to_customer: dict[int, int] = {}  # rows written before a resume
        self.batch_customers: dict[int, int] = {}  # file line → customer created in this batch
        # file line → the existing customer its row updated (or merged into), in this batch
        self.batch_updated: dict[int, int] = {}
        self.own_customers = IdRanges()  # the customers this import created
        self.reason = _("Imported (import #%(job)d)") % {"job": job.pk}
        # the customer services' state for this import's batches, the owner rule included
        self.creation = customer_services.BulkCreation(self.actor)
        self._inserters: dict[str, RowInserter] = {"import_record": RowInserter(ImportRecord)}

    # --- entry point --------------------------------------------------------------------------
    def run(self) -> ImportJob:
        job = self.job
        limits = ImportLimits.current()
        # a dry run is a check phase: bounded in wall time, the reading included
        deadline = Deadline(limits.check_seconds) if job.dry_run else None
        sheet = open_sheet(job.file_path, encoding=job.encoding, limits=limits, deadline=deadline)
        sheet.deadline = deadline
        chosen = job.mapping or None
        mapping = mapping_module.resolve(job.kind, sheet.headers, chosen)
        indexes = mapping_module.column_indexes(job.kind, sheet.headers, mapping)
        owner_index = indexes.get("owner")
        self.owner_header = sheet.headers[owner_index] if owner_index is not None else ""
        resume_at = 0 if job.dry_run else job.next_row
        if resume_at:
            self.counts = {**empty_counts(), **job.counts}
            self.filled.update(job.report.get("source_filled", {}))
            self.line_to_customer = dict(
                ImportRecord.objects.filter(job=job).values_list("row_number", "object_id")
            )
            created = ImportRecord.objects.filter(job=job, created=True)
            self.own_customers.add(created.values_list("object_id", flat=True))
        job.mapping = mapping
        job.detected = {
            "format": sheet.format,
            "encoding": sheet.encoding,
            "delimiter": sheet.delimiter,
            "headers": sheet.headers,
        }
        job.total_rows = sheet.total_rows
        job.status = JobStatus.CHECKING if job.dry_run else JobStatus.IMPORTING
        job.started_at = job.started_at or timezone.now()
        job.heartbeat_at = timezone.now()
        job.message = ""
        job.save()
        self._prepare()
        self.decisions = {int(k): v for k, v in (job.row_decisions or {}).items()}
        # the verification sample, drawn as rows are created (a resumed import draws it from
        # its records at the end, as rows written before the resume are not seen here)
        self.sampled: Reservoir[tuple[int, int, list[Any]]] | None = (
            None if resume_at else Reservoir(SAMPLE_SIZE, random.Random(job.pk))
        )
        seen_rows = 0
        self._clean_in = indexes, sheet.headers
        self.cleaner.load_reference()  # the reading process cannot query the database
        # one batch has nothing to overlap with: read and clean it here
        parallel = sheet.total_rows > self.batch_size
        with (
            pipeline.cleaned_batches(
                sheet.rows, self._clean, self.batch_size, parallel=parallel
            ) as batches,
            errors_path(job).open("w", encoding="utf-8") as error_file,
            FileKeys(job_dir(job) / "keys.sqlite3") as self.file_keys,
        ):
            for batch, rows in batches:
                if deadline is not None:
                    deadline.check()
                seen_rows += len(rows)
                # Rows written before a resume are planned again (their keys and names are
                # earlier rows for the rest), neither counted nor written. A resumed import may
                # use another batch size, so one batch can hold both kinds.
                done = 0
                while done < len(rows) and rows[done].line < resume_at:
                    done += 1
                if done:
                    self._plan(rows[:done], count=False)
                if done < len(rows):
                    plans = self._plan(rows[done:], count=True)
                    if self._cancel_requested():
                        raise Cancelled
                    if job.dry_run:
                        self._save_progress(seen_rows, next_row=0)
                    else:
                        with transaction.atomic():
                            self._write(plans)
                            self._save_progress(seen_rows, next_row=rows[-1].line + 1)
                        self._offer_to_sample(batch)
                # after the write: rows a service refused while writing are errors too
                for row in rows:
                    if not row.ok:
                        error_file.write(
                            json.dumps({"line": row.line, "errors": row.errors}, ensure_ascii=False)
                            + "\n"
                        )
        if seen_rows == 0:
            raise FileProblem(_("The file has a header row but no data rows."), code="no_data")
        job.total_rows = seen_rows
        job.processed_rows = seen_rows
        job.status = JobStatus.CHECKED if job.dry_run else JobStatus.DONE
        job.finished_at = timezone.now()
        job.save()
        if not job.dry_run:
            sampled = self.sampled.items if self.sampled is not None else None
            job.report = {**job.report, **build_verification(job, sampled=sampled)}
            job.save(update_fields=["report"])
        return job

    def _offer_to_sample(self, batch: list[tuple[int, list[Any]]]) -> None:
        if self.sampled is None or not self.batch_customers:
            return
        cells_of = dict(batch)
        for line, customer_id in sorted(self.batch_customers.items()):
            self.sampled.offer((line, customer_id, cells_of[line]))

    def _prepare(self) -> None:
        """Reference data read once per import, before the first batch."""
        self.dedup.load_names()

    def _clean(self, line: int, cells: list[Any]) -> RowResult:
        """One row as the reading process cleans it: with what the importing process would
        compute from the row alone — the pinyin of the customer's name (the slowest part of
        its search keys), its company key, dedup keys and the new customer it would create —
        since that process, which writes, is the slower of the two."""
        indexes, headers = self._clean_in
        row = self.cleaner.clean_row(line, cells, indexes, headers)
        if self.name_pinyin and row.ok:
            name = row.values.get("name")
            if name:
                row.name_pinyin = pinyin_keys(fold(name))
                row.name_key = company_key(name)
            row.dedup_keys = row_keys(row)
            if not self.job.dry_run:
                row.new_customer = self._new_customer(row)
        return row

    def _cancel_requested(self) -> bool:
        return bool(
            ImportJob.objects.filter(pk=self.job.pk).values_list("cancel_requested", flat=True)[0]
        )

    def _save_progress(self, processed: int, *, next_row: int) -> None:
        job = self.job
        job.processed_rows = processed
        job.counts = dict(self.counts)
        job.errors = self.first_errors
        job.duplicates = self.listed_duplicates
        job.report = {**job.report, "source_filled": dict(self.filled)}
        job.heartbeat_at = timezone.now()
        fields = ["processed_rows", "counts", "report", "total_rows", "heartbeat_at"]
        # The first errors and listed duplicates stop growing at their caps, and the items
        # saved do not change after: once full, their JSON (up to 1,000 duplicates) need not
        # be written with every batch.
        lengths = (len(self.first_errors), len(self.listed_duplicates))
        if lengths != self._saved_lengths:
            fields += ["errors", "duplicates"]
            self._saved_lengths = lengths
        job.total_rows = max(job.total_rows, processed)
        if next_row:
            job.next_row = next_row
            fields.append("next_row")
        job.save(update_fields=fields)
        if self.progress is not None:
            self.progress(job)

    # --- classification -----------------------------------------------------------------------
    def _plan(self, rows: list[RowResult], *, count: bool) -> list[Planned]:
        valid = [row for row in rows if row.ok]
        db_matches = self._database_matches(valid)
        self.file_keys.start_batch(key for row in valid for key in row_keys(row))
        first_listed = len(self.listed_duplicates)
        plans: list[Planned] = []
        for row in rows:
            plan = Planned(row)
            if row.ok and row.values.get("owner") and not self._owner_allowed(plan):
                row.errors.append(
                    (
                        self.owner_header,
                        _("you may create customers only for yourself or your department."),
                    )
                )
            if not row.ok:
                plan.action = "invalid"
            else:
                self._classify(plan, db_matches)
                if plan.action == "new" and row.missing:
                    # the entry rules bind a new customer; a row that updates one adds to it
                    row.errors.extend(row.missing)
                    plan.action = "invalid"
            plans.append(plan)
            if count:
                self._count(plan)
        self.file_keys.end_batch()
        self._hide_out_of_scope(first_listed)
        return plans

    def _hide_out_of_scope(self, start: int) -> None:
        """Listed matches the user may not see show only that they exist (like the services'
        duplicate payload): no id, no name."""
        listed = self.listed_duplicates[start:]
        ids = {pk for item in listed for pk in item["existing"]}
        if not ids:
            return
        visible = set(
            Customer.objects.visible_to(self.actor).filter(pk__in=ids).values_list("pk", flat=True)
        )
        for item in listed:
            hidden = [pk for pk in item["existing"] if pk not in visible]
            item["existing"] = [pk for pk in item["existing"] if pk in visible]
            item["hidden"] = len(hidden)

    def _database_matches(self, rows: list[RowResult]) -> dict[str, set[int]]:
        """dedup key → existing customer ids, for one batch (a few IN queries)."""
        found: dict[str, set[int]] = defaultdict(set)
        phones: set[str] = set()
        emails: set[str] = set()
        codes: set[str] = set()
        for row in rows:
            for key in row_keys(row):
                kind, value = key.split(":", 1)
                {"p": phones, "e": emails, "c": codes}[kind].add(value)
        for column in ("mobile", "work_phone"):
            for customer_id, phone in _matching(Contact, "customer", column, phones):
                found[f"p:{phone}"].add(customer_id)
        for customer_id, email in _matching(Contact, "customer", "email", emails):
            found[f"e:{email.lower()}"].add(customer_id)
        for customer_id, code in _matching(Customer, "id", "credit_code", codes):
            found[f"c:{code}"].add(customer_id)
        # The customers this import created are earlier rows of the file, which FileKeys
        # matches: as database matches too, a row repeating one of an earlier batch would
        # update its customer, where one repeating a row of the same batch merges into it.
        own = self.own_customers
        return {key: {pk for pk in ids if pk not in own} for key, ids in found.items()}

    def _classify(self, plan: Planned, db_matches: dict[str, set[int]]) -> None:
        row = plan.row
        keys = row_keys(row)
        name_key = name_key_of(row)
        earlier: int | None = None
        existing: list[int] = []
        for key in keys:
            first = self.file_keys.first_line(key)
            if first is not None:
                earlier = earlier or first
                plan.reasons.append(key[0])
            existing.extend(db_matches.get(key, ()))
            if db_matches.get(key):
                plan.reasons.append(key[0])
        if name_key:
            for ref, _score in self.dedup.name_matches(name_key):
                if ref < 0:
                    earlier = earlier or -ref
                elif ref in self.own_customers:
                    continue  # loaded by a resumed import: the earlier row's line is known too
                else:
                    existing.append(ref)
                plan.reasons.append("n")
        for key in keys:
            self.file_keys.remember(key, row.line)
        is_duplicate = earlier is not None or bool(existing)
        if not is_duplicate:
            plan.action = "new"
            self.dedup.add_name(name_key, -row.line)
            return
        credit_taken = bool(row.values.get("credit_code")) and "c" in plan.reasons
        self._settle_duplicate(
            plan,
            earlier=earlier,
            existing=existing,
            name=row.values.get("name", ""),
            may_create=not credit_taken,
        )
        if plan.action == "new":
            self.dedup.add_name(name_key, -row.line)

    def _settle_duplicate(
        self,
        plan: Planned,
        *,
        earlier: int | None,
        existing: Iterable[int],
        name: str,
        may_create: bool = True,
        may_update: bool = True,
    ) -> None:
        """Apply the job's (or the row's) skip / update / create decision to a duplicate row
        and list it for the duplicate table; the same rule for every import kind."""
        matches = sorted(set(existing))
        decision = self.decisions.get(plan.row.line, self.job.on_duplicate)
        if decision == OnDuplicate.CREATE and may_create:
            plan.action = "new"
        elif decision == OnDuplicate.UPDATE and matches and may_update:
            plan.action = "update"
            plan.existing_id = matches[0]
        elif decision == OnDuplicate.UPDATE and earlier is not None and may_update:
            plan.action = "merge"
            plan.earlier_line = earlier
        else:
            plan.action = "duplicate"
        if len(self.listed_duplicates) < LISTED_DUPLICATES:
            self.listed_duplicates.append(
                {
                    "line": plan.row.line,
                    "name": name,
                    "earlier_line": earlier,
                    "existing": matches[:5],
                    "reasons": sorted(set(plan.reasons)),
                    "decision": decision,
                    "action": plan.action,
                }
            )

    def _count(self, plan: Planned) -> None:
        action = plan.action
        key = {"new": "new", "update": "update", "merge": "update"}.get(action, action)
        self.counts[key] = self.counts.get(key, 0) + 1
        if action == "invalid" and len(self.first_errors) < FIRST_ERRORS:
            for column, message in plan.row.errors:
                self.first_errors.append(
                    {"line": plan.row.line, "column": column, "message": message}
                )

    # --- writing ------------------------------------------------------------------------------
    def _customer_of_line(self, line: int) -> int | None:
        """The customer an earlier row of this file created or updated. Merges are rare, so a
        query each rather than a map of every row, which would grow with the file."""
        found = (
            self.batch_customers.get(line)
            or self.batch_updated.get(line)
            or self.line_to_customer.get(line)
        )
        if found is None:
            records = ImportRecord.objects.filter(job=self.job, row_number=line)
            found = records.values_list("object_id", flat=True).first()
        return found

    def _write(self, plans: list[Planned]) -> None:
        self.batch_customers, self.batch_updated = {}, {}
        new_rows = [plan for plan in plans if plan.action == "new"]
        created = self._create_customers(new_rows)
        records = [(plan.row.line, customer.pk, True) for plan, customer in created]
        for plan in plans:
            if plan.action == "update" and plan.existing_id is not None:
                if self._update_existing(plan):
                    records.append((plan.row.line, plan.existing_id, False))
                    self.batch_updated[plan.row.line] = plan.existing_id
            elif plan.action == "merge" and plan.earlier_line is not None:
                target = self._customer_of_line(plan.earlier_line)
                if target is not None and self._add_contact_to(target, plan):
                    records.append((plan.row.line, target, False))
                    self.batch_updated[plan.row.line] = target
        table = self._inserters["import_record"]
        job_id = self.job.pk
        table.insert(
            table.row({"job_id": job_id, "row_number": line, "object_id": pk, "created": new})
            for line, pk, new in records
        )

    def _owner_allowed(self, plan: Planned) -> bool:
        """customer_create's owner rule (``OwnerRule``): others only by managers (in their
        department) and administrators."""
        owner_id = plan.row.values.get("owner") or self.actor.pk
        return self.creation.owners.allows(int(owner_id))

    def _contact_for(self, plan: Planned) -> Contact | None:
        data = _contact_data(plan.row)
        return None if data is None else Contact(**data)

    def _create_customers(self, plans: list[Planned]) -> list[tuple[Planned, Customer]]:
        """The batch's new customers, through ``customers_create_bulk`` (a fixed number of
        statements per batch)."""
        if not plans:
            return []
        rows = [plan.row.new_customer or self._new_customer(plan.row) for plan in plans]
        customers = customer_services.customers_create_bulk(
            actor=self.actor, rows=rows, reason=self.reason, creation=self.creation
        )
        self.own_customers.add(customer.pk for customer in customers)
        for plan, customer in zip(plans, customers, strict=True):
            self.batch_customers[plan.row.line] = customer.pk
            for key in plan.row.filled:
                self.filled[key] += 1
        self.counts["created"] += len(customers)
        return list(zip(plans, customers, strict=True))

    @staticmethod
    def _new_customer(row: RowResult) -> customer_services.NewCustomer:
        """The row as a new customer; ``customers_create_bulk`` copies what it changes."""
        values = row.values
        data: dict[str, Any] = {
            FK_COLUMNS.get(key, key): values[key] for key in CUSTOMER_KEYS if key in values
        }
        data["to_verify"] = sorted(k for k in row.to_verify if k in VERIFIABLE)
        if values.get("status"):
            data["status"] = values["status"]
        custom = custom_values(values)
        if custom:  # cleaned cell by cell by the field's own rules (Cleaner._custom)
            data["custom"] = custom
        return customer_services.NewCustomer(
            values=data,
            owner_id=values.get("owner") or None,
            contact=_contact_data(row),
            tags=values.get("tags", []),
            pinyin=row.name_pinyin,
            name_key=row.name_key,
        )

    def _update_existing(self, plan: Planned) -> bool:
        """Update an existing customer through the customer services (scope, masking, history)."""
        values = plan.row.values
        if plan.existing_id is None:
            return False
        customer = Customer.objects.filter(pk=plan.existing_id).first()
        if customer is None:
            return False
        changes: dict[str, Any] = {}
        for key in CUSTOMER_KEYS:
            if key in values and key != "kind":
                changes[key] = values[key]
        if values.get("status"):
            changes["status"] = values["status"]
        custom = custom_values(values)
        if custom:  # only the columns the file has; the others keep their values
            changes["custom"] = custom
        try:
            with transaction.atomic():
                customer_services.customer_update(
                    actor=self.actor, customer=customer, changes=changes, force=True
                )
                if values.get("tags"):
                    customer_services.customer_add_tags(
                        actor=self.actor, customer=customer, tags=values["tags"]
                    )
                contact = self._contact_for(plan)
                if contact is not None:
                    self._add_contact(customer, contact)
        except NotFound:
            self._reject(plan, _("the existing customer is outside your scope; not updated."))
            return False
        except KehuError as error:
            self._reject(plan, error.detail)
            return False
        self.counts["updated"] += 1
        return True

    def _add_contact_to(self, customer_id: int, plan: Planned) -> bool:
        contact = self._contact_for(plan)
        customer = Customer.objects.filter(pk=customer_id).first()
        if contact is None or customer is None:
            return False
        try:
            with transaction.atomic():
                self._add_contact(customer, contact)
                if plan.row.values.get("tags"):
                    customer_services.customer_add_tags(
                        actor=self.actor, customer=customer, tags=plan.row.values["tags"]
                    )
        except NotFound:
            self._reject(plan, _("the existing customer is outside your scope; not updated."))
            return False
        except KehuError as error:
            self._reject(plan, error.detail)
            return False
        self.counts["updated"] += 1
        return True

    def _add_contact(self, customer: Customer, contact: Contact) -> None:
        known = Contact.objects.filter(customer=customer)
        same = [
            (contact.mobile and known.filter(mobile=contact.mobile).exists()),
            (contact.email and known.filter(email=contact.email).exists()),
            (contact.work_phone and known.filter(work_phone=contact.work_phone).exists()),
        ]
        if any(same):
            return
        data = {
            name: getattr(contact, name)
            for name in (
                "name",
                "title",
                "work_phone",
                "mobile",
                "email",
                "wechat",
                "is_decision_maker",
                "mobile_reason",
            )
        }
        customer_services.contact_create(actor=self.actor, customer=customer, data=data, force=True)

    def _reject(self, plan: Planned, message: str) -> None:
        self.counts["update"] -= 1
        self.counts["invalid"] += 1
        if len(self.first_errors) < FIRST_ERRORS:
            self.first_errors.append({"line": plan.row.line, "column": "", "message": message})
