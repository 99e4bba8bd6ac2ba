"""The permission table of the personal-data request endpoints (``kehu.core.testing.permissions``).

Requests are the administrators' alone: every other role answers 403, whatever it sees of the
person. Requests belong to no team, so no case is out of scope.
"""

from __future__ import annotations

from typing import Any

import pytest

from kehu.core.testing.factories import Organisation
from kehu.core.testing.permissions import Endpoint, Roles, cases, run
from kehu.customers import services as customer_services
from kehu.governance.services import requests as services

ADMIN_ONLY: Roles = {
    "may": ("admin",),
    "may_not": ("rep", "east_manager", "marketing", "service"),
    "out_of_scope": (),
}


def _request(org: Organisation, kind: str) -> dict[str, Any]:
    customer = customer_services.customer_create(
        actor=org.rep,
        data={"name": "无锡权限测试有限公司"},
        contacts=[{"name": "钱多多", "email": "qian@example.cn"}],
    )
    made = services.request_create(
        actor=org.admin,
        kind=kind,
        subject_type="contact",
        subject_id=customer.contacts.get().pk,
    )
    return {"request_id": made.pk, "_request": made}


def access(org: Organisation) -> dict[str, Any]:
    return _request(org, "access")


def correction(org: Organisation) -> dict[str, Any]:
    return _request(org, "correction")


def versioned(org: Organisation, made: dict[str, Any]) -> dict[str, Any]:
    return {"version": made["_request"].version}


def corrected(org: Organisation, made: dict[str, Any]) -> dict[str, Any]:
    return {"version": made["_request"].version, "changes": {"title": "采购总监"}}


def corrected_form(org: Organisation, made: dict[str, Any]) -> dict[str, Any]:
    return {
        "version": made["_request"].version,
        "name": "钱多多",
        "email": "qian@example.cn",
        "title": "采购总监",
    }


def refused(org: Organisation, made: dict[str, Any]) -> dict[str, Any]:
    return {"version": made["_request"].version, "reason": "无法核实身份"}


TABLE = [
    # --- API ---
    Endpoint("GET /personal-data-requests/{request_id}", access, **ADMIN_ONLY),
    Endpoint("GET /personal-data-requests/{request_id}/export.json", access, **ADMIN_ONLY),
    Endpoint("GET /personal-data-requests/{request_id}/export.xlsx", access, **ADMIN_ONLY),
    Endpoint(
        "POST /personal-data-requests/{request_id}/complete", access, body=versioned, **ADMIN_ONLY
    ),
    Endpoint(
        "POST /personal-data-requests/{request_id}/complete",
        correction,
        body=corrected,
        label="correction",
        **ADMIN_ONLY,
    ),
    Endpoint(
        "POST /personal-data-requests/{request_id}/refuse", access, body=refused, **ADMIN_ONLY
    ),
    # --- UI ---
    Endpoint("GET governance:request", access, **ADMIN_ONLY),
    Endpoint("GET governance:request_export_json", access, **ADMIN_ONLY),
    Endpoint("GET governance:request_export_xlsx", access, **ADMIN_ONLY),
    Endpoint("POST governance:request_complete", access, body=versioned, **ADMIN_ONLY),
    Endpoint(
        "POST governance:request_complete",
        correction,
        body=corrected_form,
        label="correction",
        **ADMIN_ONLY,
    ),
    Endpoint("POST governance:request_refuse", access, body=refused, **ADMIN_ONLY),
]


@pytest.mark.parametrize(("entry", "kind", "actor"), cases(TABLE))
def test_permission(entry: Endpoint, kind: str, actor: str, request: pytest.FixtureRequest) -> None:
    run(entry, kind, actor, request)
