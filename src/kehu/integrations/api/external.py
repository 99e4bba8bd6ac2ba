"""API of external ids and upsert (ERP sync): ``/customers/by-external/{system}/{external_id}``
(GET, PUT), ``/customers/upsert`` (POST, up to 1,000 records) and the same for ``/contacts``
and ``/opportunities``. Thin: the rules live in ``services.external_ids`` and the records'
own services; the answers reuse the records' own API shapes and masking."""

from __future__ import annotations

from collections import Counter
from datetime import date, datetime
from decimal import Decimal
from functools import cache
from typing import Any

from ninja import Field, Router, Schema, Status
from pydantic import BaseModel, model_validator

from kehu.accounts.http import AuthedRequest
from kehu.core.numbers import Id
from kehu.customers import selectors as customer_selectors
from kehu.customers.api import (
    ContactFields,
    ContactIn,
    ContactOut,
    CustomerDetailOut,
    CustomerFieldsIn,
    contact_data,
    customer_data,
)
from kehu.integrations.models import ExternalKind
from kehu.integrations.selectors.external_ids import external_get, external_ids_of
from kehu.integrations.services import external_ids as services
from kehu.opportunities import selectors as deal_selectors
from kehu.opportunities.api import OpportunityOut, opportunity_out

router = Router(tags=["integrations"])

KEHU_ID = Field(
    None,
    description="Attach the external id to this existing Kehu record (first sync of a record "
    "Kehu already has) instead of creating one.",
)
CUSTOMER_REF = "The customer's external id in the same system (instead of customer_id)."


# --- Schemas ------------------------------------------------------------------------------------


class ExternalCustomerIn(CustomerFieldsIn):
    """A customer's fields as another system sends them; absent fields are left alone."""

    status: str | None = None
    owner_id: Id | None = None
    tags: list[str] | None = Field(None, description="Replaces the customer's tags when given.")
    contacts: list[ContactIn] | None = Field(
        None,
        description="The first contacts of a new customer (the entry rules may require one); "
        "ignored for an existing customer: contacts sync by their own external ids.",
    )
    force: bool = Field(False, description="Create despite likely duplicates.")
    kehu_id: Id | None = KEHU_ID


class ExternalContactIn(ContactFields):
    customer_id: Id | None = None
    customer_external_id: str | None = Field(None, max_length=100, description=CUSTOMER_REF)
    force: bool = Field(False, description="Create despite a phone or e-mail of another customer.")
    kehu_id: Id | None = KEHU_ID


class ExternalOpportunityIn(Schema):
    customer_id: Id | None = None
    customer_external_id: str | None = Field(None, max_length=100, description=CUSTOMER_REF)
    name: str | None = None
    amount: Decimal | None = None
    currency: str | None = None
    expected_close: date | None = None
    stage: str | None = Field(None, description="The stage of a new deal (first open by default).")
    source: str | None = None
    needs: str | None = None
    competitors: str | None = None
    next_step: str | None = None
    floor_price: Decimal | None = None
    concessions: str | None = None
    owner_id: Id | None = None
    kehu_id: Id | None = KEHU_ID


class ExternalIdOut(Schema):
    system: str
    id: str
    created_at: datetime


class ExternalCustomerOut(Schema):
    result: str | None = Field(None, description="created, updated or unchanged (PUT only)")
    external_ids: list[ExternalIdOut]
    customer: CustomerDetailOut


class ExternalContactOut(Schema):
    result: str | None = None
    external_ids: list[ExternalIdOut]
    contact: ContactOut


class ExternalOpportunityOut(Schema):
    result: str | None = None
    external_ids: list[ExternalIdOut]
    opportunity: OpportunityOut


class ExternalRecordIn(Schema):
    system: str = Field(..., description="The source system, e.g. kingdee")
    id: str = Field(..., description="The record's id in that system, e.g. C00012")
    data: dict[str, Any] = Field(
        default_factory=dict,
        description="The record's fields, as the by-external PUT of this kind takes them.",
    )


class ExternalUpsertIn(Schema):
    records: list[Any] = Field(
        ...,
        max_length=services.MAX_RECORDS,
        description="Up to 1,000 records, each {system, id, data} (ExternalRecordIn); one "
        "record's errors do not stop the others.",
    )


class ExternalResultOut(Schema):
    index: int
    system: str
    id: str
    result: str = Field(..., description="created, updated, unchanged or error")
    object_id: int | None
    detail: str | None
    code: str | None
    errors: dict[str, list[str]] | None


class ExternalUpsertOut(Schema):
    counts: dict[str, int]
    results: list[ExternalResultOut]


# --- Answers ------------------------------------------------------------------------------------


def _ids(kind: str, object_id: int) -> list[dict[str, Any]]:
    return [
        {"system": row.system, "id": row.external_id, "created_at": row.created_at}
        for row in external_ids_of(kind, object_id)
    ]


def _customer(request: AuthedRequest, customer_id: int, result: str | None) -> dict[str, Any]:
    user = request.user
    customer = customer_selectors.customer_get(
        user=user, customer_id=customer_id, related=customer_selectors.OWNER_RELATED
    )
    data = customer_data(user, customer)
    masked = customer_selectors.contacts_masked(user, customer)
    data["contacts"] = [
        contact_data(user, contact, masked=masked) for contact in customer.contacts.all()
    ]
    return {
        "result": result,
        "external_ids": _ids(ExternalKind.CUSTOMER, customer_id),
        "customer": data,
    }


def _contact(request: AuthedRequest, contact_id: int, result: str | None) -> dict[str, Any]:
    contact = customer_selectors.contact_get(user=request.user, contact_id=contact_id)
    return {
        "result": result,
        "external_ids": _ids(ExternalKind.CONTACT, contact_id),
        "contact": contact_data(request.user, contact),
    }


def _deal(request: AuthedRequest, deal_id: int, result: str | None) -> dict[str, Any]:
    deal = deal_selectors.opportunity_get(user=request.user, opportunity_id=deal_id)
    return {
        "result": result,
        "external_ids": _ids(ExternalKind.OPPORTUNITY, deal_id),
        "opportunity": opportunity_out(request, deal),
    }


def _put(
    request: AuthedRequest, kind: str, system: str, external_id: str, payload: Schema
) -> tuple[int, int, str]:
    outcome = services.external_upsert(
        actor=request.user,
        kind=kind,
        system=system,
        external_id=external_id,
        data=payload.dict(exclude_unset=True),
    )
    assert outcome.object_id is not None
    status = 201 if outcome.result == services.Result.CREATED else 200
    return status, outcome.object_id, outcome.result


def _bulk(request: AuthedRequest, kind: str, payload: ExternalUpsertIn, schema: Any) -> Any:
    outcomes = services.upsert_many(
        actor=request.user, kind=kind, records=payload.records, schema=plain(schema)
    )
    counts = Counter(outcome.result for outcome in outcomes)
    return {
        "counts": {name: counts.get(name, 0) for name in services.RESULTS},
        "results": [outcome.payload(index) for index, outcome in enumerate(outcomes)],
    }


@cache
def plain(schema: type[BaseModel]) -> type[BaseModel]:
    """``schema`` checking a record's plain dict as it is: a ninja ``Schema`` wraps every
    input in a ``DjangoGetter`` (attribute access to model instances, ``resolve_*`` methods),
    which for a decoded JSON object only looks the keys up again, at a tenth of a
    millisecond a record. The same fields, types and messages; a schema with resolvers is
    used as it is."""
    if not issubclass(schema, Schema) or getattr(schema, "_ninja_resolvers", None):
        return schema

    class Plain(schema):  # type: ignore[valid-type,misc]
        @model_validator(mode="wrap")
        @classmethod
        def _run_root_validator(cls, values: Any, handler: Any, info: Any) -> Any:
            return handler(values)

    Plain.__name__ = Plain.__qualname__ = f"{schema.__name__}Plain"
    return Plain


# --- Customers ----------------------------------------------------------------------------------


@router.get(
    "/customers/by-external/{system}/{external_id}",
    response=ExternalCustomerOut,
    summary="Get a customer by its external id",
)
def get_customer(request: AuthedRequest, system: str, external_id: str) -> Any:
    customer = external_get(
        actor=request.user, kind=ExternalKind.CUSTOMER, system=system, external_id=external_id
    )
    return _customer(request, customer.pk, None)


@router.put(
    "/customers/by-external/{system}/{external_id}",
    response={200: ExternalCustomerOut, 201: ExternalCustomerOut},
    summary="Create or update a customer by its external id",
)
def put_customer(
    request: AuthedRequest, system: str, external_id: str, payload: ExternalCustomerIn
) -> Any:
    status, pk, result = _put(request, ExternalKind.CUSTOMER, system, external_id, payload)
    return Status(status, _customer(request, pk, result))


@router.post(
    "/customers/upsert", response=ExternalUpsertOut, summary="Create or update customers in bulk"
)
def upsert_customers(request: AuthedRequest, payload: ExternalUpsertIn) -> Any:
    return _bulk(request, ExternalKind.CUSTOMER, payload, ExternalCustomerIn)


# --- Contacts -----------------------------------------------------------------------------------


@router.get(
    "/contacts/by-external/{system}/{external_id}",
    response=ExternalContactOut,
    summary="Get a contact by its external id",
)
def get_contact(request: AuthedRequest, system: str, external_id: str) -> Any:
    contact = external_get(
        actor=request.user, kind=ExternalKind.CONTACT, system=system, external_id=external_id
    )
    return _contact(request, contact.pk, None)


@router.put(
    "/contacts/by-external/{system}/{external_id}",
    response={200: ExternalContactOut, 201: ExternalContactOut},
    summary="Create or update a contact by its external id",
)
def put_contact(
    request: AuthedRequest, system: str, external_id: str, payload: ExternalContactIn
) -> Any:
    status, pk, result = _put(request, ExternalKind.CONTACT, system, external_id, payload)
    return Status(status, _contact(request, pk, result))


@router.post(
    "/contacts/upsert", response=ExternalUpsertOut, summary="Create or update contacts in bulk"
)
def upsert_contacts(request: AuthedRequest, payload: ExternalUpsertIn) -> Any:
    return _bulk(request, ExternalKind.CONTACT, payload, ExternalContactIn)


# --- Opportunities ------------------------------------------------------------------------------


@router.get(
    "/opportunities/by-external/{system}/{external_id}",
    response=ExternalOpportunityOut,
    summary="Get an opportunity by its external id",
)
def get_opportunity(request: AuthedRequest, system: str, external_id: str) -> Any:
    deal = external_get(
        actor=request.user, kind=ExternalKind.OPPORTUNITY, system=system, external_id=external_id
    )
    return _deal(request, deal.pk, None)


@router.put(
    "/opportunities/by-external/{system}/{external_id}",
    response={200: ExternalOpportunityOut, 201: ExternalOpportunityOut},
    summary="Create or update an opportunity by its external id",
)
def put_opportunity(
    request: AuthedRequest, system: str, external_id: str, payload: ExternalOpportunityIn
) -> Any:
    status, pk, result = _put(request, ExternalKind.OPPORTUNITY, system, external_id, payload)
    return Status(status, _deal(request, pk, result))


@router.post(
    "/opportunities/upsert",
    response=ExternalUpsertOut,
    summary="Create or update opportunities in bulk",
)
def upsert_opportunities(request: AuthedRequest, payload: ExternalUpsertIn) -> Any:
    return _bulk(request, ExternalKind.OPPORTUNITY, payload, ExternalOpportunityIn)
