"""/api/v1/targets: goals per period for a department or a rep, and their progress.

Everyone reads the targets in their scope (a rep: their own and their department's); admins
and managers (their departments and reps) set them. Progress is counted from the records.
"""

from __future__ import annotations

from datetime import date
from typing import Any, Literal

from ninja import Field, Query, Router, Schema, Status

from kehu.accounts.http import AuthedRequest
from kehu.analytics.reporting import ReportFilters, parse_filters
from kehu.analytics.selectors import targets as selectors
from kehu.analytics.services import targets as services
from kehu.core.numbers import Id

router = Router(tags=["analytics"])

PeriodKindIn = Literal["month", "quarter", "year", "custom"]
MeasureIn = Literal["new_customers", "won_amount", "won_deals", "leads_converted"]
SizeBand = Literal["lt50", "50-300", "300-500", "gt500"]


class TargetOut(Schema):
    id: int
    version: int
    name: str
    period_kind: str
    start: date
    end: date
    department_id: int | None
    owner_id: int | None
    measure: str
    value: float
    industry: str
    region: str
    customer_kind: str
    size_bands: list[str]
    newness: str
    parent_id: int | None
    notes: str
    scope_label: str
    segment_label: str


class ProgressOut(Schema):
    id: int
    name: str
    measure: str
    measure_label: str
    scope_label: str
    segment_label: str
    start: date
    end: date
    value: float
    actual: float
    attainment_pct: float | None
    gap: float
    met: bool
    amounts_hidden: int


class TargetIn(Schema):
    name: str = Field("", max_length=200)
    period_kind: PeriodKindIn = "quarter"
    start: date
    end: date | None = Field(None, description="Filled from the start for month/quarter/year")
    department: Id | None = None
    owner: Id | None = Field(None, description="A rep; the target then lives in their department")
    measure: MeasureIn
    value: Any = Field(..., description="Greater than zero; whole for counts")
    industry: str = Field("", max_length=4)
    region: str = Field("", max_length=12, description="A region code or a sales area")
    customer_kind: Literal["", "company", "individual"] = ""
    size_bands: list[SizeBand] = Field(default_factory=list)
    newness: Literal["", "new", "existing"] = ""
    parent: Id | None = None
    notes: str = Field("", max_length=500)


class TargetPatch(Schema):
    version: int
    name: str | None = Field(None, max_length=200)
    period_kind: PeriodKindIn | None = None
    start: date | None = None
    end: date | None = None
    department: Id | None = None
    owner: Id | None = None
    measure: MeasureIn | None = None
    value: Any = None
    industry: str | None = Field(None, max_length=4)
    region: str | None = Field(None, max_length=12)
    customer_kind: Literal["", "company", "individual"] | None = None
    size_bands: list[SizeBand] | None = None
    newness: Literal["", "new", "existing"] | None = None
    parent: Id | None = None
    notes: str | None = Field(None, max_length=500)


class TargetQuery(Schema):
    from_: date | None = Field(None, alias="from")
    to: date | None = None
    department: int | None = None
    owner: int | None = None


def target_out(target: Any) -> dict[str, Any]:
    return {
        "id": target.pk, "version": target.version, "name": str(target),
        "period_kind": target.period_kind, "start": target.start, "end": target.end,
        "department_id": target.department_id, "owner_id": target.owner_id,
        "measure": target.measure, "value": float(target.value),
        "industry": target.industry_id or "", "region": target.region,
        "customer_kind": target.customer_kind, "size_bands": list(target.size_bands),
        "newness": target.newness, "parent_id": target.parent_id, "notes": target.notes,
        "scope_label": selectors.scope_label(target),
        "segment_label": selectors.segment_label(target),
    }  # fmt: skip


def _filters(request: AuthedRequest, query: TargetQuery) -> ReportFilters:
    """The period and scope asked for (422 for a bad period, 404 outside the scope)."""
    params = {
        "from": query.from_.isoformat() if query.from_ else None,
        "to": query.to.isoformat() if query.to else None,
        "department": str(query.department) if query.department is not None else None,
        "owner": str(query.owner) if query.owner is not None else None,
    }
    return parse_filters(user=request.user, params=params)


@router.get("/targets", response=list[TargetOut], summary="Targets in your scope")
def list_targets(request: AuthedRequest, query: Query[TargetQuery]) -> list[dict[str, Any]]:
    """Targets whose period overlaps ``from``..``to`` (default: this quarter)."""
    filters = _filters(request, query)
    targets = selectors.visible_targets(
        user=request.user,
        start=filters.start,
        end=filters.end,
        department_id=filters.department_id,
        owner_id=filters.owner_id,
    )
    return [target_out(target) for target in targets]


@router.get("/targets/progress", response=list[ProgressOut], summary="Progress of the targets")
def list_progress(request: AuthedRequest, query: Query[TargetQuery]) -> list[dict[str, Any]]:
    filters = _filters(request, query)
    return selectors.target_progress(
        user=request.user,
        start=filters.start,
        end=filters.end,
        department_id=filters.department_id,
        owner_id=filters.owner_id,
    )


@router.post("/targets", response={201: TargetOut}, summary="Set a target (managers, admins)")
def create_target(request: AuthedRequest, payload: TargetIn) -> Status:
    target = services.target_create(actor=request.user, data=payload.dict())
    return Status(201, target_out(selectors.target_for(user=request.user, target_id=target.pk)))


@router.get("/targets/{target_id}", response=TargetOut, summary="A target")
def get_target(request: AuthedRequest, target_id: Id) -> dict[str, Any]:
    return target_out(selectors.target_for(user=request.user, target_id=target_id))


@router.get("/targets/{target_id}/progress", response=ProgressOut, summary="A target's progress")
def get_progress(request: AuthedRequest, target_id: Id) -> dict[str, Any]:
    return selectors.one_progress(user=request.user, target_id=target_id)


@router.patch("/targets/{target_id}", response=TargetOut, summary="Change a target")
def update_target(request: AuthedRequest, target_id: Id, payload: TargetPatch) -> dict[str, Any]:
    """Send the ``version`` you read: a stale one answers 409."""
    data = payload.dict(exclude_unset=True)
    version = data.pop("version")
    services.target_update(actor=request.user, target_id=target_id, data=data, version=version)
    return target_out(selectors.target_for(user=request.user, target_id=target_id))


@router.delete("/targets/{target_id}", response={204: None}, summary="Delete a target")
def delete_target(request: AuthedRequest, target_id: Id) -> Status:
    services.target_delete(actor=request.user, target_id=target_id)
    return Status(204, None)
