"""A database busy past its timeout answers 503 with ``Retry-After``, never 500.

SQLite has one writer at a time: a write waits for the lock up to the connection's timeout
(``settings.py``: 20 s; ``BEGIN IMMEDIATE`` takes it up front, so no transaction fails
midway on a lock upgrade), then fails with ``OperationalError: database is locked``. That is
load, not a fault: the API answers 503 (``core.api.install_busy_handler``), the pages the
503 page (``core.views.server_error``), both with ``Retry-After`` so a client retries.
"""

from __future__ import annotations

from django.db import OperationalError

RETRY_AFTER_SECONDS = 2
_BUSY_MESSAGES = ("database is locked", "database table is locked")


def is_database_busy(error: BaseException | None) -> bool:
    """Whether ``error`` is SQLite's "database is locked" (its busy timeout ran out)."""
    return isinstance(error, OperationalError) and any(
        message in str(error) for message in _BUSY_MESSAGES
    )
