"""Who may reach each campaigns URL and API operation (the three-way table of
``kehu.core.testing.permissions``).

The campaign is owned by 上海组's rep and planned by their manager (east_manager): the rep
sees it but may not change it (403); east_manager (华东区), marketing (every campaign) and the
admin manage it; 华南区's manager and rep do not see it (404).
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.utils import timezone

from kehu.campaigns.models import Campaign, CampaignMember
from kehu.campaigns.services import campaigns as services
from kehu.campaigns.tests.support import (
    MOBILE,
    make_customer,
    static_segment,
    team_campaign,
    with_member,
)
from kehu.core.testing.factories import Organisation
from kehu.core.testing.permissions import (
    Endpoint,
    Masked,
    Roles,
    cases,
    check_mask,
    mask_cases,
    run,
)
from kehu.leads.models import Source, WebForm

VIEW: Roles = {
    "may": ("rep", "east_manager", "marketing", "admin"),
    "out_of_scope": ("south_manager", "south_rep"),
}
WRITE: Roles = {
    "may": ("east_manager", "marketing", "admin"),
    "may_not": ("rep",),
    "out_of_scope": ("south_manager", "south_rep"),
}


def campaign(org: Organisation) -> dict[str, Any]:
    made = team_campaign(org)
    return {"campaign_id": made.pk, "_campaign": made}


def member(org: Organisation) -> dict[str, Any]:
    made, added = with_member(org)
    return {"campaign_id": made.pk, "_campaign": made, "_member": added}


def member_path(org: Organisation) -> dict[str, Any]:
    made = member(org)
    return {**made, "member_id": made["_member"].pk}


def goal(org: Organisation) -> dict[str, Any]:
    made = campaign(org)
    added = services.goal_add(
        actor=org.admin,
        campaign=made["_campaign"],
        data={"label": "新增30家制造业中小企业", "metric": "customers", "target": "30"},
    )
    return {**made, "goal_id": added.pk}


def cost(org: Organisation) -> dict[str, Any]:
    made = campaign(org)
    added = services.cost_add(
        actor=org.admin, campaign=made["_campaign"], data={"amount": "1200", "category": "venue"}
    )
    return {**made, "cost_id": added.pk}


def web_form(org: Organisation) -> WebForm:
    return WebForm.objects.create(name="展会报名表", source=Source.TRADE_SHOW)


def free_form(org: Organisation) -> dict[str, Any]:
    made = campaign(org)
    return {**made, "_form": web_form(org)}


def attached_form(org: Organisation) -> dict[str, Any]:
    made = campaign(org)
    form = web_form(org)
    services.form_attach(actor=org.admin, campaign=made["_campaign"], web_form_id=form.pk)
    return {**made, "web_form_id": form.pk}


def segment(org: Organisation) -> dict[str, Any]:
    made = campaign(org)
    customers = [make_customer(org.rep), make_customer(org.colleague)]
    return {**made, "_segment": static_segment(org.east_manager, customers)}


def versioned(**fields: Any) -> Any:
    def body(org: Organisation, made: dict[str, Any]) -> dict[str, Any]:
        row: Campaign = made["_campaign"]
        row.refresh_from_db()
        return {"version": row.version, **fields}

    return body


def plan_form(org: Organisation, made: dict[str, Any]) -> dict[str, Any]:
    row: Campaign = made["_campaign"]
    today = timezone.localdate()
    return {
        "name": "改过的展会",
        "kind": "trade_show",
        "starts_on": today.isoformat(),
        "ends_on": (today + timedelta(days=3)).isoformat(),
        "owner": row.owner_id,
        "department": row.department_id or "",
        "budget": "60000",
        "description": "",
        "version": row.version,
    }


def goal_form(org: Organisation, made: dict[str, Any]) -> dict[str, Any]:
    return {"label": "华东区20家", "metric": "customers", "target": "20"}


def cost_form(org: Organisation, made: dict[str, Any]) -> dict[str, Any]:
    return {"spent_on": timezone.localdate().isoformat(), "amount": "800", "category": "venue"}


def form_body(org: Organisation, made: dict[str, Any]) -> dict[str, Any]:
    return {"web_form_id": made["_form"].pk}


def segment_body(org: Organisation, made: dict[str, Any]) -> dict[str, Any]:
    return {"segment_id": made["_segment"].pk}


def responses_body(org: Organisation, made: dict[str, Any]) -> dict[str, Any]:
    added: CampaignMember = made["_member"]
    return {"member_ids": [added.pk], "response": "registered"}


def member_body(org: Organisation, made: dict[str, Any]) -> dict[str, Any]:
    customer = make_customer(org.rep)
    return {"contact_id": customer.contacts.get().pk}


TABLE = [
    # --- API ---
    Endpoint("GET /campaigns/{campaign_id}", campaign, **VIEW),
    Endpoint("PATCH /campaigns/{campaign_id}", campaign, body=versioned(name="改"), **WRITE),
    Endpoint("DELETE /campaigns/{campaign_id}", campaign, **WRITE),
    Endpoint("POST /campaigns/{campaign_id}/status", campaign, body={"status": "running"}, **WRITE),
    Endpoint(
        "POST /campaigns/{campaign_id}/goals",
        campaign,
        body={"label": "新增30家", "metric": "customers", "target": "30"},
        status=201,
        **WRITE,
    ),
    Endpoint("DELETE /campaigns/{campaign_id}/goals/{goal_id}", goal, **WRITE),
    Endpoint(
        "POST /campaigns/{campaign_id}/costs",
        campaign,
        body={"amount": "500.00", "category": "materials"},
        status=201,
        **WRITE,
    ),
    Endpoint("DELETE /campaigns/{campaign_id}/costs/{cost_id}", cost, **WRITE),
    Endpoint("POST /campaigns/{campaign_id}/forms", free_form, body=form_body, status=201, **WRITE),
    Endpoint("DELETE /campaigns/{campaign_id}/forms/{web_form_id}", attached_form, **WRITE),
    Endpoint("GET /campaigns/{campaign_id}/members", member, **VIEW),
    Endpoint(
        "POST /campaigns/{campaign_id}/members", campaign, body=member_body, status=201, **WRITE
    ),
    Endpoint(
        "POST /campaigns/{campaign_id}/members/from-segment", segment, body=segment_body, **WRITE
    ),
    Endpoint(
        "POST /campaigns/{campaign_id}/members/responses", member, body=responses_body, **WRITE
    ),
    Endpoint(
        "PATCH /campaigns/{campaign_id}/members/{member_id}",
        member_path,
        body={"response": "attended"},
        **WRITE,
    ),
    Endpoint("DELETE /campaigns/{campaign_id}/members/{member_id}", member_path, **WRITE),
    # --- UI ---
    Endpoint("GET campaigns:detail", member, **VIEW),
    Endpoint("GET campaigns:members", member, **VIEW),
    Endpoint("GET campaigns:edit", campaign, **WRITE),
    Endpoint("POST campaigns:edit", campaign, body=plan_form, **WRITE),
    Endpoint("POST campaigns:status", campaign, body=versioned(status="running"), **WRITE),
    Endpoint("POST campaigns:review", campaign, body=versioned(review="到访量超出预期"), **WRITE),
    Endpoint("POST campaigns:delete", campaign, **WRITE),
    Endpoint("POST campaigns:goal_add", campaign, body=goal_form, **WRITE),
    Endpoint("POST campaigns:goal_remove", goal, **WRITE),
    Endpoint("POST campaigns:cost_add", campaign, body=cost_form, **WRITE),
    Endpoint("POST campaigns:cost_remove", cost, **WRITE),
    Endpoint("POST campaigns:form_attach", free_form, body=form_body, **WRITE),
    Endpoint("POST campaigns:form_detach", attached_form, **WRITE),
    Endpoint("POST campaigns:members_from_segment", segment, body=segment_body, **WRITE),
    Endpoint("POST campaigns:members_response", member, body=responses_body, **WRITE),
    Endpoint("POST campaigns:member_remove", member_path, **WRITE),
]

MASKED_MOBILE = "138****5678"
MASKS = [
    # Marketing manages the campaign but reads the rep's customer's contact masked
    Masked(
        "GET /campaigns/{campaign_id}/members",
        member,
        "marketing",
        shows={"items.0.mobile": MASKED_MOBILE, "items.0.masked": True},
        hides=(MOBILE,),
    ),
    # The rep's manager has full access to the customer
    Masked(
        "GET /campaigns/{campaign_id}/members",
        member,
        "east_manager",
        shows={"items.0.mobile": "+86" + MOBILE, "items.0.masked": False},
    ),
    Masked(
        "GET campaigns:detail", member, "marketing", shows={MASKED_MOBILE: True}, hides=(MOBILE,)
    ),
]


@pytest.mark.parametrize(("entry", "kind", "actor"), cases(TABLE))
def test_permission(entry: Endpoint, kind: str, actor: str, request: pytest.FixtureRequest) -> None:
    run(entry, kind, actor, request)


@pytest.mark.parametrize("mask", mask_cases(MASKS))
def test_masked(mask: Masked, org: Organisation) -> None:
    check_mask(mask, org)
