"""Who may reach each payments URL and API operation (the three-way table of
``kehu.core.testing.permissions``).

The contract belongs to 上海组's rep's deal (east_manager above them). The rep, the manager
and admins plan and record; only managers and admins delete a payment (the rep: 403); another
team's rep and manager and a colleague of the same team (the deal is not theirs) get 404, as do
marketing and service, who do not see deals.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from django.utils import timezone

from kehu.contracts.services import payments as services
from kehu.contracts.tests.support import payments_contract, record_payment
from kehu.core.testing.factories import Organisation
from kehu.core.testing.permissions import Endpoint, Roles, cases, run
from kehu.opportunities.tests.factories import make_opportunity

WRITE: Roles = {
    "may": ("rep", "east_manager", "admin"),
    "out_of_scope": ("south_rep", "south_manager", "colleague", "marketing", "service"),
}
DELETE: Roles = {
    "may": ("east_manager", "admin"),
    "may_not": ("rep",),
    "out_of_scope": ("south_rep", "south_manager", "colleague", "marketing"),
}


def contract(org: Organisation) -> dict[str, Any]:
    deal = make_opportunity(org.rep, amount=Decimal("300000"))
    made = payments_contract(deal, reviewer=org.east_manager)
    return {"contract_id": made.pk, "_contract": made}


def plan(org: Organisation) -> dict[str, Any]:
    made = contract(org)
    row = services.plan_create(
        actor=org.rep,
        contract=made["_contract"],
        data={"due_on": timezone.localdate(), "amount": "100000"},
    )
    return {"plan_id": row.pk}


def payment(org: Organisation) -> dict[str, Any]:
    made = contract(org)
    return {"payment_id": record_payment(made["_contract"], amount="1000").pk}


def today() -> str:
    return timezone.localdate().isoformat()


def plan_body(org: Organisation, made: dict[str, Any]) -> dict[str, Any]:
    return {"due_on": today(), "amount": "1000", "note": "首付"}


def payment_body(org: Organisation, made: dict[str, Any]) -> dict[str, Any]:
    return {
        "amount": "1000",
        "received_on": today(),
        "method": "bank_transfer",
        "invoice_status": "not_issued",
    }


INVOICE = {"invoice_number": "No.1", "invoice_status": "issued"}

TABLE = [
    # --- API ---
    Endpoint("GET /contracts/{contract_id}/plans", contract, **WRITE),
    Endpoint("POST /contracts/{contract_id}/plans", contract, body=plan_body, status=201, **WRITE),
    Endpoint("PATCH /payment-plans/{plan_id}", plan, body={"note": "尾款"}, **WRITE),
    Endpoint("DELETE /payment-plans/{plan_id}", plan, **WRITE),
    Endpoint("GET /contracts/{contract_id}/payments", contract, **WRITE),
    Endpoint(
        "POST /contracts/{contract_id}/payments", contract, body=payment_body, status=201, **WRITE
    ),
    Endpoint("GET /payments/{payment_id}", payment, **WRITE),
    Endpoint("PATCH /payments/{payment_id}", payment, body=INVOICE, **WRITE),
    Endpoint(
        "POST /payments/{payment_id}/delete", payment, body={"reason": "录错"}, status=204, **DELETE
    ),
    # --- UI ---
    Endpoint("GET contracts:plan_add", contract, **WRITE),
    Endpoint("POST contracts:plan_add", contract, body=plan_body, **WRITE),
    Endpoint("GET contracts:plan_edit", plan, **WRITE),
    Endpoint("POST contracts:plan_edit", plan, body=plan_body, **WRITE),
    Endpoint("POST contracts:plan_delete", plan, **WRITE),
    Endpoint("GET contracts:payment_record", contract, **WRITE),
    Endpoint("POST contracts:payment_record", contract, body=payment_body, **WRITE),
    Endpoint("GET contracts:payment_invoice", payment, **WRITE),
    Endpoint("POST contracts:payment_invoice", payment, body=INVOICE, **WRITE),
    Endpoint("POST contracts:payment_delete", payment, body={"reason": "录错"}, **DELETE),
]


@pytest.fixture(autouse=True)
def _media_in_tmp(settings: Any, tmp_path: Any) -> None:
    settings.MEDIA_ROOT = tmp_path / "media"


@pytest.mark.parametrize(("entry", "kind", "actor"), cases(TABLE))
def test_permission(entry: Endpoint, kind: str, actor: str, request: pytest.FixtureRequest) -> None:
    run(entry, kind, actor, request)
