"""Who may reach each SLA policy and business-calendar URL and API operation (the three-way
table of ``kehu.core.testing.permissions``). Both are settings without an owner: every
signed-in user reads them, admins alone change them; no scope, so no out-of-scope case."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest

from kehu.core.testing.factories import Organisation
from kehu.core.testing.permissions import Endpoint, Roles, cases, run
from kehu.service.services import calendar, sla

ADMIN_ONLY: Roles = {"may": ("admin",), "may_not": ("east_manager", "service"), "out_of_scope": ()}
READERS: Roles = {"may": ("admin", "service", "rep", "marketing"), "out_of_scope": ()}


def policy(org: Organisation) -> dict[str, Any]:
    row = sla.policy_create(
        actor=org.admin,
        data={"priority": "high", "customer_grade": "A", "respond_minutes": 30,
              "resolve_minutes": 240},
    )  # fmt: skip
    return {"policy_id": row.pk, "_policy": row}


def entry(org: Organisation) -> dict[str, Any]:
    row = calendar.calendar_entry_create(
        actor=org.admin,
        data={"name": "公司年会", "kind": "holiday", "start": date(2031, 1, 10),
              "end": date(2031, 1, 10)},
    )  # fmt: skip
    return {"entry_id": row.pk, "_entry": row}


def policy_form(org: Organisation, made: dict[str, Any]) -> dict[str, Any]:
    return {"version": made["_policy"].version, "priority": "high", "customer_grade": "A",
            "respond_minutes": 45, "resolve_minutes": 240, "warn_before_minutes": 15,
            "is_active": "on"}  # fmt: skip


TABLE = [
    Endpoint("GET /sla-policies/{policy_id}", policy, **READERS),
    Endpoint(
        "PATCH /sla-policies/{policy_id}",
        policy,
        body=lambda org, made: {"version": made["_policy"].version, "respond_minutes": 20},
        **ADMIN_ONLY,
    ),
    Endpoint("DELETE /sla-policies/{policy_id}", policy, **ADMIN_ONLY),
    Endpoint("GET /business-calendar/{entry_id}", entry, **READERS),
    Endpoint("PATCH /business-calendar/{entry_id}", entry, body={"name": "年会"}, **ADMIN_ONLY),
    Endpoint("DELETE /business-calendar/{entry_id}", entry, **ADMIN_ONLY),
    Endpoint("GET service:sla_policy_edit", policy, **ADMIN_ONLY),
    Endpoint("POST service:sla_policy_edit", policy, body=policy_form, **ADMIN_ONLY),
    Endpoint("POST service:sla_policy_delete", policy, **ADMIN_ONLY),
    Endpoint("GET service:calendar_entry_edit", entry, **ADMIN_ONLY),
    Endpoint(
        "POST service:calendar_entry_edit",
        entry,
        body={"name": "年会", "kind": "holiday", "start": "2031-01-10", "end": "2031-01-11"},
        **ADMIN_ONLY,
    ),
    Endpoint("POST service:calendar_entry_delete", entry, **ADMIN_ONLY),
]


@pytest.mark.parametrize(("entry", "kind", "actor"), cases(TABLE))
def test_permission(entry: Endpoint, kind: str, actor: str, request: pytest.FixtureRequest) -> None:
    run(entry, kind, actor, request)
