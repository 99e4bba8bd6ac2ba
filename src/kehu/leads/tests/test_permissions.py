"""Who may reach each lead, assignment rule and web form URL and API operation (the three-way
table of ``kehu.core.testing.permissions``).

The lead is assigned to 上海组's rep; marketing reads every lead (contact data masked);
assignment rules and web forms are administration pages without an owner.
"""

from __future__ import annotations

from typing import Any

import pytest

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
from kehu.leads import services

MOBILE = "13800131234"
VIEWERS = ("rep", "east_manager", "marketing")
OTHERS = ("colleague", "south_manager")
ADMIN_ONLY: Roles = {"may": ("admin",), "may_not": ("rep", "east_manager"), "out_of_scope": ()}


def lead(org: Organisation) -> dict[str, Any]:
    captured = services.lead_capture(
        actor=None,
        data={
            "company_name": "测试科技有限公司",
            "contact_name": "王先生",
            "mobile": MOBILE,
            "email": "wang@corp.cn",
            "source": "trade_show",
        },
    )
    row = services.lead_assign(actor=org.admin, lead=captured, assignee=org.rep)
    return {"lead_id": row.pk, "_lead": row}


def confirmed(org: Organisation) -> dict[str, Any]:
    made = lead(org)
    services.lead_confirm(actor=org.rep, lead=made["_lead"])
    return made


def invalidated(org: Organisation) -> dict[str, Any]:
    made = lead(org)
    services.lead_invalidate(actor=org.rep, lead=made["_lead"], reason="no_need")
    return made


def rule(org: Organisation) -> dict[str, Any]:
    row = services.rule_create(actor=org.admin, data={"name": "上海", "reps": [org.rep]})
    services.rule_create(actor=org.admin, data={"name": "浙江", "department": org.hangzhou})
    return {"rule_id": row.pk, "_rule": row}


def web_form(org: Organisation) -> dict[str, Any]:
    row = services.web_form_create(
        actor=org.marketing, data={"name": "官网留言", "source": "website"}
    )
    return {"form_id": row.pk}


def edit_body(org: Organisation, made: dict[str, Any]) -> dict[str, Any]:
    return {"version": made["_lead"].version, "need": "采购 CRM"}


def edit_form(org: Organisation, made: dict[str, Any]) -> dict[str, Any]:
    row = made["_lead"]
    return {
        "company_name": row.company_name,
        "contact_name": row.contact_name,
        "mobile": row.mobile,
        "source": row.source,
        "priority": row.priority,
        "urgency": row.urgency,
        "need": "采购 CRM",
        "version": row.version,
    }


TABLE = [
    # --- API ---
    Endpoint("GET /leads/{lead_id}", lead, may=VIEWERS, out_of_scope=OTHERS),
    Endpoint(
        "PATCH /leads/{lead_id}",
        lead,
        body=edit_body,
        may=("rep", "east_manager"),
        may_not=("marketing",),
        out_of_scope=OTHERS,
    ),
    Endpoint(
        "POST /leads/{lead_id}/assign",
        lead,
        body=lambda org, made: {"assignee_id": org.colleague.pk},
        may=("east_manager", "admin"),
        may_not=("rep", "marketing"),
        out_of_scope=OTHERS,
    ),
    Endpoint(
        "POST /leads/{lead_id}/confirm",
        lead,
        may=("rep", "admin"),
        may_not=("east_manager", "marketing"),
        out_of_scope=OTHERS,
    ),
    Endpoint(
        "POST /leads/{lead_id}/invalidate",
        lead,
        body={"reason": "no_need"},
        may=("rep", "admin"),
        may_not=("east_manager", "marketing"),
        out_of_scope=OTHERS,
    ),
    Endpoint(
        "POST /leads/{lead_id}/review",
        invalidated,
        body={"decision": "close"},
        may=("admin",),
        may_not=("rep", "east_manager", "marketing"),
        out_of_scope=OTHERS,
    ),
    Endpoint(
        "POST /leads/{lead_id}/convert",
        confirmed,
        body={"force": True},
        may=("rep", "east_manager"),
        may_not=("marketing",),
        out_of_scope=OTHERS,
    ),
    Endpoint(
        "PATCH /leads/rules/{rule_id}",
        rule,
        body=lambda org, made: {"version": made["_rule"].version, "name": "华东"},
        **ADMIN_ONLY,
    ),
    Endpoint("DELETE /leads/rules/{rule_id}", rule, **ADMIN_ONLY),
    # --- UI ---
    Endpoint("GET leads:detail", lead, may=VIEWERS, out_of_scope=OTHERS),
    Endpoint(
        "GET leads:edit",
        lead,
        may=("rep", "east_manager"),
        may_not=("marketing",),
        out_of_scope=OTHERS,
    ),
    Endpoint(
        "POST leads:edit",
        lead,
        body=edit_form,
        may=("rep", "east_manager"),
        may_not=("marketing",),
        out_of_scope=OTHERS,
    ),
    Endpoint(
        "POST leads:confirm",
        lead,
        may=("rep", "admin"),
        may_not=("east_manager", "marketing"),
        out_of_scope=OTHERS,
    ),
    Endpoint(
        "POST leads:invalidate",
        lead,
        body={"reason": "no_need"},
        may=("rep", "admin"),
        may_not=("east_manager", "marketing"),
        out_of_scope=OTHERS,
    ),
    Endpoint(
        "POST leads:assign",
        lead,
        body=lambda org, made: {"assignee": org.colleague.pk},
        may=("east_manager", "admin"),
        may_not=("rep", "marketing"),
        out_of_scope=OTHERS,
        defects={
            "may_not:*": "the form offers the role no assignee and answers 422 before the "
            "service's role check: 403 expected"
        },
    ),
    Endpoint(
        "POST leads:review_lead",
        invalidated,
        body={"decision": "close"},
        may=("admin",),
        may_not=("rep", "east_manager", "marketing"),
        out_of_scope=OTHERS,
    ),
    Endpoint(
        "GET leads:convert",
        confirmed,
        may=("rep", "east_manager"),
        may_not=("marketing",),
        out_of_scope=OTHERS,
        defects={
            "may_not:marketing": "the conversion dialog renders (200) for a role that "
            "may not convert: 403 expected"
        },
    ),
    Endpoint(
        "POST leads:convert",
        confirmed,
        body={"force": "on"},
        may=("rep", "east_manager"),
        may_not=("marketing",),
        out_of_scope=OTHERS,
    ),
    Endpoint("GET leads:rule_edit", rule, **ADMIN_ONLY),
    Endpoint(
        "POST leads:rule_edit",
        rule,
        body=lambda org, made: {
            "name": "华东",
            "is_active": "on",
            "reps": [org.rep.pk],
            "version": made["_rule"].version,
        },
        **ADMIN_ONLY,
    ),
    Endpoint("POST leads:rule_delete", rule, **ADMIN_ONLY),
    Endpoint("POST leads:rule_move", rule, body={"direction": "down"}, **ADMIN_ONLY, silent=True),
    Endpoint(
        "GET leads:web_form",
        web_form,
        may=("marketing", "admin"),
        may_not=("rep", "east_manager"),
        out_of_scope=(),
    ),
    Endpoint(
        "POST leads:web_form",
        web_form,
        silent=True,
        body={"action": "toggle"},
        may=("marketing", "admin"),
        may_not=("rep", "east_manager"),
        out_of_scope=(),
    ),
]

MASKS = [
    Masked("GET /leads/{lead_id}", lead, "rep", shows={"mobile": "+86" + MOBILE, "masked": False}),
    Masked(
        "GET /leads/{lead_id}",
        lead,
        "marketing",
        shows={"mobile": "138****1234", "email": "wa***@corp.cn", "masked": True},
        hides=(MOBILE, "wang@corp.cn"),
    ),
    Masked("GET leads:detail", lead, "marketing", shows={"138****1234": True}, hides=(MOBILE,)),
]


@pytest.mark.parametrize(("entry", "kind", "actor"), cases(TABLE))
def test_permission(entry: Endpoint, kind: str, actor: str, request: pytest.FixtureRequest) -> None:
    run(entry, kind, actor, request)


@pytest.mark.parametrize("mask", mask_cases(MASKS))
def test_masked(mask: Masked, org: Organisation) -> None:
    check_mask(mask, org)
