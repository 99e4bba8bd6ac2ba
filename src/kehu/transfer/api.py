"""/api/v1/imports and /api/v1/exports."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any, Literal

from django.http import FileResponse, HttpResponse, StreamingHttpResponse
from django.http.response import HttpResponseBase
from django.utils.translation import gettext as _
from ninja import File, Form, Query, Router, Schema, Status
from ninja.files import UploadedFile
from ninja.pagination import paginate
from pydantic import ValidationError

from kehu.accounts.http import AuthedRequest
from kehu.core.errors import InvalidInput
from kehu.customers.selectors import CustomerFilters
from kehu.transfer import blank, selectors, services
from kehu.transfer.exporting import Export, require_export, require_import, spool
from kehu.transfer.mapping import auto_map
from kehu.transfer.models import ImportJob, ImportKind
from kehu.transfer.reports import write_error_report
from kehu.transfer.specs import fields_for

router = Router(tags=["imports"])

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


class ImportOut(Schema):
    id: int
    kind: str
    original_name: str
    status: str
    dry_run: bool
    encoding: str
    on_duplicate: str
    mapping: dict[str, str]
    row_decisions: dict[str, str]
    total_rows: int
    processed_rows: int
    percent: int
    next_row: int
    counts: dict[str, int]
    errors: list[dict[str, Any]]
    duplicates: list[dict[str, Any]]
    report: dict[str, Any]
    detected: dict[str, Any]
    message: str
    created_by_id: int
    created_at: datetime
    finished_at: datetime | None


class ImportListOut(Schema):
    id: int
    kind: str
    original_name: str
    status: str
    dry_run: bool
    total_rows: int
    processed_rows: int
    counts: dict[str, int]
    created_by_id: int
    created_at: datetime


class ImportPatch(Schema):
    mapping: dict[str, str] | None = None
    on_duplicate: Literal["skip", "update", "create"] | None = None
    encoding: str | None = None
    row_decisions: dict[str, Literal["skip", "update", "create"]] | None = None


class RunIn(Schema):
    dry_run: bool = False


class MappingIn(Schema):
    name: str
    kind: Literal["customers", "contacts", "leads", "opportunities", "followups", "tickets"] = (
        "customers"
    )
    columns: dict[str, str]


class MappingOut(Schema):
    id: int
    name: str
    kind: str
    columns: dict[str, str]


class FieldOut(Schema):
    key: str
    header: str
    zh: str
    en: str
    type: str
    required: bool


class ExportLogOut(Schema):
    id: int
    user_id: int | None
    kind: str
    file_format: str
    filters: dict[str, Any]
    row_count: int
    channel: str
    started_at: datetime
    finished_at: datetime | None


def _parse_mapping(text: str) -> dict[str, str] | None:
    if not text.strip():
        return None
    try:
        data = json.loads(text)
    except json.JSONDecodeError as error:
        raise InvalidInput(
            _("The mapping is not valid JSON."), errors={"mapping": [str(error)]}
        ) from error
    if not isinstance(data, dict):
        raise InvalidInput(errors={"mapping": [_("A mapping is an object.")]})
    return {str(k): str(v or "") for k, v in data.items()}


@router.get("/imports", response=list[ImportListOut], summary="Imports you started")
@paginate
def list_imports(request: AuthedRequest) -> Any:
    return selectors.import_job_list(user=request.user)


@router.post("/imports", response={201: ImportOut}, summary="Upload a file and check it")
def create_import(
    request: AuthedRequest,
    file: UploadedFile = File(...),  # noqa: B008
    kind: str = Form(
        "customers",
        description="customers, contacts, leads, opportunities, followups or tickets",
    ),
    encoding: str = Form(""),
    mapping: str = Form(""),
    on_duplicate: str = Form("skip"),
    dry_run: bool = Form(True),
) -> Status:
    """Upload an XLSX or CSV; a dry run starts at once (``dry_run=false`` imports directly).

    Poll ``GET /imports/{id}`` for progress and the counts."""
    require_import(request.user)
    path = services.store_upload(name=file.name or "upload", chunks=file.chunks())
    job = services.import_job_create(
        actor=request.user,
        kind=kind,
        path=path,
        original_name=file.name or path.name,
        encoding=encoding,
        mapping=_parse_mapping(mapping),
        on_duplicate=on_duplicate,
    )
    job = services.import_job_start(actor=request.user, job=job, dry_run=dry_run)
    job.refresh_from_db()
    return Status(201, job)


@router.get("/imports/fields/{kind}", response=list[FieldOut], summary="Importable fields")
def import_fields(request: AuthedRequest, kind: str) -> list[dict[str, Any]]:
    if kind not in ImportKind.values:
        raise InvalidInput(_("Unknown import kind."), errors={"kind": [kind[:30]]})
    return [
        {
            "key": s.key,
            "header": s.header,
            "zh": s.zh,
            "en": s.en,
            "type": s.type,
            "required": s.required,
        }
        for s in fields_for(kind)
    ]


@router.get("/imports/templates/{kind}.xlsx", summary="Download an import template")
def import_template(request: AuthedRequest, kind: str) -> HttpResponse:
    if kind not in ImportKind.values:
        raise InvalidInput(_("Unknown import kind."), errors={"kind": [kind[:30]]})
    response = HttpResponse(content_type=XLSX)
    response["Content-Disposition"] = f'attachment; filename="kehu-{kind}-template.xlsx"'
    blank.write_template(kind, response)
    return response


@router.get("/imports/mappings", response=list[MappingOut], summary="Saved column mappings")
def list_mappings(request: AuthedRequest, kind: str = "") -> Any:
    return list(selectors.mapping_list(kind=kind))


@router.post("/imports/mappings", response={201: MappingOut}, summary="Save a column mapping")
def save_mapping(request: AuthedRequest, payload: MappingIn) -> Status:
    saved = services.mapping_save(
        actor=request.user, name=payload.name, kind=payload.kind, columns=payload.columns
    )
    return Status(201, saved)


@router.get("/imports/{job_id}", response=ImportOut, summary="An import's progress and outcome")
def get_import(request: AuthedRequest, job_id: int) -> ImportJob:
    return selectors.import_job_get(user=request.user, job_id=job_id)


@router.patch("/imports/{job_id}", response=ImportOut, summary="Change mapping or decisions")
def patch_import(request: AuthedRequest, job_id: int, payload: ImportPatch) -> ImportJob:
    job = selectors.import_job_get(user=request.user, job_id=job_id)
    return services.import_job_configure(
        actor=request.user,
        job=job,
        mapping=payload.mapping,
        on_duplicate=payload.on_duplicate,
        encoding=payload.encoding,
        row_decisions=dict(payload.row_decisions) if payload.row_decisions else None,
    )


@router.post("/imports/{job_id}/run", response=ImportOut, summary="Run the dry run or import")
def run_import(request: AuthedRequest, job_id: int, payload: RunIn) -> ImportJob:
    job = selectors.import_job_get(user=request.user, job_id=job_id)
    job = services.import_job_start(actor=request.user, job=job, dry_run=payload.dry_run)
    job.refresh_from_db()
    return job


@router.post("/imports/{job_id}/cancel", response=ImportOut, summary="Cancel a running import")
def cancel_import(request: AuthedRequest, job_id: int) -> ImportJob:
    job = selectors.import_job_get(user=request.user, job_id=job_id)
    return services.import_job_cancel(actor=request.user, job=job)


@router.get("/imports/{job_id}/errors.xlsx", summary="Rows with errors, as XLSX")
def import_errors(request: AuthedRequest, job_id: int) -> FileResponse:
    job = selectors.import_job_get(user=request.user, job_id=job_id)
    handle = spool()
    write_error_report(job, handle)
    handle.seek(0)
    return FileResponse(
        handle, as_attachment=True, filename=f"kehu-import-{job.pk}-errors.xlsx", content_type=XLSX
    )


@router.get("/imports/{job_id}/columns", summary="The file's columns and their fields")
def import_columns(request: AuthedRequest, job_id: int) -> dict[str, Any]:
    job = selectors.import_job_get(user=request.user, job_id=job_id)
    headers = list(job.detected.get("headers", []))
    return {"headers": headers, "mapping": job.mapping, "automatic": auto_map(job.kind, headers)}


@router.get("/exports", response=list[ExportLogOut], summary="The export audit log")
@paginate
def list_exports(request: AuthedRequest) -> Any:
    require_export(request.user)
    return selectors.export_log_list(user=request.user)


def export_response(
    request: AuthedRequest, *, kind: str, file_format: str, filters: CustomerFilters, channel: str
) -> HttpResponseBase:
    """Streamed CSV or XLSX (openpyxl write-only into a temporary file) of one export."""
    export = Export(user=request.user, kind=kind, filters=filters, channel=channel)
    if file_format == "xlsx":
        handle = spool()
        export.write_xlsx(handle)
        handle.seek(0)
        return FileResponse(
            handle, as_attachment=True, filename=export.filename("xlsx"), content_type=XLSX
        )
    response = StreamingHttpResponse(export.csv_chunks(), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{export.filename("csv")}"'
    return response


@router.get(
    "/exports/{kind}", summary="Export customers, contacts, leads, opportunities or follow-ups"
)
def export(
    request: AuthedRequest,
    kind: Literal["customers", "contacts", "leads", "opportunities", "followups"],
    format: Literal["csv", "xlsx"] = "csv",
    filters: Query[CustomerFilters] = None,  # type: ignore[assignment]
) -> HttpResponseBase:
    require_export(request.user)
    try:
        chosen = filters or CustomerFilters()
    except ValidationError as error:  # pragma: no cover - Ninja validates query parameters
        raise InvalidInput(str(error)) from error
    return export_response(request, kind=kind, file_format=format, filters=chosen, channel="api")
