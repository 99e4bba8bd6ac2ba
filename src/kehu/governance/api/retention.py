"""The governance API: retention policies, legal holds and the destruction reviews
(administrators; docs/governance.md, "Retention and legal hold")."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from ninja import Query, Router, Schema, Status
from pydantic import Field

from kehu.accounts.http import AuthedRequest
from kehu.core.numbers import MAX_INT, Id
from kehu.core.pagination import API_MAX_LIMIT, BoundedPageOut, page_of
from kehu.governance.models import DestructionBatch, LegalHold, RetentionPolicy
from kehu.governance.selectors import retention as selectors
from kehu.governance.services import holds, retention

router = Router(tags=["governance"])


# --- Policies ---------------------------------------------------------------------------------


class RetentionPolicyOut(Schema):
    id: int
    key: str
    label: str
    kind: str
    status: str
    years: int
    is_active: bool
    version: int
    updated_at: datetime

    @staticmethod
    def resolve_label(obj: RetentionPolicy) -> str:
        return retention.policy_label(obj.key)


class RetentionPolicyPatch(Schema):
    version: int
    years: int | None = None
    is_active: bool | None = None


@router.get("/retention-policies", response=list[RetentionPolicyOut], summary="Retention policies")
def list_policies(request: AuthedRequest) -> list[RetentionPolicy]:
    rows = list(selectors.policy_list(user=request.user))
    if len(rows) < len(retention.DEFAULT_POLICIES):
        retention.ensure_default_policies()
        rows = list(selectors.policy_list(user=request.user))
    return rows


@router.patch("/retention-policies/{retention_policy_id}", response=RetentionPolicyOut)
def update_policy(
    request: AuthedRequest, retention_policy_id: Id, payload: RetentionPolicyPatch
) -> RetentionPolicy:
    policy = selectors.policy_get(user=request.user, policy_id=retention_policy_id)
    data = payload.dict(exclude_unset=True)
    version = data.pop("version")
    data = {key: value for key, value in data.items() if value is not None}
    return retention.policy_update(actor=request.user, policy=policy, data=data, version=version)


# --- Legal holds ------------------------------------------------------------------------------


class LegalHoldOut(Schema):
    id: int
    customer_id: int
    reason: str
    set_by_id: int | None
    set_at: datetime
    is_active: bool
    removed_by_id: int | None
    removed_at: datetime | None
    removal_reason: str


class LegalHoldPage(BoundedPageOut):
    items: list[LegalHoldOut]


class LegalHoldIn(Schema):
    customer_id: Id
    reason: str = Field(max_length=2000)


class LegalHoldRemoveIn(Schema):
    reason: str = Field(max_length=2000)


@router.get("/legal-holds", response=LegalHoldPage, summary="Legal holds")
def list_holds(
    request: AuthedRequest,
    active: bool | None = True,
    customer_id: Id | None = None,
    limit: int = Query(50, ge=1, le=API_MAX_LIMIT),
    offset: int = Query(0, ge=0, le=MAX_INT),
) -> dict[str, Any]:
    rows = selectors.hold_list(user=request.user, active=active)
    if customer_id is not None:
        rows = rows.filter(customer_id=customer_id)
    return page_of(rows, offset=offset, limit=limit)


@router.post(
    "/legal-holds", response={201: LegalHoldOut}, summary="Put a customer under legal hold"
)
def create_hold(request: AuthedRequest, payload: LegalHoldIn) -> Status[Any]:
    hold = holds.hold_set(
        actor=request.user, customer_id=payload.customer_id, reason=payload.reason
    )
    return Status(201, hold)


@router.get("/legal-holds/{hold_id}", response=LegalHoldOut)
def get_hold(request: AuthedRequest, hold_id: Id) -> LegalHold:
    return holds.hold_get(user=request.user, hold_id=hold_id)


@router.post("/legal-holds/{hold_id}/remove", response=LegalHoldOut, summary="Remove a legal hold")
def remove_hold(request: AuthedRequest, hold_id: Id, payload: LegalHoldRemoveIn) -> LegalHold:
    hold = holds.hold_get(user=request.user, hold_id=hold_id)
    return holds.hold_remove(actor=request.user, hold=hold, reason=payload.reason)


# --- Destruction reviews ----------------------------------------------------------------------


class DestructionDueOut(Schema):
    kind: str
    object_id: int
    name: str
    policy: str
    last_activity: datetime
    due_on: date
    held: bool


class DestructionDuePage(BoundedPageOut):
    items: list[DestructionDueOut]


class DestructionReviewOut(Schema):
    id: int
    month: date
    status: str
    approved_by_id: int | None
    approved_at: datetime | None
    finished_at: datetime | None
    version: int
    counts: dict[str, int]

    @staticmethod
    def resolve_counts(obj: DestructionBatch) -> dict[str, int]:
        return selectors.counts_of(obj)


class DestructionReviewPage(BoundedPageOut):
    items: list[DestructionReviewOut]


class DestructionItemOut(Schema):
    id: int
    kind: str
    object_id: int
    policy: str = Field(validation_alias="policy_key")
    due_on: date
    status: str
    skip_reason: str
    processed_at: datetime | None


class DestructionReviewDetailOut(DestructionReviewOut):
    items: list[DestructionItemOut]

    @staticmethod
    def resolve_items(obj: DestructionBatch) -> list[Any]:
        return list(selectors.batch_items(obj))


class DestructionPrepareIn(Schema):
    month: date | None = None


class DestructionApproveIn(Schema):
    version: int
    exclude: list[Id] = Field(default_factory=list, max_length=10000)


@router.get(
    "/destructions/due", response=DestructionDuePage, summary="What falls due under the policies"
)
def list_due(
    request: AuthedRequest,
    month: date | None = None,
    limit: int = Query(100, ge=1, le=API_MAX_LIMIT),
    offset: int = Query(0, ge=0, le=MAX_INT),
) -> dict[str, Any]:
    """Records that fall due by the end of ``month`` (next month by default), overdue ones
    included; customers under legal hold are listed with ``held`` true and never destroyed."""
    rows = selectors.due_list(user=request.user, month=month)
    items = [
        {
            "kind": row.kind,
            "object_id": row.object_id,
            "name": row.name,
            "policy": row.policy_key,
            "last_activity": row.last_activity,
            "due_on": row.due_on,
            "held": row.held,
        }
        for row in rows[offset : offset + limit]
    ]
    return {"items": items, "count": len(rows), "count_capped": False}


@router.get("/destructions", response=DestructionReviewPage, summary="Destruction reviews")
def list_batches(
    request: AuthedRequest,
    limit: int = Query(50, ge=1, le=API_MAX_LIMIT),
    offset: int = Query(0, ge=0, le=MAX_INT),
) -> dict[str, Any]:
    return page_of(selectors.batch_list(user=request.user), offset=offset, limit=limit)


@router.post(
    "/destructions", response={201: DestructionReviewDetailOut}, summary="Prepare a review list"
)
def prepare_batch(request: AuthedRequest, payload: DestructionPrepareIn) -> Status[Any]:
    made = retention.batch_prepare(actor=request.user, month=payload.month)
    return Status(201, selectors.batch_get(user=request.user, batch_id=made.pk))


@router.get("/destructions/{batch_id}", response=DestructionReviewDetailOut)
def get_batch(request: AuthedRequest, batch_id: Id) -> DestructionBatch:
    return selectors.batch_get(user=request.user, batch_id=batch_id)


@router.post(
    "/destructions/{batch_id}/approve", response=DestructionReviewDetailOut, summary="Approve"
)
def approve_batch(
    request: AuthedRequest, batch_id: Id, payload: DestructionApproveIn
) -> DestructionBatch:
    """Approve the list (``exclude``: item ids to keep). Approved records whose date has come
    are destroyed at once, the others by the daily job on their date."""
    batch = selectors.batch_get(user=request.user, batch_id=batch_id)
    retention.batch_approve(
        actor=request.user, batch=batch, version=payload.version, exclude=payload.exclude
    )
    return selectors.batch_get(user=request.user, batch_id=batch_id)
