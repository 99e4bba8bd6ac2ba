"""/api/v1/customers and /api/v1/contacts."""

from __future__ import annotations

from datetime import datetime

from django.http import Http404, HttpRequest
from ninja import Router, Schema
from ninja.pagination import paginate

from kehu.core.access import mask_values, policy_of
from kehu.customers import selectors
from kehu.customers.models import Contact, Customer

customers_router = Router(tags=["customers"])
contacts_router = Router(tags=["contacts"])


class CustomerOut(Schema):
    id: int
    number: str
    name: str
    kind: str
    status: str
    owner_id: int | None
    department_id: int | None
    industry_id: str | None
    region_id: str | None
    priority: str
    grade: str
    annual_budget: float | None
    version: int
    created_at: datetime
    updated_at: datetime


class ContactOut(Schema):
    id: int
    customer_id: int
    name: str
    title: str
    mobile: str
    email: str
    is_decision_maker: bool
    is_primary: bool
    is_active: bool


def customer_out(request: HttpRequest, customer: Customer) -> dict[str, object]:
    data = CustomerOut.from_orm(customer).dict()
    return mask_values(data, policy_of(Customer).masked_fields(request.user, customer))


@customers_router.get("", response=list[CustomerOut])
@paginate
def list_customers(request: HttpRequest) -> list[dict[str, object]]:
    return selectors.customer_list(user=request.user)  # type: ignore[return-value]


@customers_router.get("/{customer_id}", response=CustomerOut)
def get_customer(request: HttpRequest, customer_id: int) -> dict[str, object]:
    return customer_out(request, selectors.customer_get(user=request.user, customer_id=customer_id))


@contacts_router.get("", response=list[ContactOut])
@paginate
def list_contacts(request: HttpRequest) -> object:
    return selectors.contact_list(user=request.user)


@contacts_router.get("/{contact_id}", response=ContactOut)
def get_contact(request: HttpRequest, contact_id: int) -> Contact:
    contact = selectors.contact_list(user=request.user).filter(pk=contact_id).first()
    if contact is None:
        raise Http404
    return contact
