"""Who may reach each external-id API operation (the three-way table of
``kehu.core.testing.permissions``).

The records belong to 上海组's rep; the customer is shared read-write with their colleague.
Marketing reads every customer but edits none (403 on a write); 华南区's rep and 杭州组's rep
are other teams (404). The bulk upserts take no record in their path: a caller outside a
record's scope gets that record's 404 in the per-record results, and they are not table
entries (tables hold operations that take an object): ``test_external_ids`` checks them.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from kehu.core.testing.factories import Organisation
from kehu.core.testing.permissions import Endpoint, Roles, cases, run
from kehu.customers import services as customer_services
from kehu.customers.models import Contact
from kehu.customers.tests.factories import make_customer
from kehu.integrations.models import ExternalId, ExternalKind
from kehu.opportunities.tests.factories import make_opportunity

VIEWERS = ("rep", "colleague", "east_manager", "marketing", "admin")
OTHERS = ("south_rep", "hangzhou_rep")
WRITE: Roles = {
    "may": ("rep", "colleague", "east_manager", "admin"),
    "may_not": ("marketing",),
    "out_of_scope": OTHERS,
}

pytestmark = pytest.mark.django_db  # the cases build their organisation through ``run``


def _id(kind: str, object_id: int, external_id: str) -> None:
    ExternalId.objects.create(
        kind=kind, object_id=object_id, system="kingdee", external_id=external_id
    )


def customer(org: Organisation) -> dict[str, Any]:
    row = make_customer(org.rep)
    customer_services.customer_share(actor=org.rep, customer=row, user=org.colleague, can_edit=True)
    _id(ExternalKind.CUSTOMER, row.pk, "C00012")
    return {"system": "kingdee", "external_id": "C00012", "_customer": row}


def contact(org: Organisation) -> dict[str, Any]:
    made = customer(org)
    row = Contact.objects.create(customer=made["_customer"], name="张经理", mobile="13812341234")
    _id(ExternalKind.CONTACT, row.pk, "P001")
    return {"system": "kingdee", "external_id": "P001", "_contact": row}


def deal(org: Organisation) -> dict[str, Any]:
    made = customer(org)
    row = make_opportunity(org.rep, made["_customer"], amount=Decimal("880000"))
    _id(ExternalKind.OPPORTUNITY, row.pk, "SO-1")
    return {"system": "kingdee", "external_id": "SO-1", "_deal": row}


TABLE: list[Endpoint] = [
    Endpoint(
        "GET /customers/by-external/{system}/{external_id}",
        customer,
        may=VIEWERS,
        out_of_scope=OTHERS,
    ),
    Endpoint(
        "PUT /customers/by-external/{system}/{external_id}",
        customer,
        body={"notes": "ERP 同步"},
        **WRITE,
    ),
    Endpoint(
        "GET /contacts/by-external/{system}/{external_id}",
        contact,
        may=VIEWERS,
        out_of_scope=OTHERS,
    ),
    Endpoint(
        "PUT /contacts/by-external/{system}/{external_id}",
        contact,
        body={"title": "采购总监"},
        **WRITE,
    ),
    Endpoint(
        "GET /opportunities/by-external/{system}/{external_id}",
        deal,
        may=("rep", "colleague", "east_manager", "admin"),
        out_of_scope=(*OTHERS, "marketing"),
    ),
    Endpoint(
        "PUT /opportunities/by-external/{system}/{external_id}",
        deal,
        body={"next_step": "ERP 已下单"},
        may=("rep", "colleague", "east_manager", "admin"),
        out_of_scope=(*OTHERS, "marketing"),
    ),
]


@pytest.mark.parametrize(("entry", "kind", "actor"), cases(TABLE))
def test_permission(entry: Endpoint, kind: str, actor: str, request: pytest.FixtureRequest) -> None:
    run(entry, kind, actor, request)
