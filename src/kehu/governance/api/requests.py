"""The governance API: personal-data requests (PIPL), administrators only
(docs/governance.md, "Personal-data requests")."""

from __future__ import annotations

import json
from datetime import date, datetime
from typing import Any

from django.core.serializers.json import DjangoJSONEncoder
from django.http import HttpResponse
from ninja import Query, Router, Schema, Status

from kehu.accounts.http import AuthedRequest
from kehu.core.numbers import MAX_INT, Id
from kehu.core.pagination import API_MAX_LIMIT, BoundedPageOut, page_of
from kehu.governance.models import RequestKind, RequestStatus, SubjectRequest, SubjectType
from kehu.governance.selectors import requests as selectors
from kehu.governance.services import requests as services

router = Router(tags=["governance"])


class RequestOut(Schema):
    id: int
    kind: str
    subject_type: str
    subject_id: int
    subject_exists: bool
    received_on: date
    deadline: date
    overdue: bool
    status: str
    refusal_reason: str
    notes: str
    created_by_id: int | None
    handled_by_id: int | None
    handled_at: datetime | None
    created_at: datetime
    version: int

    @staticmethod
    def resolve_subject_exists(obj: SubjectRequest) -> bool:
        return bool(obj.contact_id or obj.lead_id)

    @staticmethod
    def resolve_overdue(obj: SubjectRequest) -> bool:
        return selectors.is_overdue(obj)


class RequestIn(Schema):
    kind: RequestKind
    subject_type: SubjectType
    subject_id: Id
    received_on: date | None = None
    notes: str = ""


class CompleteIn(Schema):
    version: int | None = None
    changes: dict[str, Any] | None = None


class RefuseIn(Schema):
    reason: str
    version: int | None = None


class RequestPage(BoundedPageOut):
    items: list[RequestOut]


@router.get(
    "/personal-data-requests",
    response=RequestPage,
    summary="Personal-data requests, open ones by deadline first",
)
def list_requests(
    request: AuthedRequest,
    status: RequestStatus | None = None,
    kind: RequestKind | None = None,
    overdue: bool = False,
    limit: int = Query(50, ge=1, le=API_MAX_LIMIT),
    offset: int = Query(0, ge=0, le=MAX_INT),
) -> dict[str, Any]:
    filters = selectors.RequestFilters(status=status, kind=kind, overdue=overdue)
    rows = selectors.request_list(user=request.user, filters=filters)
    return page_of(rows, offset=offset, limit=limit)


@router.post(
    "/personal-data-requests",
    response={201: RequestOut},
    summary="Log a person's request (its deadline is counted in working days)",
)
def create_request(request: AuthedRequest, payload: RequestIn) -> Status[Any]:
    made = services.request_create(
        actor=request.user,
        kind=payload.kind,
        subject_type=payload.subject_type,
        subject_id=payload.subject_id,
        received_on=payload.received_on,
        notes=payload.notes,
    )
    return Status(201, made)


@router.get("/personal-data-requests/{request_id}", response=RequestOut)
def get_request(request: AuthedRequest, request_id: Id) -> SubjectRequest:
    return services.request_get(user=request.user, request_id=request_id)


@router.get(
    "/personal-data-requests/{request_id}/export.json",
    summary="Everything Kehu holds about the person, as JSON",
)
def export_json(request: AuthedRequest, request_id: Id) -> HttpResponse:
    found = services.request_get(user=request.user, request_id=request_id)
    data = selectors.as_json(found, selectors.person_data(user=request.user, request=found))
    services.request_exported(actor=request.user, request=found, fmt="json")
    body = json.dumps(data, ensure_ascii=False, indent=2, cls=DjangoJSONEncoder)
    response = HttpResponse(body, content_type="application/json")
    response["Content-Disposition"] = f'attachment; filename="kehu-pipl-{found.pk}.json"'
    return response


@router.get(
    "/personal-data-requests/{request_id}/export.xlsx",
    summary="Everything Kehu holds about the person, as XLSX (one sheet per kind)",
)
def export_xlsx(request: AuthedRequest, request_id: Id) -> HttpResponse:
    found = services.request_get(user=request.user, request_id=request_id)
    body = selectors.as_xlsx(found, selectors.person_data(user=request.user, request=found))
    services.request_exported(actor=request.user, request=found, fmt="xlsx")
    response = HttpResponse(body, content_type=selectors.XLSX_TYPE)
    response["Content-Disposition"] = f'attachment; filename="kehu-pipl-{found.pk}.xlsx"'
    return response


@router.post(
    "/personal-data-requests/{request_id}/complete",
    response=RequestOut,
    summary="Answer the request (a correction applies `changes`, an erasure destroys the data)",
)
def complete_request(request: AuthedRequest, request_id: Id, payload: CompleteIn) -> SubjectRequest:
    found = services.request_get(user=request.user, request_id=request_id)
    return services.request_complete(
        actor=request.user, request=found, version=payload.version, changes=payload.changes
    )


@router.post(
    "/personal-data-requests/{request_id}/refuse",
    response=RequestOut,
    summary="Refuse the request with the reason told to the person",
)
def refuse_request(request: AuthedRequest, request_id: Id, payload: RefuseIn) -> SubjectRequest:
    found = services.request_get(user=request.user, request_id=request_id)
    return services.request_refuse(
        actor=request.user, request=found, reason=payload.reason, version=payload.version
    )
