"""/api/v1/opportunities: CRUD, stage/win/lose actions, stages, forecast and funnel."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any

from django.http import HttpResponse
from django.utils import timezone
from ninja import Field, File, Form, Query, Router, Schema, Status
from ninja.files import UploadedFile

from kehu.accounts.http import AuthedRequest
from kehu.core import custom_fields
from kehu.core.access import get_editable_or_404, mask_values, policy_of
from kehu.core.api import prevalidated_json
from kehu.core.numbers import MAX_INT
from kehu.core.pagination import API_MAX_LIMIT, BoundedPageOut, page_of
from kehu.customers.models import Customer
from kehu.opportunities import selectors, services
from kehu.opportunities.models import Attachment, Opportunity

router = Router(tags=["opportunities"])


class OpportunityOut(Schema):
    id: int
    customer_id: int
    customer_name: str
    name: str
    owner_id: int
    owner_name: str
    department_id: int | None
    amount: float | None
    weighted_amount: float | None
    currency: str
    expected_close: date | None
    stage: str
    stage_name: str
    status: str
    probability: int
    probability_basis: str
    stage_entered_at: datetime
    is_stalled: bool
    competitors: str
    source: str
    needs: str
    next_step: str
    floor_price: float | None
    concessions: str | None
    loss_reason_id: int | None
    loss_reason: str
    loss_note: str
    closed_at: datetime | None
    custom: dict[str, Any] = Field(
        description=custom_fields.API_OUT, json_schema_extra={"additionalProperties": True}
    )
    version: int
    created_at: datetime
    updated_at: datetime


class OpportunityIn(Schema):
    customer_id: int
    name: str
    amount: Decimal | None = None
    currency: str = "CNY"
    expected_close: date | None = None
    stage: str | None = None
    source: str = ""
    needs: str = ""
    competitors: str = ""
    next_step: str = ""
    floor_price: Decimal | None = None
    concessions: str = ""
    owner_id: int | None = None
    custom: dict[str, Any] | None = Field(None, description=custom_fields.API_IN)


class OpportunityPatch(Schema):
    version: int
    name: str | None = None
    amount: Decimal | None = None
    currency: str | None = None
    expected_close: date | None = None
    source: str | None = None
    needs: str | None = None
    competitors: str | None = None
    next_step: str | None = None
    floor_price: Decimal | None = None
    concessions: str | None = None
    owner_id: int | None = None
    custom: dict[str, Any] | None = Field(None, description=custom_fields.API_IN)


class StageIn(Schema):
    stage: str
    version: int | None = None
    reason: str = Field("", description="Why the deal goes back; required for a backward move.")


class WinIn(Schema):
    stage: str | None = None
    version: int | None = None


class LoseIn(Schema):
    reason: int
    note: str = ""
    version: int | None = None


class StageOut(Schema):
    code: str
    name: str
    name_zh: str
    name_en: str
    order: int
    kind: str
    forecast_category: str
    entry_criterion: str
    actions: list[str]
    requirements: list[str]
    is_optional: bool
    default_probability: int
    probability: int
    probability_basis: str


class AttachmentOut(Schema):
    id: int
    kind: str
    name: str
    created_at: datetime


class LossReasonOut(Schema):
    id: int
    name: str


def opportunity_out(request: AuthedRequest, opportunity: Opportunity) -> dict[str, Any]:
    stage = opportunity.stage
    weighted = opportunity.weighted_amount
    data = {
        "id": opportunity.pk,
        "customer_id": opportunity.customer_id,
        "customer_name": opportunity.customer.name,
        "name": opportunity.name,
        "owner_id": opportunity.owner_id,
        "owner_name": str(opportunity.owner),
        "department_id": opportunity.department_id,
        "amount": float(opportunity.amount) if opportunity.amount is not None else None,
        "weighted_amount": float(weighted) if weighted is not None else None,
        "currency": opportunity.currency,
        "expected_close": opportunity.expected_close,
        "stage": stage.code,
        "stage_name": stage.label,
        "status": stage.kind,
        "probability": stage.probability,
        "probability_basis": selectors.probability_basis(stage),
        "stage_entered_at": opportunity.stage_entered_at,
        "is_stalled": bool(getattr(opportunity, "is_stalled", False)),
        "competitors": opportunity.competitors,
        "source": opportunity.source,
        "needs": opportunity.needs,
        "next_step": opportunity.next_step,
        "floor_price": (
            float(opportunity.floor_price) if opportunity.floor_price is not None else None
        ),
        "concessions": opportunity.concessions,
        "loss_reason_id": opportunity.loss_reason_id,
        "loss_reason": opportunity.loss_reason.label if opportunity.loss_reason else "",
        "loss_note": opportunity.loss_note,
        "closed_at": opportunity.closed_at,
        "custom": custom_fields.shown_values(
            "opportunity",
            request.user,
            opportunity.custom,
            masked=custom_fields.masked_for(request.user, opportunity),
        ),
        "version": opportunity.version,
        "created_at": opportunity.created_at,
        "updated_at": opportunity.updated_at,
    }
    hidden = set(policy_of(Opportunity).masked_fields(request.user, opportunity))
    if "amount" in hidden:
        hidden.add("weighted_amount")
    return mask_values(data, hidden)


def _reloaded(request: AuthedRequest, opportunity_id: int) -> dict[str, Any]:
    fresh = selectors.opportunity_get(user=request.user, opportunity_id=opportunity_id)
    return opportunity_out(request, fresh)


def _editable(request: AuthedRequest, opportunity_id: int) -> Opportunity:
    return get_editable_or_404(Opportunity.objects.all(), request.user, pk=opportunity_id)


class OpportunityPage(BoundedPageOut):
    items: list[OpportunityOut]


@router.get("", response=OpportunityPage)
def list_opportunities(
    request: AuthedRequest,
    limit: int = Query(50, ge=1, le=API_MAX_LIMIT),
    offset: int = Query(0, ge=0, le=MAX_INT),
) -> HttpResponse:
    filters = selectors.OpportunityFilters.parse(request.GET)
    stages = selectors.ListStages.read()
    rows = selectors.opportunity_rows(
        user=request.user, open_stage_ids=stages.open_ids, filters=filters
    )
    page = page_of(rows, offset=offset, limit=limit)
    page["items"] = [opportunity_out(request, stages.attach(row)) for row in page["items"]]
    # opportunity_out's rows are what the schema would make of them (the list-equals-detail
    # test holds them to it); validating them again cost ~2 ms of CPU a page at size L
    return prevalidated_json(request, page)


@router.post("", response={201: OpportunityOut})
def create_opportunity(request: AuthedRequest, payload: OpportunityIn) -> Status[dict[str, Any]]:
    customer = get_editable_or_404(Customer.objects.all(), request.user, pk=payload.customer_id)
    data = payload.dict(exclude={"customer_id", "owner_id"})
    if payload.owner_id is not None:
        data["owner"] = payload.owner_id
    opportunity = services.opportunity_create(actor=request.user, customer=customer, data=data)
    return Status(201, _reloaded(request, opportunity.pk))


@router.get("/stages", response=list[StageOut])
def list_stages(request: AuthedRequest) -> list[dict[str, Any]]:
    return [
        {
            "code": stage.code,
            "name": stage.label,
            "name_zh": stage.name_zh,
            "name_en": stage.name_en,
            "order": stage.order,
            "kind": stage.kind,
            "forecast_category": stage.forecast_category,
            "entry_criterion": stage.entry_criterion,
            "actions": stage.action_list,
            "requirements": stage.requirements,
            "is_optional": stage.is_optional,
            "default_probability": stage.default_probability,
            "probability": stage.probability,
            "probability_basis": selectors.probability_basis(stage),
        }
        for stage in selectors.stage_list()
    ]


@router.get("/loss-reasons", response=list[LossReasonOut])
def list_loss_reasons(request: AuthedRequest) -> list[dict[str, Any]]:
    return [{"id": reason.pk, "name": reason.label} for reason in selectors.loss_reasons()]


@router.get("/forecast")
def get_forecast(
    request: AuthedRequest,
    period: str = "month",
    group: str = "owner",
    start: date | None = None,
    end: date | None = None,
) -> dict[str, Any]:
    filters = selectors.OpportunityFilters.parse(request.GET)
    result = selectors.forecast(
        user=request.user, period=period, group=group, start=start, end=end, filters=filters
    )
    return {
        "period": result.period,
        "group": result.group,
        "start": result.start,
        "end": result.end,
        "hidden": result.hidden,
        "rows": [row.as_dict() for row in result.rows],
        "totals": [row.as_dict() for row in result.totals_by_period()],
    }


@router.get("/funnel")
def get_funnel(
    request: AuthedRequest, start: date | None = None, end: date | None = None
) -> dict[str, Any]:
    default_start, default_end = _default_funnel_range()
    start = start or default_start
    end = end or default_end
    steps = selectors.funnel(user=request.user, start=start, end=end)
    return {"start": start, "end": end, "steps": [step.as_dict() for step in steps]}


def _default_funnel_range() -> tuple[date, date]:
    today = timezone.localdate()
    return today - timedelta(days=365), today


@router.get("/{opportunity_id}", response=OpportunityOut)
def get_opportunity(request: AuthedRequest, opportunity_id: int) -> dict[str, Any]:
    return _reloaded(request, opportunity_id)


@router.patch("/{opportunity_id}", response=OpportunityOut)
def update_opportunity(
    request: AuthedRequest, opportunity_id: int, payload: OpportunityPatch
) -> dict[str, Any]:
    opportunity = _editable(request, opportunity_id)
    data = payload.dict(exclude_unset=True, exclude={"version", "owner_id"})
    if payload.owner_id is not None:
        data["owner"] = payload.owner_id
    services.opportunity_update(
        actor=request.user,
        opportunity=opportunity,
        data=data,
        version=payload.version,
    )
    return _reloaded(request, opportunity_id)


@router.delete("/{opportunity_id}", response={204: None})
def delete_opportunity(request: AuthedRequest, opportunity_id: int) -> Status[None]:
    opportunity = _editable(request, opportunity_id)
    services.opportunity_delete(actor=request.user, opportunity=opportunity)
    return Status(204, None)


@router.post("/{opportunity_id}/stage", response=OpportunityOut)
def move_stage(request: AuthedRequest, opportunity_id: int, payload: StageIn) -> dict[str, Any]:
    opportunity = _editable(request, opportunity_id)
    services.opportunity_move_stage(
        actor=request.user,
        opportunity=opportunity,
        stage=payload.stage,
        version=payload.version,
        reason=payload.reason,
    )
    return _reloaded(request, opportunity_id)


@router.post("/{opportunity_id}/win", response=OpportunityOut)
def win(request: AuthedRequest, opportunity_id: int, payload: WinIn) -> dict[str, Any]:
    opportunity = _editable(request, opportunity_id)
    services.opportunity_win(
        actor=request.user,
        opportunity=opportunity,
        stage=payload.stage,
        version=payload.version,
    )
    return _reloaded(request, opportunity_id)


@router.post("/{opportunity_id}/lose", response=OpportunityOut)
def lose(request: AuthedRequest, opportunity_id: int, payload: LoseIn) -> dict[str, Any]:
    opportunity = _editable(request, opportunity_id)
    services.opportunity_lose(
        actor=request.user,
        opportunity=opportunity,
        reason=payload.reason,
        note=payload.note,
        version=payload.version,
    )
    return _reloaded(request, opportunity_id)


@router.get("/{opportunity_id}/attachments", response=list[AttachmentOut])
def list_attachments(request: AuthedRequest, opportunity_id: int) -> list[Attachment]:
    opportunity = selectors.opportunity_get(user=request.user, opportunity_id=opportunity_id)
    return list(opportunity.attachments.all())


@router.post("/{opportunity_id}/attachments", response={201: AttachmentOut})
def add_attachment(
    request: AuthedRequest,
    opportunity_id: int,
    kind: Form[str],
    file: File[UploadedFile],
) -> Status[Attachment]:
    opportunity = _editable(request, opportunity_id)
    attachment = services.attachment_add(
        actor=request.user,
        opportunity=opportunity,
        kind=kind,
        file=file,
    )
    return Status(201, attachment)
