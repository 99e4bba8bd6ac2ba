"""Running an import job: the importer per kind, the connection and collector settings."""

from __future__ import annotations

import contextlib
import gc
import logging
from collections.abc import Callable, Iterator

from django.db import connection
from django.utils import timezone
from django.utils.module_loading import import_string
from django.utils.translation import gettext as _

from kehu.core.errors import KehuError
from kehu.transfer.engine.common import BATCH_SIZE, Cancelled
from kehu.transfer.engine.importer import Importer
from kehu.transfer.models import ImportJob, JobStatus

logger = logging.getLogger(__name__)

# SQLite page cache of an import's connection, KiB: the settings' 64 MB made a 1,000,000-row
# import peak at 309 MB; with 16 MB a 100,000-row import ran as fast (54.5 s against 55.6 s)
IMPORT_PAGE_CACHE_KIB = 16384
IMPORT_WAL_CHECKPOINT_PAGES = 16384  # 64 MB of 4 KiB pages; see import_connection
IMPORT_YOUNG_OBJECTS = 50_000  # see import_garbage_collection


# Import kind → its importer: the same pipeline (read, map, clean, batches, resume point,
# progress, cancel), each kind with its own dedup (``_plan``) and writes (``_write``).
IMPORTERS: dict[str, str] = {
    "customers": "kehu.transfer.engine.Importer",
    "contacts": "kehu.transfer.records.ContactImporter",
    "leads": "kehu.transfer.records.LeadImporter",
    "opportunities": "kehu.transfer.records.OpportunityImporter",
    "followups": "kehu.transfer.records.FollowUpImporter",
    "tickets": "kehu.transfer.ticket_records.TicketImporter",
}


def importer_class(kind: str) -> type[Importer]:
    cls: type[Importer] = import_string(IMPORTERS[kind])
    return cls


@contextlib.contextmanager
def import_connection() -> Iterator[None]:
    """SQLite: the connection's settings for an import, put back afterwards (a worker process
    keeps its connection for the next tasks).

    - A bounded page cache (``IMPORT_PAGE_CACHE_KIB``).
    - Checkpoints of the write-ahead log every ``IMPORT_WAL_CHECKPOINT_PAGES`` instead of
      SQLite's 1,000 pages (4 MB). A batch of 1,000 rows writes about 1.6 MB, so each
      second or third commit copied the log into the database and synced the file twice;
      100,000 rows took 24.6 s with those checkpoints, 23.2 s without. The log now grows to
      64 MB at most.
    """
    if connection.vendor != "sqlite":
        yield
        return
    settings = {
        "cache_size": -IMPORT_PAGE_CACHE_KIB,
        "wal_autocheckpoint": IMPORT_WAL_CHECKPOINT_PAGES,
    }
    before: dict[str, int] = {}
    with connection.cursor() as cursor:
        for name, value in settings.items():
            cursor.execute(f"PRAGMA {name}")
            before[name] = int(cursor.fetchone()[0])
            cursor.execute(f"PRAGMA {name} = {value}")
    try:
        yield
    finally:
        with connection.cursor() as cursor:
            for name, value in before.items():
                cursor.execute(f"PRAGMA {name} = {value}")


@contextlib.contextmanager
def import_garbage_collection() -> Iterator[None]:
    """Fewer garbage collections while an import runs; the collector is put back after.

    - The objects that exist before the import (Django, the app, caches) are frozen out of
      full collections, which walk every tracked object: a 100,000-row import made 36 of
      them, ~100 ms each (3.5 s of its 23 s).
    - A young collection every ``IMPORT_YOUNG_OBJECTS`` new objects instead of 700, and
      older generations as rarely. An import's batches are lists of rows, values and
      instances that live until the batch is written; with the usual thresholds the importing
      process still spent 0.89 s of 18.6 s (4,442 collections) per 100,000 rows walking them,
      and now makes one. Garbage without reference cycles is freed at once either way; a
      batch's few cycles wait for the next collection.
    """
    gc.freeze()
    before = gc.get_threshold()
    gc.set_threshold(IMPORT_YOUNG_OBJECTS, 20, 100)
    try:
        yield
    finally:
        gc.set_threshold(*before)
        gc.unfreeze()


def run_job(
    job: ImportJob,
    *,
    batch_size: int = BATCH_SIZE,
    progress: Callable[[ImportJob], None] | None = None,
) -> ImportJob:
    """Run a job to its end; failures and cancellations are recorded on the job."""
    importer = importer_class(job.kind)(job, batch_size=batch_size, progress=progress)
    try:
        with import_connection(), import_garbage_collection():
            return importer.run()
    except Cancelled:
        job.refresh_from_db()
        job.status = JobStatus.CANCELLED
        job.finished_at = timezone.now()
        job.message = (
            _("Cancelled; the rows before line %(line)d are imported (whole batches).")
            % {"line": job.next_row}
            if job.next_row
            else _("Cancelled before anything was written.")
        )
        job.save()
        return job
    except KehuError as error:
        job.status = JobStatus.FAILED
        job.message = error.detail
        job.finished_at = timezone.now()
        job.save()
        return job
    except Exception:
        logger.exception("import %s failed", job.pk)
        job.status = JobStatus.FAILED
        job.message = _("The import stopped on an internal error; see the server log.")
        job.finished_at = timezone.now()
        job.save()
        return job
