"""/api/v1/cadence-plans and /api/v1/care-dates: the follow-up rules a manager sets.

Admins and managers only (others 403); a manager reads the company's rules and their
departments' (and the ones above theirs), and changes their departments' (``team_rules``).
Thin: the rules live in ``plan_services`` and ``plan_selectors``.
"""

import datetime as dt
from typing import Any, Literal

from ninja import Field, Query, Router, Schema, Status
from ninja.pagination import paginate

from kehu.accounts.http import AuthedRequest
from kehu.core.numbers import Id
from kehu.core.pagination import MappedRows
from kehu.followups import plan_selectors as selectors
from kehu.followups import plan_services as services
from kehu.followups.team_rules import rule_editable

router = Router(tags=["followups"])

StatusIn = Literal["", "potential", "intent", "won", "churned"]
GradeIn = Literal["", "A", "B", "C", "D"]


class CadencePlanOut(Schema):
    id: int
    version: int
    name: str
    status: str
    grade: str
    interval_days: int
    action: str
    is_active: bool
    department_id: int | None
    department_name: str | None
    editable: bool


class PlanList(Schema):
    items: list[CadencePlanOut]
    count: int


class CadencePlanIn(Schema):
    name: str = Field(..., max_length=100)
    status: StatusIn = ""
    grade: GradeIn = ""
    interval_days: int = Field(..., description="1 to 366 days")
    action: str = Field("", max_length=300)
    is_active: bool = True
    department: Id | None = Field(None, description="Empty: the whole company (admins only)")
    reason: str = Field("", max_length=100, description="Why, for the change history")


class CadencePlanPatch(Schema):
    version: int
    name: str | None = Field(None, max_length=100)
    status: StatusIn | None = None
    grade: GradeIn | None = None
    interval_days: int | None = None
    action: str | None = Field(None, max_length=300)
    is_active: bool | None = None
    department: Id | None = None
    reason: str = Field("", max_length=100)


class CareOut(Schema):
    id: int
    version: int
    date: dt.date
    name: str
    kind: str
    is_active: bool
    department_id: int | None
    department_name: str | None
    editable: bool


class CareIn(Schema):
    date: dt.date
    name: str = Field(..., max_length=100)
    is_active: bool = True
    department: Id | None = Field(None, description="Empty: the whole company (admins only)")
    reason: str = Field("", max_length=100)


class CarePatch(Schema):
    version: int
    date: dt.date | None = None
    name: str | None = Field(None, max_length=100)
    is_active: bool | None = None
    department: Id | None = None
    reason: str = Field("", max_length=100)


class CareQuery(Schema):
    from_: dt.date | None = Field(None, alias="from")
    to: dt.date | None = None
    kind: Literal["", "public", "traditional", "custom"] = ""
    active: bool | None = None


class PlanChangeOut(Schema):
    field: str
    label: str
    old: Any
    new: Any


class PlanHistoryOut(Schema):
    id: int
    when: dt.datetime
    action: str
    action_label: str
    user_name: str
    reason: str
    changes: list[PlanChangeOut]


def _plan_out(user: Any, plan: Any) -> dict[str, Any]:
    return {
        "id": plan.pk, "version": plan.version, "name": plan.name, "status": plan.status,
        "grade": plan.grade, "interval_days": plan.interval_days, "action": plan.action,
        "is_active": plan.is_active, "department_id": plan.department_id,
        "department_name": plan.department.name if plan.department else None,
        "editable": rule_editable(user, plan),
    }  # fmt: skip


def _care_out(user: Any, care: Any) -> dict[str, Any]:
    return {
        "id": care.pk, "version": care.version, "date": care.date, "name": care.name,
        "kind": care.kind, "is_active": care.is_active, "department_id": care.department_id,
        "department_name": care.department.name if care.department else None,
        "editable": rule_editable(user, care),
    }  # fmt: skip


def _changes(payload: Schema) -> tuple[dict[str, Any], str]:
    data = payload.dict(exclude_unset=True)
    data.pop("version", None)
    reason = str(data.pop("reason", "") or "")
    return data, reason


# --- cadence plans ------------------------------------------------------------------------------


@router.get("/cadence-plans", response=PlanList, summary="Cadence plans you manage or follow")
def list_plans(request: AuthedRequest, active: bool | None = None) -> dict[str, Any]:
    services.require_manager(request.user)
    plans = selectors.plan_list(user=request.user, active=active)
    return {"items": [_plan_out(request.user, plan) for plan in plans], "count": len(plans)}


@router.post("/cadence-plans", response={201: CadencePlanOut}, summary="Create a cadence plan")
def create_plan(request: AuthedRequest, payload: CadencePlanIn) -> Status[Any]:
    data, reason = _changes(payload)
    plan = services.cadence_plan_create(actor=request.user, data=data, reason=reason)
    return Status(201, _plan_out(request.user, plan))


@router.get("/cadence-plans/{plan_id}", response=CadencePlanOut, summary="One cadence plan")
def get_plan(request: AuthedRequest, plan_id: Id) -> dict[str, Any]:
    services.require_manager(request.user)
    return _plan_out(request.user, selectors.plan_get(user=request.user, plan_id=plan_id))


@router.patch("/cadence-plans/{plan_id}", response=CadencePlanOut, summary="Change a cadence plan")
def update_plan(request: AuthedRequest, plan_id: Id, payload: CadencePlanPatch) -> dict[str, Any]:
    data, reason = _changes(payload)
    plan = services.cadence_plan_update(
        actor=request.user, plan_id=plan_id, data=data, version=payload.version, reason=reason
    )
    return _plan_out(request.user, plan)


@router.delete("/cadence-plans/{plan_id}", response={204: None}, summary="Delete a cadence plan")
def delete_plan(request: AuthedRequest, plan_id: Id, reason: str = "") -> Status:
    services.cadence_plan_delete(actor=request.user, plan_id=plan_id, reason=reason[:100])
    return Status(204, None)


@router.get(
    "/cadence-plans/{plan_id}/history",
    response=list[PlanHistoryOut],
    summary="Change history of a cadence plan",
)
def plan_history(request: AuthedRequest, plan_id: Id) -> list[Any]:
    services.require_manager(request.user)
    plan = selectors.plan_get(user=request.user, plan_id=plan_id)
    return selectors.record_history(rule=plan)


# --- care dates ---------------------------------------------------------------------------------


@router.get("/care-dates", response=list[CareOut], summary="Care dates (holidays and custom)")
@paginate
def list_care_dates(request: AuthedRequest, filters: Query[CareQuery]) -> list[dict[str, Any]]:
    services.require_manager(request.user)
    wanted = selectors.CareFilters(
        start=filters.from_, end=filters.to, kind=filters.kind, active=filters.active
    )
    rows = selectors.care_date_list(user=request.user, filters=wanted)
    user = request.user
    return MappedRows(rows, lambda care: _care_out(user, care))  # type: ignore[return-value]


@router.post("/care-dates", response={201: CareOut}, summary="Add a custom care date")
def create_care_date(request: AuthedRequest, payload: CareIn) -> Status[Any]:
    data, reason = _changes(payload)
    data.setdefault("department", None)
    care = services.care_date_create(actor=request.user, data=data, reason=reason)
    return Status(201, _care_out(request.user, care))


@router.get("/care-dates/{care_id}", response=CareOut, summary="One care date")
def get_care_date(request: AuthedRequest, care_id: Id) -> dict[str, Any]:
    services.require_manager(request.user)
    return _care_out(request.user, selectors.care_date_get(user=request.user, care_id=care_id))


@router.patch("/care-dates/{care_id}", response=CareOut, summary="Change a care date")
def update_care_date(request: AuthedRequest, care_id: Id, payload: CarePatch) -> dict[str, Any]:
    data, reason = _changes(payload)
    care = services.care_date_update(
        actor=request.user, care_id=care_id, data=data, version=payload.version, reason=reason
    )
    return _care_out(request.user, care)


@router.delete("/care-dates/{care_id}", response={204: None}, summary="Delete a custom care date")
def delete_care_date(request: AuthedRequest, care_id: Id, reason: str = "") -> Status:
    services.care_date_delete(actor=request.user, care_id=care_id, reason=reason[:100])
    return Status(204, None)


@router.get(
    "/care-dates/{care_id}/history",
    response=list[PlanHistoryOut],
    summary="Change history of a care date",
)
def care_date_history(request: AuthedRequest, care_id: Id) -> list[Any]:
    services.require_manager(request.user)
    care = selectors.care_date_get(user=request.user, care_id=care_id)
    return selectors.record_history(rule=care)
