"""Who may reach each customer pool, pool customer, release, reveal and offboarding URL and
API operation (the three-way table of ``kehu.core.testing.permissions``).

The pool belongs to 华东区 (its members: 上海组's and 杭州组's reps, the region's manager);
华南区 is outside it. The customer with a contact is 上海组's rep's, shared read-only with the
rep's colleague, who sees its contact masked and may show it (查看).
"""

from __future__ import annotations

from typing import Any

import pytest

from kehu.core.testing.factories import Organisation
from kehu.core.testing.permissions import Endpoint, Masked, cases, check_mask, mask_cases, run
from kehu.customers import services as customer_services
from kehu.pools.models import Offboarding
from kehu.pools.tests.factories import add_contact, make_customer, make_pool, pooled_customer

MOBILE = "13812341234"
MEMBERS = ("rep", "east_manager")
OTHERS = ("south_rep", "south_manager")


def pool(org: Organisation) -> dict[str, Any]:
    row = make_pool(org.east)
    return {"pool_id": row.pk, "_pool": row}


def pool_customer(org: Organisation) -> dict[str, Any]:
    made = pool(org)
    customer = pooled_customer(made["_pool"])
    return {**made, "customer_id": customer.pk}


def owned(org: Organisation) -> dict[str, Any]:
    """The rep's customer (in the path) and the pool of the rep's region."""
    return {"customer_id": make_customer(org.rep).pk, "_pool": make_pool(org.east)}


def pool_and_owned(org: Organisation) -> dict[str, Any]:
    """The pool (in the path) and the rep's customer to put into it."""
    return {**pool(org), "_customer": make_customer(org.rep)}


def contact(org: Organisation) -> dict[str, Any]:
    customer = make_customer(org.rep)
    customer_services.customer_share(actor=org.rep, customer=customer, user=org.colleague)
    return {"contact_id": add_contact(customer, mobile="13812341234").pk}


def pool_with_contact(org: Organisation) -> dict[str, Any]:
    """The pool with an owner-less customer whose primary contact has a mobile."""
    made = pool(org)
    add_contact(pooled_customer(made["_pool"]), mobile=MOBILE, is_primary=True)
    return made


def offboarding(org: Organisation) -> dict[str, Any]:
    row = Offboarding.objects.create(user=org.colleague, actor=org.admin, mode="pool")
    return {"offboarding_id": row.pk}


def release_body(org: Organisation, made: dict[str, Any]) -> dict[str, Any]:
    return {"reason": "客户暂无需求", "pool": made["_pool"].pk}


TABLE = [
    # --- API ---
    Endpoint("GET /pools/{pool_id}", pool, may=MEMBERS, out_of_scope=OTHERS),
    Endpoint(
        "PATCH /pools/{pool_id}",
        pool,
        body={"description": "华东区公海"},
        may=("admin",),
        may_not=MEMBERS,
        out_of_scope=OTHERS,
    ),
    Endpoint("GET /pools/{pool_id}/customers", pool, may=MEMBERS, out_of_scope=OTHERS),
    Endpoint(
        "POST /pools/{pool_id}/customers",
        pool_and_owned,
        body=lambda org, made: {"customer_id": made["_customer"].pk, "reason": "长期未跟进"},
        may=("admin",),
        may_not=MEMBERS,
        out_of_scope=OTHERS,
        status=201,
    ),
    Endpoint(
        "POST /pools/{pool_id}/customers/{customer_id}/claim",
        pool_customer,
        may=("rep", "hangzhou_rep"),
        out_of_scope=OTHERS,
    ),
    Endpoint(
        "POST /pools/{pool_id}/customers/{customer_id}/assign",
        pool_customer,
        body=lambda org, made: {"assignee_id": org.colleague.pk},
        may=("east_manager", "admin"),
        may_not=("rep",),
        out_of_scope=OTHERS,
    ),
    Endpoint(
        "POST /pools/reveal/contact/{contact_id}",
        contact,
        may=("rep", "colleague", "east_manager"),
        may_not=("marketing",),
        out_of_scope=("south_rep", "hangzhou_rep"),
    ),
    Endpoint(
        "GET /offboarding/{offboarding_id}",
        offboarding,
        may=("admin",),
        may_not=("rep", "east_manager"),
        out_of_scope=(),
    ),
    # --- UI ---
    Endpoint("GET pools:detail", pool, may=MEMBERS, out_of_scope=OTHERS),
    Endpoint(
        "GET pools:edit",
        pool,
        may=("admin",),
        may_not=MEMBERS,
        out_of_scope=OTHERS,
    ),
    Endpoint(
        "POST pools:edit",
        pool,
        body=lambda org, made: {
            "name": made["_pool"].name,
            "description": "华东区公海",
            "departments": [org.east.pk],
            "max_held_per_rep": 50,
            "max_claims_per_day": 10,
            "recycle_no_followup_days": 30,
            "recycle_no_deal_days": 90,
            "warn_days_before": 3,
            "cooling_days": 30,
            "version": made["_pool"].version,
        },
        may=("admin",),
        may_not=MEMBERS,
        out_of_scope=OTHERS,
    ),
    Endpoint(
        "POST pools:put",
        pool_and_owned,
        body=lambda org, made: {"number": made["_customer"].number, "reason": "长期未跟进"},
        may=("admin",),
        may_not=MEMBERS,
        out_of_scope=OTHERS,
    ),
    Endpoint("POST pools:claim", pool_customer, may=("rep", "hangzhou_rep"), out_of_scope=OTHERS),
    Endpoint(
        "POST pools:assign",
        pool_customer,
        body=lambda org, made: {"assignee": org.colleague.pk},
        may=("east_manager", "admin"),
        may_not=("rep",),
        out_of_scope=OTHERS,
    ),
    Endpoint(
        "GET pools:release",
        owned,
        may=("rep", "east_manager"),
        may_not=("marketing",),
        out_of_scope=("colleague", "south_manager"),
    ),
    Endpoint(
        "POST pools:release",
        owned,
        body=release_body,
        may=("rep", "east_manager"),
        may_not=("marketing",),
        out_of_scope=("colleague", "south_manager"),
    ),
    Endpoint(
        "POST pools:reveal_contact",
        contact,
        may=("rep", "colleague", "east_manager"),
        may_not=("marketing",),
        out_of_scope=("south_rep", "hangzhou_rep"),
        status=200,  # htmx swaps the button for the values
        defects={
            "may_not:marketing": "the refusal is rendered with 200 (for htmx to swap it) "
            "instead of answering 403"
        },
    ),
]

# A pool's members see its customers' contacts masked: nobody owns them.
MASKS = [
    Masked(
        "GET /pools/{pool_id}/customers",
        pool_with_contact,
        actor,
        shows={"items.0.contact_mobile": "138****1234"},
        hides=(MOBILE,),
    )
    for actor in MEMBERS
]


@pytest.mark.parametrize(("entry", "kind", "actor"), cases(TABLE))
def test_permission(entry: Endpoint, kind: str, actor: str, request: pytest.FixtureRequest) -> None:
    run(entry, kind, actor, request)


@pytest.mark.parametrize("mask", mask_cases(MASKS))
def test_masked(mask: Masked, org: Organisation) -> None:
    check_mask(mask, org)
