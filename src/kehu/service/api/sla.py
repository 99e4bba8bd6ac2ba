"""/api/v1/sla-policies and /api/v1/business-calendar: the SLA engine's settings.

Every signed-in user reads them (the ticket pages show due times); admins change them. The
calendar check answers when ``minutes`` business minutes after ``start`` run out.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any, Literal

from django.shortcuts import get_object_or_404
from django.utils import timezone
from ninja import Field, Query, Router, Schema, Status

from kehu.accounts.http import AuthedRequest
from kehu.core.errors import Forbidden, InvalidInput
from kehu.service.models import CalendarEntry, SlaPolicy
from kehu.service.services import calendar, sla

router = Router(tags=["service"])


class PolicyOut(Schema):
    id: int
    version: int
    priority: str
    customer_grade: str
    respond_minutes: int
    resolve_minutes: int
    warn_before_minutes: int
    is_active: bool


class PolicyIn(Schema):
    priority: Literal["high", "medium", "low"]
    customer_grade: Literal["", "A", "B", "C", "D"] = ""
    respond_minutes: Any = Field(..., description="Business minutes, greater than zero")
    resolve_minutes: Any = Field(..., description="Business minutes, at least respond_minutes")
    warn_before_minutes: Any = Field(30, description="Business minutes before a due time")
    is_active: bool = True


class PolicyPatch(Schema):
    version: int
    priority: Literal["high", "medium", "low"] | None = None
    customer_grade: Literal["", "A", "B", "C", "D"] | None = None
    respond_minutes: Any = None
    resolve_minutes: Any = None
    warn_before_minutes: Any = None
    is_active: bool | None = None


class EntryOut(Schema):
    id: int
    name: str
    kind: str
    start: date
    end: date
    source: str


class EntryIn(Schema):
    name: str
    kind: Literal["holiday", "workday"]
    start: date
    end: date


class EntryPatch(Schema):
    name: str | None = None
    kind: Literal["holiday", "workday"] | None = None
    start: date | None = None
    end: date | None = None


class EntryRange(Schema):
    start: date | None = Field(None, description="Default: 1 January of this year")
    end: date | None = Field(None, description="Default: 31 December of next year")


class CheckQuery(Schema):
    start: datetime
    minutes: int = Field(..., ge=0, le=sla.MAX_POLICY_MINUTES)


class CheckOut(Schema):
    start: datetime
    minutes: int
    due_at: datetime
    business_day: bool


class RefreshIn(Schema):
    years: list[int] = Field(default_factory=list, description="Default: this year and next")


def policy_out(policy: SlaPolicy) -> dict[str, Any]:
    return {
        "id": policy.pk, "version": policy.version, "priority": policy.priority,
        "customer_grade": policy.customer_grade, "respond_minutes": policy.respond_minutes,
        "resolve_minutes": policy.resolve_minutes,
        "warn_before_minutes": policy.warn_before_minutes, "is_active": policy.is_active,
    }  # fmt: skip


def _set_fields(payload: Schema) -> dict[str, Any]:
    data = payload.dict(exclude_unset=True)
    data.pop("version", None)
    return data


def _require_admin(request: AuthedRequest) -> None:
    """403 before the lookup, so an id tells nothing to a role that may not edit."""
    if not sla.policies_may_edit(request.user):
        raise Forbidden(str(Forbidden.default_detail))


# --- policies ---------------------------------------------------------------------------------
@router.get("/sla-policies", response=list[PolicyOut], summary="SLA policies")
def list_policies(request: AuthedRequest) -> list[dict[str, Any]]:
    return [policy_out(policy) for policy in sla.policies_in_order()]


@router.get("/sla-policies/{policy_id}", response=PolicyOut, summary="An SLA policy")
def get_policy(request: AuthedRequest, policy_id: int) -> dict[str, Any]:
    return policy_out(get_object_or_404(SlaPolicy, pk=policy_id))


@router.post("/sla-policies", response={201: PolicyOut}, summary="Add an SLA policy (admin)")
def create_policy(request: AuthedRequest, payload: PolicyIn) -> Status:
    policy = sla.policy_create(actor=request.user, data=payload.dict())
    return Status(201, policy_out(policy))


@router.patch("/sla-policies/{policy_id}", response=PolicyOut, summary="Change (admin)")
def update_policy(request: AuthedRequest, policy_id: int, payload: PolicyPatch) -> dict[str, Any]:
    _require_admin(request)
    policy = get_object_or_404(SlaPolicy, pk=policy_id)
    policy = sla.policy_update(
        actor=request.user, policy=policy, data=_set_fields(payload), version=payload.version
    )
    return policy_out(policy)


@router.delete("/sla-policies/{policy_id}", response={204: None}, summary="Delete (admin)")
def delete_policy(request: AuthedRequest, policy_id: int) -> Status:
    _require_admin(request)
    sla.policy_delete(actor=request.user, policy=get_object_or_404(SlaPolicy, pk=policy_id))
    return Status(204, None)


# --- business calendar ------------------------------------------------------------------------
@router.get("/business-calendar", response=list[EntryOut], summary="Calendar entries in a range")
def list_entries(request: AuthedRequest, query: Query[EntryRange]) -> list[CalendarEntry]:
    this_year = timezone.localdate().year
    start = query.start or date(this_year, 1, 1)
    end = query.end or date(this_year + 1, 12, 31)
    if end < start:
        raise InvalidInput(errors={"end": [str(calendar.END_BEFORE_START)]})
    if (end - start).days > 366 * 10:
        raise InvalidInput(errors={"end": [str(calendar.RANGE_TOO_LONG)]})
    return calendar.entries_between(start, end)


@router.get("/business-calendar/check", response=CheckOut, summary="When business minutes run out")
def check(request: AuthedRequest, query: Query[CheckQuery]) -> dict[str, Any]:
    start = query.start
    if timezone.is_naive(start):
        start = timezone.make_aware(start)
    due = calendar.add_business_minutes(start, query.minutes)
    return {
        "start": start,
        "minutes": query.minutes,
        "due_at": due,
        "business_day": calendar.is_business_day(timezone.localdate(start)),
    }


@router.post("/business-calendar/refresh", summary="Load public holidays from the package (admin)")
def refresh(request: AuthedRequest, payload: RefreshIn) -> dict[str, int]:
    _require_admin(request)
    years = sorted(set(payload.years))
    if any(year < 2000 or year > 2100 for year in years):
        raise InvalidInput(errors={"years": [str(calendar.YEARS_OUT_OF_RANGE)]})
    return calendar.calendar_refresh(years=years or None)


@router.get("/business-calendar/{entry_id}", response=EntryOut, summary="A calendar entry")
def get_entry(request: AuthedRequest, entry_id: int) -> CalendarEntry:
    return get_object_or_404(CalendarEntry, pk=entry_id)


@router.post("/business-calendar", response={201: EntryOut}, summary="Add an entry (admin)")
def create_entry(request: AuthedRequest, payload: EntryIn) -> Status:
    entry = calendar.calendar_entry_create(actor=request.user, data=payload.dict())
    return Status(201, entry)


@router.patch("/business-calendar/{entry_id}", response=EntryOut, summary="Change (admin)")
def update_entry(request: AuthedRequest, entry_id: int, payload: EntryPatch) -> CalendarEntry:
    _require_admin(request)
    entry = get_object_or_404(CalendarEntry, pk=entry_id)
    return calendar.calendar_entry_update(
        actor=request.user, entry=entry, data=_set_fields(payload)
    )


@router.delete("/business-calendar/{entry_id}", response={204: None}, summary="Delete (admin)")
def delete_entry(request: AuthedRequest, entry_id: int) -> Status:
    _require_admin(request)
    entry = get_object_or_404(CalendarEntry, pk=entry_id)
    calendar.calendar_entry_delete(actor=request.user, entry=entry)
    return Status(204, None)
