"""The permission table of the governance retention endpoints.

Retention policies, legal holds and destruction reviews are the administrators' alone: every
other role answers 403, whatever it sees of the customers concerned. Policies, holds and
reviews belong to no team, so no case is out of scope.
"""

from __future__ import annotations

from typing import Any

import pytest

from kehu.core.testing.factories import Organisation
from kehu.core.testing.permissions import Endpoint, Roles, cases, run
from kehu.customers import services as customers
from kehu.governance.models import RetentionPolicy
from kehu.governance.services import holds, retention

ADMIN_ONLY: Roles = {
    "may": ("admin",),
    "may_not": ("rep", "east_manager", "marketing", "service"),
    "out_of_scope": (),
}


def policy(org: Organisation) -> dict[str, Any]:
    retention.ensure_default_policies()  # a transactional test elsewhere may have flushed them
    made = RetentionPolicy.objects.get(key="customer.churned")
    return {"retention_policy_id": made.pk, "_version": made.version}


def customer(org: Organisation) -> dict[str, Any]:
    made = customers.customer_create(
        actor=org.rep, data={"name": "保全测试有限公司", "owner": org.rep}, force=True
    )
    return {"customer_id": made.pk}


def hold(org: Organisation) -> dict[str, Any]:
    made = holds.hold_set(actor=org.admin, customer_id=customer(org)["customer_id"], reason="诉讼")
    return {"hold_id": made.pk}


def batch(org: Organisation) -> dict[str, Any]:
    made = retention.batch_prepare(actor=org.admin, notify_admins=False)
    return {"batch_id": made.pk, "_version": made.version}


def versioned(extra: dict[str, Any]) -> Any:
    def body(org: Organisation, made: dict[str, Any]) -> dict[str, Any]:
        return {"version": made["_version"], **extra}

    return body


TABLE = [
    # --- API ---
    Endpoint(
        "PATCH /retention-policies/{retention_policy_id}",
        policy,
        body=versioned({"years": 4}),
        **ADMIN_ONLY,
    ),
    Endpoint("GET /legal-holds/{hold_id}", hold, **ADMIN_ONLY),
    Endpoint("POST /legal-holds/{hold_id}/remove", hold, body={"reason": "结案"}, **ADMIN_ONLY),
    Endpoint("GET /destructions/{batch_id}", batch, **ADMIN_ONLY),
    Endpoint("POST /destructions/{batch_id}/approve", batch, body=versioned({}), **ADMIN_ONLY),
    # --- UI ---
    Endpoint(
        "POST governance:retention_policy",
        policy,
        body=versioned({"years": 4, "is_active": "on"}),
        **ADMIN_ONLY,
    ),
    Endpoint("GET governance:retention_batch", batch, **ADMIN_ONLY),
    Endpoint(
        "POST governance:retention_batch",
        batch,
        body=versioned({"action": "approve"}),
        **ADMIN_ONLY,
    ),
    Endpoint("POST governance:hold_set", customer, body={"reason": "诉讼"}, **ADMIN_ONLY),
    Endpoint("POST governance:hold_remove", hold, body={"reason": "结案"}, **ADMIN_ONLY),
]


@pytest.mark.parametrize(("entry", "kind", "actor"), cases(TABLE))
def test_permission(entry: Endpoint, kind: str, actor: str, request: pytest.FixtureRequest) -> None:
    run(entry, kind, actor, request)
