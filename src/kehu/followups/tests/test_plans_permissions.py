"""Who may reach each cadence plan and care date URL and API operation (the three-way table of
``kehu.core.testing.permissions``), imported by ``test_permissions``.

The rule belongs to 上海组, set by the east manager: the east manager (上海组 is below 华东区)
and the admin read and change it; the roles that manage no rules (a sales rep, service,
marketing) get 403; the other region's manager does not see it (404). The cases run from
``test_permissions`` (its ``TABLE`` includes this one), so each runs once.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from kehu.core.testing.factories import Organisation
from kehu.core.testing.permissions import Endpoint, Roles
from kehu.followups import plan_services

RULES: Roles = {
    "may": ("east_manager", "admin"),
    "may_not": ("rep", "service", "marketing"),
    "out_of_scope": ("south_manager",),
}


def team_plan(org: Organisation) -> dict[str, Any]:
    plan = plan_services.cadence_plan_create(
        actor=org.east_manager,
        data={"name": "上海组意向客户：每天跟进", "status": "intent", "interval_days": 1,
              "department": org.shanghai.pk},
    )  # fmt: skip
    return {"plan_id": plan.pk, "_plan": plan}


def team_care_date(org: Organisation) -> dict[str, Any]:
    care = plan_services.care_date_create(
        actor=org.east_manager,
        data={"date": date(2027, 6, 18), "name": "上海组客户答谢日", "department": org.shanghai.pk},
    )
    return {"care_id": care.pk, "_care": care}


def plan_patch(org: Organisation, made: dict[str, Any]) -> dict[str, Any]:
    return {"version": made["_plan"].version, "interval_days": 2, "reason": "节奏太紧"}


def plan_form(org: Organisation, made: dict[str, Any]) -> dict[str, Any]:
    return {
        "version": made["_plan"].version,
        "name": "上海组意向客户：每 2 天跟进",
        "status": "intent",
        "interval_days": 2,
        "is_active": "on",
        "department": org.shanghai.pk,
        "reason": "节奏太紧",
    }


def care_patch(org: Organisation, made: dict[str, Any]) -> dict[str, Any]:
    return {"version": made["_care"].version, "is_active": False}


def care_form(org: Organisation, made: dict[str, Any]) -> dict[str, Any]:
    return {
        "version": made["_care"].version,
        "date": "2027-06-19",
        "name": "上海组客户答谢日",
        "department": org.shanghai.pk,
    }


TABLE = [
    # --- API ---
    Endpoint("GET /cadence-plans/{plan_id}", team_plan, **RULES),
    Endpoint("GET /cadence-plans/{plan_id}/history", team_plan, **RULES),
    Endpoint("PATCH /cadence-plans/{plan_id}", team_plan, body=plan_patch, **RULES),
    Endpoint("DELETE /cadence-plans/{plan_id}", team_plan, **RULES),
    Endpoint("GET /care-dates/{care_id}", team_care_date, **RULES),
    Endpoint("GET /care-dates/{care_id}/history", team_care_date, **RULES),
    Endpoint("PATCH /care-dates/{care_id}", team_care_date, body=care_patch, **RULES),
    Endpoint("DELETE /care-dates/{care_id}", team_care_date, **RULES),
    # --- UI ---
    Endpoint("GET followups:cadence_plan_edit", team_plan, **RULES),
    Endpoint("POST followups:cadence_plan_edit", team_plan, body=plan_form, **RULES),
    Endpoint("GET followups:cadence_plan_delete", team_plan, **RULES),
    Endpoint("POST followups:cadence_plan_delete", team_plan, **RULES),
    Endpoint("GET followups:care_date_edit", team_care_date, **RULES),
    Endpoint("POST followups:care_date_edit", team_care_date, body=care_form, **RULES),
    Endpoint("GET followups:care_date_delete", team_care_date, **RULES),
    Endpoint("POST followups:care_date_delete", team_care_date, **RULES),
]
