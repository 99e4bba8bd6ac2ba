"""/api/v1/segments: saved conditions (or static lists) over customers, contacts and leads.

A condition on an unknown field, with an unknown operator or a value of the wrong type is 422,
``errors`` keyed by the path of the bad part (``conditions.conditions[0].field``). Counts and
previews read through the access gate: they count what the caller sees. A segment outside the
caller's scope is 404; sales reps and service have none (403 on create).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.utils.translation import gettext as _
from ninja import File, Query, Router, Schema, Status
from ninja.files import UploadedFile
from pydantic import Field

from kehu.accounts.http import AuthedRequest
from kehu.campaigns.models import Segment, SegmentKind
from kehu.campaigns.selectors import segments as selectors
from kehu.campaigns.services import segments as services
from kehu.core.errors import InvalidInput, NotFound
from kehu.core.numbers import MAX_INT, Id
from kehu.core.pagination import API_MAX_LIMIT, BoundedPageOut, page_of

router = Router(tags=["segments"])


class SegmentOut(Schema):
    id: int
    name: str
    description: str
    target: str
    kind: str
    conditions: dict[str, Any]
    owner_id: int
    department_id: int | None
    last_count: int | None
    counted_at: datetime | None
    version: int
    created_at: datetime
    updated_at: datetime


class SegmentPage(BoundedPageOut):
    items: list[SegmentOut]


class SegmentIn(Schema):
    name: str = Field(..., max_length=100)
    description: str = Field("", max_length=500)
    target: str = "customers"
    kind: str = "dynamic"
    conditions: dict[str, Any] = Field(default_factory=dict)
    department_id: Id | None = None


class SegmentPatch(Schema):
    version: int | None = None
    name: str | None = Field(None, max_length=100)
    description: str | None = Field(None, max_length=500)
    conditions: dict[str, Any] | None = None
    department_id: Id | None = None


class SegmentCountIn(Schema):
    target: str = "customers"
    conditions: dict[str, Any] = Field(default_factory=dict)


class SegmentCountOut(Schema):
    count: int


class SegmentPreviewRow(Schema):
    id: int
    kind: str
    name: str
    detail: str
    status: str
    owner: str
    region: str
    industry: str
    last_contact_at: datetime | None
    mobile: str
    email: str
    masked: bool


class SegmentPreviewOut(Schema):
    count: int
    items: list[SegmentPreviewRow]


class SegmentEntriesIn(Schema):
    ids: list[Id] = Field(..., max_length=services.MAX_ENTRIES_PER_CALL)


class SegmentEntriesOut(Schema):
    added: int
    already: int
    not_found: int


class SegmentEntriesRemoved(Schema):
    removed: int


class SegmentEntryOut(Schema):
    id: int
    kind: str
    name: str
    detail: str


class SegmentEntryPage(BoundedPageOut):
    items: list[SegmentEntryOut]


class SegmentImportError(Schema):
    row: int
    value: str
    error: str


class SegmentImportOut(Schema):
    added: int
    already: int
    errors: list[SegmentImportError]


class SegmentFieldOp(Schema):
    op: str
    label: str


class SegmentFieldOut(Schema):
    name: str
    label: str
    kind: str
    group: str
    ops: list[SegmentFieldOp]
    choices: list[tuple[str, str]]


def _segment(request: AuthedRequest, segment_id: int) -> Segment:
    segment = selectors.segment_get(user=request.user, segment_id=segment_id)
    if segment is None:
        raise NotFound("segment")
    return segment


@router.get("/segments", response=SegmentPage)
def segment_list(
    request: AuthedRequest,
    limit: int = Query(50, ge=1, le=API_MAX_LIMIT),
    offset: int = Query(0, ge=0, le=MAX_INT),
) -> dict[str, Any]:
    return page_of(selectors.segment_list(user=request.user), offset=offset, limit=limit)


@router.post("/segments", response={201: SegmentOut})
def segment_create(request: AuthedRequest, payload: SegmentIn) -> Status[Segment]:
    segment = services.segment_create(actor=request.user, data=payload.model_dump())
    return Status(201, segment)


@router.get("/segments/fields", response=list[SegmentFieldOut])
def segment_fields(request: AuthedRequest, target: str = "customers") -> list[dict[str, Any]]:
    """The fields a condition may name for a target, with their operators and values."""
    if target not in selectors.FIELDS:
        raise InvalidInput(
            errors={"target": [_("Unknown target %(value)s.") % {"value": target[:30]}]}
        )
    return selectors.field_catalogue(target)


@router.post("/segments/count", response=SegmentCountOut)
def segment_count_draft(request: AuthedRequest, payload: SegmentCountIn) -> dict[str, int]:
    """The count of an unsaved tree (the builder's live count)."""
    services._require_role(request.user)
    rows = selectors.rows_for(payload.target, payload.conditions, request.user)
    return {"count": rows.order_by().count()}


@router.get("/segments/{segment_id}", response=SegmentOut)
def segment_get(request: AuthedRequest, segment_id: Id) -> Segment:
    return _segment(request, segment_id)


@router.patch("/segments/{segment_id}", response=SegmentOut)
def segment_update(request: AuthedRequest, segment_id: Id, payload: SegmentPatch) -> Segment:
    data = payload.model_dump(exclude_unset=True)
    version = data.pop("version", None)
    return services.segment_update(
        actor=request.user, segment_id=segment_id, data=data, version=version
    )


@router.delete("/segments/{segment_id}", response={204: None})
def segment_delete(request: AuthedRequest, segment_id: Id) -> Status[None]:
    services.segment_delete(actor=request.user, segment_id=segment_id)
    return Status(204, None)


@router.get("/segments/{segment_id}/count", response=SegmentCountOut)
def segment_count(request: AuthedRequest, segment_id: Id) -> dict[str, int]:
    segment = _segment(request, segment_id)
    return {"count": services.segment_recount(actor=request.user, segment=segment)}


@router.get("/segments/{segment_id}/preview", response=SegmentPreviewOut)
def segment_preview(
    request: AuthedRequest,
    segment_id: Id,
    limit: int = Query(selectors.PREVIEW_ROWS, ge=1, le=200),
) -> dict[str, Any]:
    segment = _segment(request, segment_id)
    rows = selectors.segment_rows(segment, request.user)
    return {
        "count": services.segment_recount(actor=request.user, segment=segment),
        "items": selectors.preview(segment.target, rows, request.user, limit=limit),
    }


def _static(request: AuthedRequest, segment_id: int) -> Segment:
    segment = _segment(request, segment_id)
    if segment.kind != SegmentKind.STATIC:
        raise InvalidInput(errors={"kind": [_("Only a static list has entries.")]})
    return segment


@router.get("/segments/{segment_id}/entries", response=SegmentEntryPage)
def segment_entries(
    request: AuthedRequest,
    segment_id: Id,
    limit: int = Query(50, ge=1, le=API_MAX_LIMIT),
    offset: int = Query(0, ge=0, le=MAX_INT),
) -> dict[str, Any]:
    """A static list's rows that the caller sees."""
    segment = _static(request, segment_id)
    page = page_of(
        selectors.segment_rows(segment, request.user).order_by("-id"), offset=offset, limit=limit
    )
    page["items"] = selectors.entry_rows(segment.target, page["items"])
    return page


@router.post("/segments/{segment_id}/entries", response=SegmentEntriesOut)
def segment_entries_add(
    request: AuthedRequest, segment_id: Id, payload: SegmentEntriesIn
) -> dict[str, int]:
    return services.entries_add(actor=request.user, segment_id=segment_id, ids=payload.ids)


@router.post("/segments/{segment_id}/entries/remove", response=SegmentEntriesRemoved)
def segment_entries_remove(
    request: AuthedRequest, segment_id: Id, payload: SegmentEntriesIn
) -> dict[str, int]:
    removed = services.entries_remove(actor=request.user, segment_id=segment_id, ids=payload.ids)
    return {"removed": removed}


@router.post("/segments/{segment_id}/entries/import", response=SegmentImportOut)
def segment_entries_import(
    request: AuthedRequest, segment_id: Id, file: File[UploadedFile]
) -> dict[str, Any]:
    """A CSV or XLSX file whose first column holds customer numbers, phones or e-mails."""
    result = services.entries_import(
        actor=request.user,
        segment_id=segment_id,
        name=file.name or "",
        content=file.read(services.MAX_IMPORT_BYTES + 1),
    )
    return {"added": result.added, "already": result.already, "errors": result.errors}
