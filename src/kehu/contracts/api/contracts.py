"""/api/v1/contracts: contracts of deals (合同), their file, submission and the manager's review.

Lists answer ``{"items", "count", "count_capped"}`` in a constant number of queries; ``amount`` is
``null`` for whoever sees the deal's amount masked (the access policy). State changes are actions:
``POST /contracts/{id}/submit``, ``/approve``, ``/return`` (a comment is required), ``/void``.
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Any

from django.http import FileResponse, Http404
from ninja import File, Query, Router, Schema, Status
from ninja.files import UploadedFile
from pydantic import Field

from kehu.accounts.http import AuthedRequest
from kehu.contracts.models import Contract
from kehu.contracts.selectors import contracts as selectors
from kehu.contracts.services import contracts as services
from kehu.core.access import get_visible_or_404, mask_values, policy_of
from kehu.core.numbers import MAX_INT, Id
from kehu.core.pagination import API_MAX_LIMIT, BoundedPageOut, page_of
from kehu.opportunities.models import MAX_AMOUNT, Opportunity

router = Router(tags=["contracts"])


class ContractReviewOut(Schema):
    id: int
    reviewer_id: int
    reviewer_name: str
    decision: str
    comment: str
    decided_at: datetime


class ContractOut(Schema):
    id: int
    opportunity_id: int
    opportunity_name: str
    customer_id: int
    customer_name: str
    owner_id: int
    number: str
    title: str
    amount: float | None
    currency: str
    signed_on: date | None
    starts_on: date | None
    ends_on: date | None
    terms: str
    has_file: bool
    status: str
    status_name: str
    is_repeat_order: bool
    draft_due: date | None
    submitted_at: datetime | None
    reviewed_by_id: int | None
    reviewed_at: datetime | None
    review_comment: str
    created_by_id: int | None
    version: int
    created_at: datetime
    updated_at: datetime


class ContractDetailOut(ContractOut):
    reviews: list[ContractReviewOut]


class ContractPage(BoundedPageOut):
    items: list[ContractOut]


class ContractIn(Schema):
    opportunity_id: Id
    title: str = Field(..., max_length=200)
    amount: Decimal = Field(..., gt=0, le=MAX_AMOUNT, decimal_places=2)
    number: str = Field("", max_length=60)
    currency: str | None = None
    signed_on: date | None = None
    starts_on: date | None = None
    ends_on: date | None = None
    terms: str = Field("", max_length=20000)
    is_repeat_order: bool = False


class ContractPatch(Schema):
    version: int = Field(..., ge=0, le=MAX_INT)
    title: str | None = Field(None, max_length=200)
    amount: Decimal | None = Field(None, gt=0, le=MAX_AMOUNT, decimal_places=2)
    number: str | None = Field(None, max_length=60)
    currency: str | None = None
    signed_on: date | None = None
    starts_on: date | None = None
    ends_on: date | None = None
    terms: str | None = Field(None, max_length=20000)


class ContractVersionIn(Schema):
    version: int | None = Field(None, ge=0, le=MAX_INT)


class ContractDecisionIn(Schema):
    comment: str = Field("", max_length=2000)
    version: int | None = Field(None, ge=0, le=MAX_INT)


class ContractVoidIn(Schema):
    reason: str = Field(..., max_length=200)
    version: int | None = Field(None, ge=0, le=MAX_INT)


def contract_out(request: AuthedRequest, contract: Contract) -> dict[str, Any]:
    deal = contract.opportunity
    data = {
        "id": contract.pk,
        "opportunity_id": contract.opportunity_id,
        "opportunity_name": deal.name,
        "customer_id": deal.customer_id,
        "customer_name": deal.customer.name,
        "owner_id": deal.owner_id,
        "number": contract.number,
        "title": contract.title,
        "amount": float(contract.amount) if contract.amount is not None else None,
        "currency": contract.currency,
        "signed_on": contract.signed_on,
        "starts_on": contract.starts_on,
        "ends_on": contract.ends_on,
        "terms": contract.terms,
        "has_file": bool(contract.file),
        "status": contract.status,
        "status_name": str(contract.get_status_display()),
        "is_repeat_order": contract.is_repeat_order,
        "draft_due": contract.draft_due,
        "submitted_at": contract.submitted_at,
        "reviewed_by_id": contract.reviewed_by_id,
        "reviewed_at": contract.reviewed_at,
        "review_comment": contract.review_comment,
        "created_by_id": contract.created_by_id,
        "version": contract.version,
        "created_at": contract.created_at,
        "updated_at": contract.updated_at,
    }
    return mask_values(data, policy_of(Contract).masked_fields(request.user, contract))


def _detail(request: AuthedRequest, contract_id: int) -> dict[str, Any]:
    contract = selectors.contract_get(user=request.user, contract_id=contract_id)
    data = contract_out(request, contract)
    data["reviews"] = [
        {
            "id": review.pk,
            "reviewer_id": review.reviewer_id,
            "reviewer_name": str(review.reviewer),
            "decision": review.decision,
            "comment": review.comment,
            "decided_at": review.decided_at,
        }
        for review in selectors.reviews_of(contract)
    ]
    return data


def _visible(request: AuthedRequest, contract_id: int) -> Contract:
    return selectors.contract_get(user=request.user, contract_id=contract_id)


@router.get("/contracts", response=ContractPage)
def list_contracts(
    request: AuthedRequest,
    limit: int = Query(50, ge=1, le=API_MAX_LIMIT),
    offset: int = Query(0, ge=0, le=MAX_INT),
) -> dict[str, Any]:
    """Contracts in scope; filters ``box`` (all, mine, to_review), ``status``,
    ``opportunity_id`` (the contracts of one deal), ``q`` (number, title, customer)."""
    filters = selectors.ContractFilters.parse(request.GET)
    rows = selectors.contract_list(user=request.user, filters=filters)
    page = page_of(rows, offset=offset, limit=limit)
    page["items"] = [contract_out(request, row) for row in page["items"]]
    return page


@router.post("/contracts", response={201: ContractDetailOut})
def create_contract(request: AuthedRequest, payload: ContractIn) -> Status[dict[str, Any]]:
    deal = get_visible_or_404(
        Opportunity.objects.select_related("stage"), request.user, pk=payload.opportunity_id
    )
    data = payload.dict(exclude={"opportunity_id"})
    if data.get("currency") is None:
        data.pop("currency")
    contract = services.contract_create(actor=request.user, opportunity=deal, data=data)
    return Status(201, _detail(request, contract.pk))


@router.get("/contracts/{contract_id}", response=ContractDetailOut)
def get_contract(request: AuthedRequest, contract_id: Id) -> dict[str, Any]:
    return _detail(request, contract_id)


@router.patch("/contracts/{contract_id}", response=ContractDetailOut)
def update_contract(
    request: AuthedRequest, contract_id: Id, payload: ContractPatch
) -> dict[str, Any]:
    contract = _visible(request, contract_id)
    data = payload.dict(exclude_unset=True, exclude={"version"})
    services.contract_update(
        actor=request.user, contract=contract, data=data, version=payload.version
    )
    return _detail(request, contract_id)


@router.post("/contracts/{contract_id}/file", response=ContractDetailOut)
def attach_file(
    request: AuthedRequest, contract_id: Id, file: File[UploadedFile]
) -> dict[str, Any]:
    contract = _visible(request, contract_id)
    services.contract_attach(actor=request.user, contract=contract, file=file)
    return _detail(request, contract_id)


@router.get("/contracts/{contract_id}/file")
def download_file(request: AuthedRequest, contract_id: Id) -> FileResponse:
    """The contract's file (404 when none is attached)."""
    contract = _visible(request, contract_id)
    if not contract.file:
        raise Http404
    try:
        handle = contract.file.open("rb")
    except FileNotFoundError as missing:
        raise Http404 from missing
    return FileResponse(
        handle, as_attachment=True, filename=(contract.file.name or "contract").rsplit("/", 1)[-1]
    )


@router.post("/contracts/{contract_id}/submit", response=ContractDetailOut)
def submit_contract(
    request: AuthedRequest, contract_id: Id, payload: ContractVersionIn
) -> dict[str, Any]:
    contract = _visible(request, contract_id)
    services.contract_submit(actor=request.user, contract=contract, version=payload.version)
    return _detail(request, contract_id)


@router.post("/contracts/{contract_id}/approve", response=ContractDetailOut)
def approve_contract(
    request: AuthedRequest, contract_id: Id, payload: ContractDecisionIn
) -> dict[str, Any]:
    contract = _visible(request, contract_id)
    services.contract_approve(
        actor=request.user, contract=contract, comment=payload.comment, version=payload.version
    )
    return _detail(request, contract_id)


@router.post("/contracts/{contract_id}/return", response=ContractDetailOut)
def return_contract(
    request: AuthedRequest, contract_id: Id, payload: ContractDecisionIn
) -> dict[str, Any]:
    contract = _visible(request, contract_id)
    services.contract_return(
        actor=request.user, contract=contract, comment=payload.comment, version=payload.version
    )
    return _detail(request, contract_id)


@router.post("/contracts/{contract_id}/void", response=ContractDetailOut)
def void_contract(
    request: AuthedRequest, contract_id: Id, payload: ContractVoidIn
) -> dict[str, Any]:
    contract = _visible(request, contract_id)
    services.contract_void(
        actor=request.user, contract=contract, reason=payload.reason, version=payload.version
    )
    return _detail(request, contract_id)
