"""Writes of the transfer app: import jobs (create, start, decide, cancel, resume) and mappings.

The rows themselves are written by ``kehu.transfer.engine`` (customers),
``kehu.transfer.records`` (leads, opportunities, follow-ups) and
``kehu.transfer.ticket_records`` (service tickets), through their apps' services; these
functions manage the jobs around them. Import rights come from the ``transfer.import_roles``
setting; a job belongs to whoever created it (administrators see every job).
"""

from __future__ import annotations

import shutil
import uuid
from pathlib import Path
from typing import Any

from django.conf import settings
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from kehu.core.access import is_admin
from kehu.core.errors import Conflict, InvalidInput
from kehu.transfer import mapping as mapping_module
from kehu.transfer.exporting import require_import
from kehu.transfer.limits import ImportLimits, LimitExceeded, size_text
from kehu.transfer.models import (
    RUNNING_STATUSES,
    ImportJob,
    ImportKind,
    ImportMapping,
    JobStatus,
    OnDuplicate,
)
from kehu.transfer.reading import normalise_encoding, open_sheet
from kehu.transfer.tasks import run_import


def upload_dir() -> Path:
    path = Path(settings.MEDIA_ROOT) / "transfer" / "uploads" / uuid.uuid4().hex
    path.mkdir(parents=True, exist_ok=True)
    return path


def _safe_name(name: str) -> str:
    base = Path(name or "upload").name.replace("\x00", "")
    return base[-120:] or "upload"


def store_upload(*, name: str, chunks: Any) -> Path:
    """Copy an uploaded file (an iterable of byte chunks) under MEDIA_ROOT/transfer/uploads;
    one over the import size limit is refused and removed as soon as it passes the limit."""
    limits = ImportLimits.current()
    target = upload_dir() / _safe_name(name)
    size = 0
    with target.open("wb") as handle:
        for chunk in chunks:
            size += len(chunk)
            if size > limits.max_bytes:
                handle.close()
                shutil.rmtree(target.parent, ignore_errors=True)
                raise LimitExceeded(
                    _(
                        "The file is larger than %(limit)s, the import size limit "
                        "(setting KEHU_IMPORT_MAX_MB)."
                    )
                    % {"limit": size_text(limits.max_bytes)},
                    code="file_too_large",
                )
            handle.write(chunk)
    return target


def _check_options(kind: str, on_duplicate: str) -> None:
    if kind not in ImportKind.values:
        raise InvalidInput(
            _("Unknown import kind %(kind)s; use %(kinds)s.")
            % {"kind": kind[:30], "kinds": ", ".join(ImportKind.values)},
            errors={"kind": [_("Unknown import kind.")]},
        )
    if on_duplicate not in OnDuplicate.values:
        raise InvalidInput(
            _("Duplicates are skip, update or create."),
            errors={"on_duplicate": [_("Choose skip, update or create.")]},
        )
    if kind == ImportKind.FOLLOWUPS and on_duplicate == OnDuplicate.UPDATE:
        raise InvalidInput(
            _("Follow-ups are not edited once logged; duplicates are skipped or created."),
            errors={"on_duplicate": [_("Choose skip or create.")]},
        )


def import_job_create(
    *,
    actor: Any,
    kind: str,
    path: Path,
    original_name: str = "",
    encoding: str = "",
    mapping: dict[str, str] | None = None,
    on_duplicate: str = OnDuplicate.SKIP,
) -> ImportJob:
    """Register a file for import; the file is opened and its header checked right away."""
    require_import(actor)
    _check_options(kind, on_duplicate)
    encoding = normalise_encoding(encoding)
    sheet = open_sheet(path, encoding=encoding)
    chosen = mapping_module.resolve(kind, sheet.headers, mapping)
    mapping_module.column_indexes(kind, sheet.headers, chosen)
    return ImportJob.objects.create(
        kind=kind,
        file_path=str(Path(path).resolve()),
        original_name=original_name or Path(path).name,
        encoding=encoding,
        mapping=chosen,
        on_duplicate=on_duplicate,
        created_by=actor,
        total_rows=sheet.total_rows,
        detected={
            "format": sheet.format,
            "encoding": sheet.encoding,
            "delimiter": sheet.delimiter,
            "headers": sheet.headers,
        },
    )


def _locked(job: ImportJob) -> ImportJob:
    return ImportJob.objects.select_for_update().get(pk=job.pk)


@transaction.atomic
def import_job_configure(
    *,
    actor: Any,
    job: ImportJob,
    mapping: dict[str, str] | None = None,
    on_duplicate: str | None = None,
    encoding: str | None = None,
    row_decisions: dict[str, str] | None = None,
) -> ImportJob:
    """Change the mapping, encoding or duplicate decisions before the import runs."""
    locked = _locked(job)
    if locked.is_running or locked.status == JobStatus.DONE or locked.next_row:
        raise Conflict(_("This import has started; its options cannot change any more."))
    if encoding is not None:
        locked.encoding = normalise_encoding(encoding)
    sheet = open_sheet(locked.file_path, encoding=locked.encoding)
    if mapping is not None:
        resolved = mapping_module.resolve(locked.kind, sheet.headers, mapping)
        mapping_module.column_indexes(locked.kind, sheet.headers, resolved)
        locked.mapping = resolved
    if on_duplicate is not None:
        _check_options(locked.kind, on_duplicate)
        locked.on_duplicate = on_duplicate
    if row_decisions is not None:
        clean: dict[str, str] = {}
        for line, decision in row_decisions.items():
            if not str(line).isdigit() or decision not in OnDuplicate.values:
                raise InvalidInput(
                    _("Row decisions map a line number to skip, update or create."),
                    errors={str(line): [_("Choose skip, update or create.")]},
                )
            _check_options(locked.kind, decision)
            clean[str(int(line))] = decision
        locked.row_decisions = {**locked.row_decisions, **clean}
    locked.status = JobStatus.UPLOADED
    locked.save()
    return locked


def import_job_start(*, actor: Any, job: ImportJob, dry_run: bool) -> ImportJob:
    """Queue a dry run or the import itself (a Huey job); progress is kept on the job.

    The job is marked running in its own transaction first, so two starts cannot both pass
    and the worker always finds the job's new state."""
    with transaction.atomic():
        locked = _locked(job)
        if locked.is_running and not locked.is_stale:
            raise Conflict(_("This import is already running."))
        if locked.status == JobStatus.DONE:
            raise Conflict(_("This import is finished."))
        locked.dry_run = dry_run
        locked.cancel_requested = False
        locked.status = JobStatus.CHECKING if dry_run else JobStatus.IMPORTING
        locked.processed_rows = 0
        locked.save()

    run_import(locked.pk)
    return locked


@transaction.atomic
def import_job_cancel(*, actor: Any, job: ImportJob) -> ImportJob:
    """Ask a running import to stop after its current batch (whole batches stay, resumable)."""
    locked = _locked(job)
    if not locked.is_running:
        raise Conflict(_("Only a running import can be cancelled."))
    if locked.is_stale:
        # Its process is gone: nobody will see the flag, so record the end here. The
        # committed batches and next_row stay, and the import can be resumed.
        locked.status = JobStatus.CANCELLED
        locked.finished_at = timezone.now()
        locked.message = _("Stopped: the import process ended without finishing.")
        locked.save()
        return locked
    locked.cancel_requested = True
    locked.save(update_fields=["cancel_requested"])
    return locked


@transaction.atomic
def mapping_save(*, actor: Any, name: str, kind: str, columns: dict[str, str]) -> ImportMapping:
    """Save (or replace) a named column mapping."""
    require_import(actor)
    name = (name or "").strip()
    if not name or len(name) > 100:
        raise InvalidInput(
            _("Give the mapping a name of at most 100 characters."),
            errors={"name": [_("Give the mapping a name of at most 100 characters.")]},
        )
    _check_options(kind, OnDuplicate.SKIP)
    columns = mapping_module.validate_mapping(kind, columns)
    existing = ImportMapping.objects.filter(name=name).first()
    if existing and existing.created_by_id != actor.pk and not is_admin(actor):
        raise Conflict(_("Another user's mapping has this name; choose another name."))
    saved, _created = ImportMapping.objects.update_or_create(
        name=name, defaults={"kind": kind, "columns": columns, "created_by": actor}
    )
    return saved


def is_running_status(status: str) -> bool:
    return status in RUNNING_STATUSES
