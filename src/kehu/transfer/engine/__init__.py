"""The import pipeline: read → map → clean → dedup → decide → write in batches.

One pipeline serves the dry run and the real import, so the dry run's counts are what the
import does. Rows are processed in batches of ``BATCH_SIZE``; in a real import each batch is
written in one transaction together with the job's resume point (``next_row``) and counts, so
a crash, a kill or a cancel leaves whole batches only, and ``resume`` continues after them.

New customers go through ``kehu.customers.services.customers_create_bulk``, the bulk door of
``customer_create``'s rules (owner rule, numbering, search keys, grading, history, status event,
the follow-up planning hook) with a fixed number of statements per batch; the import supplies
cleaned rows and its own dedup across the file. Updates of existing customers and contacts
added to them go through the customer services row by row.

The package splits the engine by concern: ``common`` (batch size, column sets, a planned row,
job files), ``dedup`` (name index, the file's earlier keys), ``importer`` (planning and writing
of customers; ``records`` subclasses it for the other kinds) and ``running`` (the importer per
kind, connection and collector settings, ``run_job``).
"""

from kehu.transfer.engine.common import (
    BATCH_SIZE,
    CONTACT_KEYS,
    CUSTOMER_KEYS,
    FK_COLUMNS,
    LISTED_DUPLICATES,
    NAME_CANDIDATES,
    NAME_PREFIX,
    VERIFIABLE,
    Cancelled,
    IdRanges,
    Planned,
    errors_path,
    job_dir,
)
from kehu.transfer.engine.dedup import DuplicateIndex, FileKeys, row_keys
from kehu.transfer.engine.importer import FIRST_ERRORS, Importer
from kehu.transfer.engine.running import (
    IMPORT_PAGE_CACHE_KIB,
    IMPORT_WAL_CHECKPOINT_PAGES,
    IMPORT_YOUNG_OBJECTS,
    IMPORTERS,
    import_connection,
    import_garbage_collection,
    importer_class,
    run_job,
)

__all__ = [
    "BATCH_SIZE",
    "CONTACT_KEYS",
    "CUSTOMER_KEYS",
    "FIRST_ERRORS",
    "FK_COLUMNS",
    "IMPORTERS",
    "IMPORT_PAGE_CACHE_KIB",
    "IMPORT_WAL_CHECKPOINT_PAGES",
    "IMPORT_YOUNG_OBJECTS",
    "LISTED_DUPLICATES",
    "NAME_CANDIDATES",
    "NAME_PREFIX",
    "VERIFIABLE",
    "Cancelled",
    "DuplicateIndex",
    "FileKeys",
    "IdRanges",
    "Importer",
    "Planned",
    "errors_path",
    "import_connection",
    "import_garbage_collection",
    "importer_class",
    "job_dir",
    "row_keys",
    "run_job",
]
