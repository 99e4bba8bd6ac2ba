"""/api/v1/campaigns: campaigns (营销活动) with their plan, goals, costs, attached web forms and
members with their responses.

Lists answer ``{"items", "count", "count_capped"}`` in a fixed number of queries. Members'
phones and e-mails are masked strings (``138****1234``, ``"masked": true``) for whoever lacks
full access to the member's customer (or lead). State changes are actions:
``POST /campaigns/{id}/status``, ``/members/from-segment``, ``/members/responses``.
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Any

from ninja import Query, Router, Schema, Status
from pydantic import Field

from kehu.accounts.http import AuthedRequest
from kehu.campaigns.models import Campaign
from kehu.campaigns.selectors import campaigns as selectors
from kehu.campaigns.services import campaigns as services
from kehu.campaigns.services import members as member_services
from kehu.core.numbers import MAX_INT, Id
from kehu.core.pagination import API_MAX_LIMIT, BoundedPageOut, page_of

router = Router(tags=["campaigns"])


class CampaignGoalOut(Schema):
    id: int
    label: str
    metric: str
    metric_name: str
    target: float
    industry: str | None
    region: str | None


class CampaignCostOut(Schema):
    id: int
    spent_on: date
    amount: float
    category: str
    category_name: str
    note: str
    recorded_by_id: int | None


class CampaignFormOut(Schema):
    web_form_id: int
    name: str
    key: str
    is_active: bool
    attached_at: datetime


class CampaignResponseCount(Schema):
    response: str
    label: str
    count: int


class CampaignOut(Schema):
    id: int
    name: str
    kind: str
    kind_name: str
    status: str
    status_name: str
    starts_on: date
    ends_on: date
    owner_id: int
    owner_name: str
    department_id: int | None
    department_name: str
    budget: float | None
    description: str
    review: str
    version: int
    created_at: datetime
    updated_at: datetime


class CampaignDetailOut(CampaignOut):
    goals: list[CampaignGoalOut]
    costs: list[CampaignCostOut]
    cost_total: float
    forms: list[CampaignFormOut]
    members: int
    responses: list[CampaignResponseCount]


class CampaignPage(BoundedPageOut):
    items: list[CampaignOut]


class CampaignIn(Schema):
    name: str = Field(..., max_length=200)
    kind: str
    starts_on: date
    ends_on: date
    owner_id: Id | None = None
    department_id: Id | None = None
    budget: Decimal | None = Field(None, ge=0, le=services.MAX_MONEY, decimal_places=2)
    description: str = Field("", max_length=5000)


class CampaignPatch(Schema):
    version: int = Field(..., ge=0, le=MAX_INT)
    name: str | None = Field(None, max_length=200)
    kind: str | None = None
    starts_on: date | None = None
    ends_on: date | None = None
    owner_id: Id | None = None
    department_id: Id | None = None
    budget: Decimal | None = Field(None, ge=0, le=services.MAX_MONEY, decimal_places=2)
    description: str | None = Field(None, max_length=5000)
    review: str | None = Field(None, max_length=10000)


class CampaignStatusIn(Schema):
    status: str
    version: int | None = Field(None, ge=0, le=MAX_INT)


class CampaignGoalIn(Schema):
    label: str = Field(..., max_length=200)
    metric: str
    target: Decimal = Field(..., gt=0, le=services.MAX_MONEY, decimal_places=2)
    industry: str | None = Field(None, max_length=4)
    region: str | None = Field(None, max_length=6)


class CampaignCostIn(Schema):
    amount: Decimal = Field(..., le=services.MAX_MONEY, decimal_places=2)
    spent_on: date | None = None
    category: str = "other"
    note: str = Field("", max_length=300)


class CampaignFormIn(Schema):
    web_form_id: Id


class CampaignMemberOut(Schema):
    id: int
    kind: str
    contact_id: int | None
    lead_id: int | None
    customer_id: int | None
    segment_id: int | None
    name: str
    gender: str
    title: str
    company: str
    mobile: str
    email: str
    masked: bool
    response: str
    response_name: str
    responded_at: datetime | None
    added_at: datetime


class CampaignMemberPage(BoundedPageOut):
    items: list[CampaignMemberOut]


class CampaignMemberIn(Schema):
    contact_id: Id | None = None
    lead_id: Id | None = None


class CampaignSegmentIn(Schema):
    segment_id: Id
    primary_only: bool = False


class CampaignMembersAdded(Schema):
    added: int
    already: int


class CampaignMemberPatch(Schema):
    response: str


class CampaignResponsesIn(Schema):
    member_ids: list[Id] = Field(..., max_length=member_services.MAX_BULK_RESPONSES)
    response: str


class CampaignResponsesOut(Schema):
    changed: int


def campaign_out(campaign: Campaign) -> dict[str, Any]:
    return {
        "id": campaign.pk,
        "name": campaign.name,
        "kind": campaign.kind,
        "kind_name": str(campaign.get_kind_display()),
        "status": campaign.status,
        "status_name": str(campaign.get_status_display()),
        "starts_on": campaign.starts_on,
        "ends_on": campaign.ends_on,
        "owner_id": campaign.owner_id,
        "owner_name": str(campaign.owner),
        "department_id": campaign.department_id,
        "department_name": campaign.department.name if campaign.department else "",
        "budget": float(campaign.budget) if campaign.budget is not None else None,
        "description": campaign.description,
        "review": campaign.review,
        "version": campaign.version,
        "created_at": campaign.created_at,
        "updated_at": campaign.updated_at,
    }


def _detail(request: AuthedRequest, campaign_id: int) -> dict[str, Any]:
    campaign = selectors.campaign_get(user=request.user, campaign_id=campaign_id)
    data = campaign_out(campaign)
    summary = selectors.member_summary(campaign)
    costs = selectors.costs_of(campaign)
    data.update(
        goals=[
            {
                "id": goal.pk,
                "label": goal.label,
                "metric": goal.metric,
                "metric_name": str(goal.get_metric_display()),
                "target": float(goal.target),
                "industry": goal.industry_id,
                "region": goal.region_id,
            }
            for goal in selectors.goals_of(campaign)
        ],
        costs=[
            {
                "id": cost.pk,
                "spent_on": cost.spent_on,
                "amount": float(cost.amount),
                "category": cost.category,
                "category_name": str(cost.get_category_display()),
                "note": cost.note,
                "recorded_by_id": cost.recorded_by_id,
            }
            for cost in costs
        ],
        cost_total=float(summary["spent"]),
        forms=[
            {
                "web_form_id": link.web_form_id,
                "name": link.web_form.name,
                "key": link.web_form.key,
                "is_active": link.web_form.is_active,
                "attached_at": link.attached_at,
            }
            for link in selectors.forms_of(campaign)
        ],
        members=summary["members"],
        responses=[
            {"response": value, "label": str(label), "count": count}
            for value, label, count in summary["by_response"]
        ],
    )
    return data


def _visible(request: AuthedRequest, campaign_id: int) -> Campaign:
    return selectors.campaign_get(user=request.user, campaign_id=campaign_id)


def _plan(payload: Schema, *, exclude: set[str]) -> dict[str, Any]:
    data = payload.dict(exclude_unset=True, exclude=exclude)
    for name in ("owner", "department"):
        if f"{name}_id" in data:
            data[name] = data.pop(f"{name}_id")
    return data


@router.get("/campaigns", response=CampaignPage)
def list_campaigns(
    request: AuthedRequest,
    filters: Query[selectors.CampaignFilters],
    limit: int = Query(50, ge=1, le=API_MAX_LIMIT),
    offset: int = Query(0, ge=0, le=MAX_INT),
) -> dict[str, Any]:
    """Campaigns in scope, newest start first; filters ``q`` (name), ``status``, ``kind``,
    ``owner_id``, ``department_id``, ``active_from``/``active_to`` (running in the period)."""
    rows = selectors.campaign_list(user=request.user, filters=filters)
    page = page_of(rows, offset=offset, limit=limit)
    page["items"] = [campaign_out(row) for row in page["items"]]
    return page


@router.post("/campaigns", response={201: CampaignDetailOut})
def create_campaign(request: AuthedRequest, payload: CampaignIn) -> Status[dict[str, Any]]:
    data = _plan(payload, exclude=set())
    if data.get("owner") is None:
        data.pop("owner", None)
    if data.get("department") is None:
        data.pop("department", None)
    campaign = services.campaign_create(actor=request.user, data=data)
    return Status(201, _detail(request, campaign.pk))


@router.get("/campaigns/{campaign_id}", response=CampaignDetailOut)
def get_campaign(request: AuthedRequest, campaign_id: Id) -> dict[str, Any]:
    return _detail(request, campaign_id)


@router.patch("/campaigns/{campaign_id}", response=CampaignDetailOut)
def update_campaign(
    request: AuthedRequest, campaign_id: Id, payload: CampaignPatch
) -> dict[str, Any]:
    campaign = _visible(request, campaign_id)
    data = _plan(payload, exclude={"version"})
    services.campaign_update(
        actor=request.user, campaign=campaign, data=data, version=payload.version
    )
    return _detail(request, campaign_id)


@router.delete("/campaigns/{campaign_id}", response={204: None})
def delete_campaign(request: AuthedRequest, campaign_id: Id) -> Status[None]:
    """Only a campaign without sends, touches or costs (409 otherwise: cancel it)."""
    campaign = _visible(request, campaign_id)
    services.campaign_delete(actor=request.user, campaign=campaign)
    return Status(204, None)


@router.post("/campaigns/{campaign_id}/status", response=CampaignDetailOut)
def set_campaign_status(
    request: AuthedRequest, campaign_id: Id, payload: CampaignStatusIn
) -> dict[str, Any]:
    """planned → running → finished; cancelled from planned or running (409 otherwise)."""
    campaign = _visible(request, campaign_id)
    services.campaign_set_status(
        actor=request.user, campaign=campaign, status=payload.status, version=payload.version
    )
    return _detail(request, campaign_id)


@router.post("/campaigns/{campaign_id}/goals", response={201: CampaignDetailOut})
def add_goal(
    request: AuthedRequest, campaign_id: Id, payload: CampaignGoalIn
) -> Status[dict[str, Any]]:
    campaign = _visible(request, campaign_id)
    services.goal_add(actor=request.user, campaign=campaign, data=payload.dict())
    return Status(201, _detail(request, campaign_id))


@router.delete("/campaigns/{campaign_id}/goals/{goal_id}", response={204: None})
def remove_goal(request: AuthedRequest, campaign_id: Id, goal_id: Id) -> Status[None]:
    campaign = _visible(request, campaign_id)
    services.goal_remove(actor=request.user, campaign=campaign, goal_id=goal_id)
    return Status(204, None)


@router.post("/campaigns/{campaign_id}/costs", response={201: CampaignDetailOut})
def add_cost(
    request: AuthedRequest, campaign_id: Id, payload: CampaignCostIn
) -> Status[dict[str, Any]]:
    """An actual cost: ``amount`` more than zero, ``spent_on`` today or before (422)."""
    campaign = _visible(request, campaign_id)
    data = payload.dict(exclude_unset=True)
    services.cost_add(actor=request.user, campaign=campaign, data=data)
    return Status(201, _detail(request, campaign_id))


@router.delete("/campaigns/{campaign_id}/costs/{cost_id}", response={204: None})
def remove_cost(request: AuthedRequest, campaign_id: Id, cost_id: Id) -> Status[None]:
    campaign = _visible(request, campaign_id)
    services.cost_remove(actor=request.user, campaign=campaign, cost_id=cost_id)
    return Status(204, None)


@router.post("/campaigns/{campaign_id}/forms", response={201: CampaignDetailOut})
def attach_form(
    request: AuthedRequest, campaign_id: Id, payload: CampaignFormIn
) -> Status[dict[str, Any]]:
    """Attach a lead web form: leads it captures carry the campaign (409: another has it)."""
    campaign = _visible(request, campaign_id)
    services.form_attach(actor=request.user, campaign=campaign, web_form_id=payload.web_form_id)
    return Status(201, _detail(request, campaign_id))


@router.delete("/campaigns/{campaign_id}/forms/{web_form_id}", response={204: None})
def detach_form(request: AuthedRequest, campaign_id: Id, web_form_id: Id) -> Status[None]:
    campaign = _visible(request, campaign_id)
    services.form_detach(actor=request.user, campaign=campaign, web_form_id=web_form_id)
    return Status(204, None)


# --- members ------------------------------------------------------------------------------------


@router.get("/campaigns/{campaign_id}/members", response=CampaignMemberPage)
def list_members(
    request: AuthedRequest,
    campaign_id: Id,
    filters: Query[selectors.MemberFilters],
    limit: int = Query(50, ge=1, le=API_MAX_LIMIT),
    offset: int = Query(0, ge=0, le=MAX_INT),
) -> dict[str, Any]:
    """Members newest first; filters ``response`` and ``kind`` (contact, lead)."""
    campaign = _visible(request, campaign_id)
    rows = selectors.member_list(user=request.user, campaign=campaign, filters=filters)
    page = page_of(rows, offset=offset, limit=limit)
    page["items"] = [selectors.member_row(request.user, row) for row in page["items"]]
    return page


@router.post("/campaigns/{campaign_id}/members", response={201: CampaignMemberOut})
def add_member(
    request: AuthedRequest, campaign_id: Id, payload: CampaignMemberIn
) -> Status[dict[str, Any]]:
    """One contact or one lead the caller sees (409 when already a member)."""
    campaign = _visible(request, campaign_id)
    member = member_services.member_add(
        actor=request.user,
        campaign=campaign,
        contact_id=payload.contact_id,
        lead_id=payload.lead_id,
    )
    row = selectors.member_list(user=request.user, campaign=campaign).get(pk=member.pk)
    return Status(201, selectors.member_row(request.user, row))


@router.post("/campaigns/{campaign_id}/members/from-segment", response=CampaignMembersAdded)
def add_members_from_segment(
    request: AuthedRequest, campaign_id: Id, payload: CampaignSegmentIn
) -> dict[str, Any]:
    """Add a segment's people (as the caller sees them), skipping those already in."""
    campaign = _visible(request, campaign_id)
    added = member_services.members_add_from_segment(
        actor=request.user,
        campaign=campaign,
        segment_id=payload.segment_id,
        primary_only=payload.primary_only,
    )
    return {"added": added.added, "already": added.already}


@router.post("/campaigns/{campaign_id}/members/responses", response=CampaignResponsesOut)
def set_responses(
    request: AuthedRequest, campaign_id: Id, payload: CampaignResponsesIn
) -> dict[str, Any]:
    """One response for the selected members (up to 5,000)."""
    campaign = _visible(request, campaign_id)
    changed = member_services.members_set_response(
        actor=request.user,
        campaign=campaign,
        member_ids=payload.member_ids,
        response=payload.response,
    )
    return {"changed": changed}


@router.patch("/campaigns/{campaign_id}/members/{member_id}", response=CampaignMemberOut)
def update_member(
    request: AuthedRequest, campaign_id: Id, member_id: Id, payload: CampaignMemberPatch
) -> dict[str, Any]:
    campaign = _visible(request, campaign_id)
    member_services.member_set_response(
        actor=request.user, campaign=campaign, member_id=member_id, response=payload.response
    )
    row = selectors.member_list(user=request.user, campaign=campaign).get(pk=member_id)
    return selectors.member_row(request.user, row)


@router.delete("/campaigns/{campaign_id}/members/{member_id}", response={204: None})
def remove_member(request: AuthedRequest, campaign_id: Id, member_id: Id) -> Status[None]:
    campaign = _visible(request, campaign_id)
    member_services.member_remove(actor=request.user, campaign=campaign, member_id=member_id)
    return Status(204, None)
