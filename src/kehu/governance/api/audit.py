"""The governance API: the audit trail (administrators; docs/security.md, "Audit trail")."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from django.http import FileResponse
from ninja import Query, Router, Schema

from kehu.accounts.http import AuthedRequest
from kehu.core.numbers import MAX_INT
from kehu.core.pagination import API_MAX_LIMIT, BoundedPageOut, page_of
from kehu.governance.selectors import audit as selectors
from kehu.governance.services import audit as services

router = Router(tags=["governance"])


class AuditEntryOut(Schema):
    seq: int
    at: datetime
    actor_id: int | None
    actor_name: str
    action: str
    target_type: str
    target_id: str
    details: dict[str, Any]
    ip: str
    request_id: str
    prev_hash: str
    hash: str


class AuditPage(BoundedPageOut):
    items: list[AuditEntryOut]


@router.get("/audit", response=AuditPage, summary="The audit trail, newest first")
def list_audit(
    request: AuthedRequest,
    filters: Query[selectors.AuditFilters],
    limit: int = Query(100, ge=1, le=API_MAX_LIMIT),
    offset: int = Query(0, ge=0, le=MAX_INT),
) -> dict[str, Any]:
    """Search by actor (username or id), action (name or prefix), target and local days;
    administrators only (403 otherwise)."""
    entries = selectors.audit_list(user=request.user, filters=filters)
    return page_of(entries, offset=offset, limit=limit)


@router.get("/audit/export", summary="Export the audit trail (CSV or XLSX); itself audited")
def export_audit(
    request: AuthedRequest,
    filters: Query[selectors.AuditFilters],
    format: Literal["csv", "xlsx"] = "csv",
) -> FileResponse:
    export = services.audit_export(actor=request.user, filters=filters, file_format=format)
    return FileResponse(
        export.file, as_attachment=True, filename=export.filename, content_type=export.content_type
    )
