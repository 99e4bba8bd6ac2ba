"""/api/v1/contracts/{id}/plans, /api/v1/contracts/{id}/payments, /api/v1/payments,
/api/v1/payment-plans/{id} and /api/v1/payments/{id}.

Amounts are ``null`` for whoever lacks full access to the contract's deal (the access policy);
a contract outside the caller's scope is 404; writes by a role that only reads are 403; bad
input is 422 naming the field (a payment above the open amount without ``excess_reason``:
``amount``); a payment on a contract that is not approved is 409.
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Any

from ninja import Query, Router, Schema, Status
from pydantic import Field

from kehu.accounts.http import AuthedRequest
from kehu.contracts.models import Contract, Payment, PaymentPlan
from kehu.contracts.selectors import payments as selectors
from kehu.contracts.services import payments as services
from kehu.core.access import policy_of
from kehu.core.errors import NotFound
from kehu.core.numbers import MAX_INT, Id
from kehu.core.pagination import API_MAX_LIMIT, BoundedPageOut, page_of

router = Router(tags=["payments"])


class PaymentPlanOut(Schema):
    id: int
    contract_id: int
    sequence: int
    due_on: date
    amount: float | None
    paid: float | None
    outstanding: float | None
    overdue: bool
    note: str


class PaymentPlanIn(Schema):
    due_on: date
    amount: Decimal = Field(..., max_digits=14, decimal_places=2)
    note: str = Field("", max_length=300)


class PaymentPlanPatch(Schema):
    due_on: date | None = None
    amount: Decimal | None = Field(None, max_digits=14, decimal_places=2)
    note: str | None = Field(None, max_length=300)


class PaymentOut(Schema):
    id: int
    contract_id: int
    contract_number: str
    opportunity_id: int
    customer_name: str
    owner_id: int
    plan_id: int | None
    amount: float | None
    received_on: date
    method: str
    method_name: str
    invoice_number: str
    invoice_status: str
    invoice_status_name: str
    excess_reason: str
    note: str
    recorded_by_id: int | None
    created_at: datetime


class PaymentPage(BoundedPageOut):
    items: list[PaymentOut]


class PaymentIn(Schema):
    amount: Decimal = Field(..., max_digits=14, decimal_places=2)
    received_on: date
    method: str = "bank_transfer"
    plan_id: Id | None = None
    invoice_number: str = Field("", max_length=60)
    invoice_status: str = "not_issued"
    excess_reason: str = Field("", max_length=500)
    note: str = Field("", max_length=500)


class InvoicePatch(Schema):
    invoice_number: str | None = Field(None, max_length=60)
    invoice_status: str | None = None
    note: str | None = Field(None, max_length=500)


class PaymentDeleteIn(Schema):
    reason: str = Field(..., max_length=100)


class ContractPlansOut(Schema):
    contract_id: int
    amount: float | None
    planned: float | None
    received: float | None
    open_amount: float | None
    items: list[PaymentPlanOut]


def _money(value: Decimal, hidden: bool) -> float | None:
    return None if hidden else float(value)


def _contract(request: AuthedRequest, contract_id: int) -> Contract:
    contract = selectors.contract_get(user=request.user, contract_id=contract_id)
    if contract is None:
        raise NotFound("contract")
    return contract


def _hidden(request: AuthedRequest, contract: Contract) -> bool:
    return bool(policy_of(Contract).masked_fields(request.user, contract))


def _plans_out(request: AuthedRequest, contract: Contract) -> dict[str, Any]:
    hidden = _hidden(request, contract)
    rows = selectors.plan_list(contract=contract)
    received = services.received_total(contract)
    planned = sum((row.plan.amount for row in rows), Decimal(0))
    return {
        "contract_id": contract.pk,
        "amount": _money(contract.amount, hidden),
        "planned": _money(planned, hidden),
        "received": _money(received, hidden),
        "open_amount": _money(contract.amount - received, hidden),
        "items": [
            {
                "id": row.plan.pk,
                "contract_id": contract.pk,
                "sequence": row.plan.sequence,
                "due_on": row.plan.due_on,
                "amount": _money(row.plan.amount, hidden),
                "paid": _money(row.paid, hidden),
                "outstanding": _money(row.outstanding, hidden),
                "overdue": row.overdue,
                "note": row.plan.note,
            }
            for row in rows
        ],
    }


def payment_out(request: AuthedRequest, payment: Payment) -> dict[str, Any]:
    deal = payment.contract.opportunity
    return {
        "id": payment.pk,
        "contract_id": payment.contract_id,
        "contract_number": payment.contract.number,
        "opportunity_id": deal.pk,
        "customer_name": deal.customer.name,
        "owner_id": deal.owner_id,
        "plan_id": payment.plan_id,
        "amount": _money(payment.amount, selectors.payment_masked(request.user, payment)),
        "received_on": payment.received_on,
        "method": payment.method,
        "method_name": str(payment.get_method_display()),
        "invoice_number": payment.invoice_number,
        "invoice_status": payment.invoice_status,
        "invoice_status_name": str(payment.get_invoice_status_display()),
        "excess_reason": payment.excess_reason,
        "note": payment.note,
        "recorded_by_id": payment.recorded_by_id,
        "created_at": payment.created_at,
    }


def _payment(request: AuthedRequest, payment_id: int) -> Payment:
    payment = selectors.payment_get(user=request.user, payment_id=payment_id)
    if payment is None:
        raise NotFound("payment")
    return payment


def _plan(request: AuthedRequest, plan_id: int) -> PaymentPlan:
    plan = selectors.plan_get(user=request.user, plan_id=plan_id)
    if plan is None:
        raise NotFound("payment plan")
    return plan


# --- plans ------------------------------------------------------------------------------------


@router.get("/contracts/{contract_id}/plans", response=ContractPlansOut)
def list_plans(request: AuthedRequest, contract_id: Id) -> dict[str, Any]:
    """The contract's installments in due order, with what is paid of each."""
    return _plans_out(request, _contract(request, contract_id))


@router.post("/contracts/{contract_id}/plans", response={201: PaymentPlanOut})
def create_plan(
    request: AuthedRequest, contract_id: Id, payload: PaymentPlanIn
) -> Status[dict[str, Any]]:
    contract = _contract(request, contract_id)
    plan = services.plan_create(actor=request.user, contract=contract, data=payload.dict())
    return Status(201, _plan_row(request, plan.pk))


def _plan_row(request: AuthedRequest, plan_id: int) -> dict[str, Any]:
    plan = _plan(request, plan_id)
    out = _plans_out(request, plan.contract)
    return next(item for item in out["items"] if item["id"] == plan_id)


@router.patch("/payment-plans/{plan_id}", response=PaymentPlanOut)
def update_plan(request: AuthedRequest, plan_id: Id, payload: PaymentPlanPatch) -> dict[str, Any]:
    plan = _plan(request, plan_id)
    services.plan_update(actor=request.user, plan=plan, data=payload.dict(exclude_unset=True))
    return _plan_row(request, plan_id)


@router.delete("/payment-plans/{plan_id}", response={204: None})
def delete_plan(request: AuthedRequest, plan_id: Id) -> Status[None]:
    services.plan_delete(actor=request.user, plan=_plan(request, plan_id))
    return Status(204, None)


# --- payments ---------------------------------------------------------------------------------


@router.get("/contracts/{contract_id}/payments", response=PaymentPage)
def list_contract_payments(
    request: AuthedRequest,
    contract_id: Id,
    limit: int = Query(50, ge=1, le=API_MAX_LIMIT),
    offset: int = Query(0, ge=0, le=MAX_INT),
) -> dict[str, Any]:
    contract = _contract(request, contract_id)
    rows = selectors.payment_list(
        user=request.user, filters=selectors.PaymentFilters(contract_id=contract.pk)
    )
    page = page_of(rows, offset=offset, limit=limit)
    page["items"] = [payment_out(request, row) for row in page["items"]]
    return page


@router.post("/contracts/{contract_id}/payments", response={201: PaymentOut})
def record_payment(
    request: AuthedRequest, contract_id: Id, payload: PaymentIn
) -> Status[dict[str, Any]]:
    """Record money received. Above the open amount it needs ``excess_reason`` (else 422 on
    ``amount``); the final payment of a won deal moves it to 回款/复购."""
    contract = _contract(request, contract_id)
    data = payload.dict()
    data["plan"] = data.pop("plan_id")
    payment = services.payment_record(actor=request.user, contract=contract, data=data)
    return Status(201, payment_out(request, _payment(request, payment.pk)))


@router.get("/payments", response=PaymentPage)
def list_payments(
    request: AuthedRequest,
    limit: int = Query(50, ge=1, le=API_MAX_LIMIT),
    offset: int = Query(0, ge=0, le=MAX_INT),
) -> dict[str, Any]:
    """Payments in the caller's scope, newest first; filters ``contract_id``,
    ``opportunity_id``, ``owner_id``, ``date_from``, ``date_to``, ``method``,
    ``invoice_status``, ``q`` (invoice number, contract number, customer)."""
    filters = selectors.PaymentFilters.parse(request.GET)
    rows = selectors.payment_list(user=request.user, filters=filters)
    page = page_of(rows, offset=offset, limit=limit)
    page["items"] = [payment_out(request, row) for row in page["items"]]
    return page


@router.get("/payments/{payment_id}", response=PaymentOut)
def get_payment(request: AuthedRequest, payment_id: Id) -> dict[str, Any]:
    return payment_out(request, _payment(request, payment_id))


@router.patch("/payments/{payment_id}", response=PaymentOut)
def update_invoice(request: AuthedRequest, payment_id: Id, payload: InvoicePatch) -> dict[str, Any]:
    """Change the invoice number, invoice status or note of a payment."""
    payment = _payment(request, payment_id)
    services.payment_update_invoice(
        actor=request.user, payment=payment, data=payload.dict(exclude_unset=True)
    )
    return payment_out(request, _payment(request, payment_id))


@router.post("/payments/{payment_id}/delete", response={204: None})
def delete_payment(
    request: AuthedRequest, payment_id: Id, payload: PaymentDeleteIn
) -> Status[None]:
    """Remove a payment recorded by mistake (managers and admins), with the reason."""
    services.payment_delete(
        actor=request.user, payment=_payment(request, payment_id), reason=payload.reason
    )
    return Status(204, None)
