"""Reads of the backups area: the runs of ``kehu backup`` and the daily job (admins only)."""

from __future__ import annotations

from pathlib import Path

from django.db.models import QuerySet

from kehu.accounts.models import User
from kehu.governance.models import BackupRun
from kehu.governance.services.backups import require_may_view


def backup_list(*, user: User) -> QuerySet[BackupRun]:
    """Every run, newest first (one query per page; ``actor`` joined)."""
    require_may_view(user)
    return BackupRun.objects.select_related("actor").order_by("-finished_at", "-pk")


def archive_present(run: BackupRun) -> bool:
    """Whether the run's archive is still on disk (a file check, no query)."""
    return bool(run.ok and run.pruned_at is None and Path(run.path).is_file())
