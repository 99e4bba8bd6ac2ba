"""The governance API: backups (administrators; docs/operations.md, "Backups and restore")."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any

from ninja import Query, Router, Schema

from kehu.accounts.http import AuthedRequest
from kehu.core.numbers import MAX_INT
from kehu.core.pagination import API_MAX_LIMIT, BoundedPageOut, page_of
from kehu.governance.models import BackupRun
from kehu.governance.selectors import backups as selectors

router = Router(tags=["governance"])


class BackupOut(Schema):
    id: int
    kind: str
    archive: str
    path: str
    size: int | None
    sha256: str
    ok: bool
    error: str
    started_at: datetime
    finished_at: datetime
    pruned_at: datetime | None
    present: bool
    actor_id: int | None

    @staticmethod
    def resolve_archive(obj: BackupRun) -> str:
        return Path(obj.path).name

    @staticmethod
    def resolve_present(obj: BackupRun) -> bool:
        return selectors.archive_present(obj)


class BackupPage(BoundedPageOut):
    items: list[BackupOut]


@router.get("/backups", response=BackupPage, summary="Backups written, newest first")
def list_backups(
    request: AuthedRequest,
    limit: int = Query(50, ge=1, le=API_MAX_LIMIT),
    offset: int = Query(0, ge=0, le=MAX_INT),
) -> dict[str, Any]:
    return page_of(selectors.backup_list(user=request.user), offset=offset, limit=limit)
