"""/api/v1/campaigns/{id}/results and /api/v1/campaigns/compare: a campaign's 复盘 figures.

Admins and marketing read every campaign's results, a manager their departments'; sales and
service none (404, as a campaign outside the scope). Rates are percent points, ROI a ratio
((won − cost) / cost); an undefined figure (nothing to divide by) is ``null``.
Figures and their definitions: docs/campaign-results.md.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any

from ninja import Query, Router, Schema

from kehu.accounts.http import AuthedRequest
from kehu.campaigns.selectors import results as selectors
from kehu.core.errors import NotFound
from kehu.core.numbers import MAX_INT, Id
from kehu.core.pagination import API_MAX_LIMIT, BoundedPageOut, page_of

router = Router(tags=["campaigns"])


class ResultsAttributionOut(Schema):
    leads: int
    opportunities: int
    won: int
    won_amount: float
    roi: float | None


class ResultsGoalOut(Schema):
    id: int
    label: str
    metric: str
    industry: str | None
    region: str | None
    target: float
    actual: float
    progress: float | None
    met: bool


class ResultsFunnelOut(Schema):
    invited: int
    registered: int
    attended: int
    interested: int


class CampaignResultsOut(Schema):
    campaign_id: int
    name: str
    kind: str
    status: str
    starts_on: date
    ends_on: date
    department_id: int | None
    budget: float | None
    members: int
    funnel: ResultsFunnelOut
    reached: int
    responded: int
    response_rate: float | None
    messages_sent: int
    leads: int
    converted_leads: int
    lead_conversion_rate: float | None
    new_customers: int
    cost: float
    cost_per_lead: float | None
    opportunities: int
    won_amount: float
    roi: float | None
    first_touch: ResultsAttributionOut
    last_touch: ResultsAttributionOut
    goals: list[ResultsGoalOut]
    amounts_masked: bool


class CampaignComparePage(BoundedPageOut):
    items: list[CampaignResultsOut]


def _number(value: Decimal | int | None) -> float | None:
    return None if value is None else float(value)


def results_out(result: selectors.CampaignResults) -> dict[str, Any]:
    campaign = result.campaign
    return {
        "campaign_id": campaign.pk,
        "name": campaign.name,
        "kind": campaign.kind,
        "status": campaign.status,
        "starts_on": campaign.starts_on,
        "ends_on": campaign.ends_on,
        "department_id": campaign.department_id,
        "budget": _number(campaign.budget),
        "members": result.members,
        "funnel": result.funnel,
        "reached": result.reached,
        "responded": result.responded,
        "response_rate": _number(result.response_rate),
        "messages_sent": result.messages_sent,
        "leads": result.leads,
        "converted_leads": result.converted_leads,
        "lead_conversion_rate": _number(result.lead_conversion_rate),
        "new_customers": result.new_customers,
        "cost": float(result.cost),
        "cost_per_lead": _number(result.cost_per_lead),
        "opportunities": result.opportunities,
        "won_amount": float(result.won_amount),
        "roi": _number(result.roi),
        "first_touch": {**result.first.as_dict(), "roi": _number(result.first.roi)},
        "last_touch": {**result.last.as_dict(), "roi": _number(result.last.roi)},
        "goals": [
            {
                "id": goal.goal.pk,
                "label": goal.goal.label,
                "metric": goal.goal.metric,
                "industry": goal.goal.industry_id,
                "region": goal.goal.region_id,
                "target": float(goal.goal.target),
                "actual": float(goal.actual),
                "progress": _number(goal.progress),
                "met": goal.met,
            }
            for goal in result.goals
        ],
        "amounts_masked": result.amounts_masked,
    }


@router.get("/campaigns/compare", response=CampaignComparePage)
def compare_campaigns(
    request: AuthedRequest,
    limit: int = Query(50, ge=1, le=API_MAX_LIMIT),
    offset: int = Query(0, ge=0, le=MAX_INT),
) -> dict[str, Any]:
    """The results of the campaigns in the caller's scope, newest first; filters ``from``
    and ``to`` (campaigns running on any day between them), ``type``, ``department``.
    A bad filter is 422 naming it."""
    if not selectors.may_see_results(request.user):
        raise NotFound("campaign results")
    filters = selectors.parse_compare_filters(request.GET)
    rows = selectors.compare_campaigns(request.user, filters)
    page = page_of(rows, offset=offset, limit=limit)
    page["items"] = [results_out(row) for row in selectors.results_for(request.user, page["items"])]
    return page


@router.get("/campaigns/{campaign_id}/results", response=CampaignResultsOut)
def campaign_results(request: AuthedRequest, campaign_id: Id) -> dict[str, Any]:
    """Reach, responses, leads, cost, first- and last-touch attribution, ROI and goals."""
    return results_out(selectors.campaign_results(request.user, campaign_id))
