"""Test helpers for the audit trail: play the tamperer who owns the database."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from django.db import connection

from kehu.core import audit_guard
from kehu.core.models import AuditEntry


@contextmanager
def tampering() -> Iterator[None]:
    """Drop the append-only triggers for the block (someone with the database's owner rights),
    and put them back after it."""
    audit_guard.remove(connection)
    try:
        yield
    finally:
        audit_guard.install(connection)


def actions() -> list[str]:
    """The recorded actions, oldest first."""
    return list(AuditEntry.objects.order_by("seq").values_list("action", flat=True))


def last(action: str) -> AuditEntry:
    """The newest entry of ``action`` (fails the test when there is none)."""
    entry = AuditEntry.objects.filter(action=action).order_by("-seq").first()
    assert entry is not None, f"no audit entry {action!r}; recorded: {actions()}"
    return entry
