"""/api/v1/customers and /api/v1/contacts: thin, every rule lives in services and selectors."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from types import SimpleNamespace
from typing import Any, cast

from django.http import HttpResponse
from django.utils.translation import gettext as _
from ninja import Field, Query, Router, Schema, Status

from kehu.accounts.http import AuthedRequest
from kehu.accounts.models import User
from kehu.core import custom_fields, masking
from kehu.core.access import mask_values, policy_of
from kehu.core.api import prevalidated_json
from kehu.core.errors import InvalidInput
from kehu.core.numbers import MAX_INT
from kehu.core.pagination import API_MAX_LIMIT, BoundedPageOut
from kehu.customers import selectors, services
from kehu.customers.models import Contact, Customer
from kehu.customers.selectors import ContactFilters, CustomerFilters

customers_router = Router(tags=["customers"])
contacts_router = Router(tags=["contacts"])


# --- Schemas -----------------------------------------------------------------------------------


CUSTOM_OUT = custom_fields.API_OUT
CUSTOM_IN = custom_fields.API_IN


class ContactOut(Schema):
    id: int
    customer_id: int
    name: str
    gender: str = Field("", description='Form of address: "m" 先生, "f" 女士, "" not known.')
    title: str
    work_phone: str
    mobile: str
    mobile_reason: str
    email: str
    wechat: str
    is_decision_maker: bool
    is_primary: bool
    is_active: bool
    left_at: datetime | None
    notes: str
    custom: dict[str, Any] = Field(
        default_factory=dict,
        description=CUSTOM_OUT,
        json_schema_extra={"additionalProperties": True},
    )
    version: int
    masked: bool = Field(
        False,
        description="Phones, email and WeChat are masked (138****1234); "
        "POST /api/v1/pools/reveal/contact/{id} shows them, logged.",
    )


class ContactFields(Schema):
    name: str | None = None
    gender: str | None = Field(None, description='"m" (先生), "f" (女士) or "".')
    title: str | None = None
    work_phone: str | None = None
    mobile: str | None = None
    mobile_reason: str | None = Field(
        None,
        description="Why a mobile is kept beside a work phone; required then "
        "(customers.private_mobile_needs_reason).",
    )
    email: str | None = None
    wechat: str | None = None
    is_decision_maker: bool | None = None
    is_primary: bool | None = None
    notes: str | None = None
    custom: dict[str, Any] | None = Field(None, description=CUSTOM_IN)


class ContactIn(ContactFields):
    name: str


class ContactCreate(ContactIn):
    customer_id: int
    force: bool = False


class ContactPatch(ContactFields):
    version: int


class TagOut(Schema):
    id: int
    name: str


class CustomerOut(Schema):
    id: int
    number: str
    name: str
    kind: str
    credit_code: str | None
    industry_id: str | None
    region_id: str | None
    employees_band: str
    revenue_band: str
    source: str
    source_detail: str
    initial_need: str
    address: str
    website: str
    social_accounts: str
    founded_on: date | None
    main_business: str
    notes: str
    competitors: str
    cooperation_history: str | None
    annual_budget: Decimal | None
    status: str
    owner_id: int | None
    owner_name: str
    department_id: int | None
    priority: str
    grade: str
    grade_override: str
    effective_grade: str
    tags: list[str]
    to_verify: list[str]
    verified_at: datetime | None
    verified_via: str
    first_contact_at: datetime | None
    last_contact_at: datetime | None
    contact_info_updated_at: datetime
    completeness: int
    custom: dict[str, Any] = Field(
        description=CUSTOM_OUT,
        json_schema_extra={"additionalProperties": True},
    )
    version: int
    created_at: datetime
    updated_at: datetime


class CustomerDetailOut(CustomerOut):
    contacts: list[ContactOut]


class CustomerFieldsIn(Schema):
    name: str | None = Field(None, max_length=200)
    kind: str | None = None
    credit_code: str | None = None
    industry: str | None = Field(None, description="GB/T 4754 code, e.g. C or 34")
    region: str | None = Field(
        None, description="GB/T 2260 code (440300) or name: 深圳, 深圳市, 广东深圳, Shenzhen"
    )
    employees_band: str | None = None
    revenue_band: str | None = None
    source: str | None = None
    source_detail: str | None = None
    initial_need: str | None = None
    address: str | None = None
    website: str | None = None
    social_accounts: str | None = None
    founded_on: date | None = None
    main_business: str | None = None
    notes: str | None = None
    competitors: str | None = None
    cooperation_history: str | None = None
    annual_budget: Decimal | None = None
    priority: str | None = None
    to_verify: list[str] | None = None
    custom: dict[str, Any] | None = Field(None, description=CUSTOM_IN)


class CustomerCreate(CustomerFieldsIn):
    name: str = Field(..., max_length=200)
    status: str | None = None
    owner_id: int | None = None
    contacts: list[ContactIn] = []
    tags: list[str] = []
    force: bool = False


class CustomerPatch(CustomerFieldsIn):
    version: int
    status: str | None = None
    reason: str = ""
    tags: list[str] | None = None
    force: bool = False


class StatusIn(Schema):
    status: str
    reason: str = ""


class ReassignIn(Schema):
    owner_id: int
    reason: str


class ShareIn(Schema):
    user_id: int
    can_edit: bool = False
    revoke: bool = False


class ShareOut(Schema):
    user_id: int
    can_edit: bool


class MergeIn(Schema):
    merged_id: int
    reason: str = ""


class VerifyIn(Schema):
    via: str
    when: datetime | None = None


class GradeIn(Schema):
    grade: str
    reason: str = ""


class ChangeOut(Schema):
    field: str
    label: str
    old: Any
    new: Any


class HistoryOut(Schema):
    id: int
    when: datetime
    action: str
    user_id: int | None
    user_name: str
    reason: str
    request_id: str
    object_label: str
    changes: list[ChangeOut]


class Page(BoundedPageOut):
    items: list[CustomerOut]


class ContactPage(BoundedPageOut):
    items: list[ContactOut]


# --- Serialisation ------------------------------------------------------------------------------


def customer_data(user: Any, customer: Customer) -> dict[str, Any]:
    """A customer as the API shows it to ``user``: sensitive fields None when masked."""
    tags = getattr(customer, "_prefetched_objects_cache", {}).get("tags")
    if tags is None:
        tags = customer.tags.all()
    data: dict[str, Any] = {
        name: getattr(customer, name)
        for name in CustomerOut.model_fields
        if name not in {"owner_name", "tags", "effective_grade", "industry_id", "region_id"}
    }
    data.update(
        industry_id=customer.industry_id,
        region_id=customer.region_id,
        owner_name=str(customer.owner) if customer.owner_id and customer.owner else "",
        tags=[tag.name for tag in tags],
        effective_grade=customer.effective_grade,
        custom=custom_fields.shown_values(
            "customer", user, customer.custom, masked=custom_fields.masked_for(user, customer)
        ),
    )
    return mask_values(data, selectors.masked_fields(user, customer))


LIST_FIELDS = tuple(CustomerOut.model_fields)
CONTACT_OUT_FIELDS = tuple(
    name for name in ContactOut.model_fields if name not in {"masked", "custom"}
)


def contact_data(user: Any, contact: Contact, *, masked: bool | None = None) -> dict[str, Any]:
    """A contact as the API shows it to ``user``: phones, email and WeChat masked outside
    full access to its customer (``masked`` when the caller already knows)."""
    if masked is None:
        masked = selectors.contacts_masked(user, contact.customer)
    data: dict[str, Any] = {name: getattr(contact, name) for name in CONTACT_OUT_FIELDS}
    data.update(selectors.contact_values(user, contact, masked=masked), masked=masked)
    data["custom"] = custom_fields.shown_values("contact", user, contact.custom, masked=masked)
    return data


def _detail(user: Any, customer_id: int) -> dict[str, Any]:
    customer = selectors.customer_get(
        user=user, customer_id=customer_id, related=selectors.OWNER_RELATED
    )
    data = customer_data(user, customer)
    masked = selectors.contacts_masked(user, customer)
    data["contacts"] = [
        contact_data(user, contact, masked=masked) for contact in customer.contacts.all()
    ]
    return data


def _fields(payload: Schema, *, exclude: set[str]) -> dict[str, Any]:
    return {k: v for k, v in payload.dict(exclude_unset=True).items() if k not in exclude}


# --- Customers ---------------------------------------------------------------------------------


@customers_router.get("", response=Page, summary="List and search customers")
def list_customers(
    request: AuthedRequest,
    filters: Query[CustomerFilters],
    limit: int = Query(50, ge=1, le=API_MAX_LIMIT),
    offset: int = Query(0, ge=0, le=MAX_INT),
) -> HttpResponse:
    user = request.user
    page = selectors.customer_rows(
        user=user, filters=filters, fields=LIST_FIELDS, offset=offset, limit=limit
    )
    policy = policy_of(Customer)
    for row in page["items"]:
        owned = SimpleNamespace(owner_id=row["owner_id"], department_id=row["department_id"])
        mask_values(row, policy.masked_fields(user, cast(Customer, owned)))
        row["custom"] = custom_fields.shown_values(
            "customer",
            user,
            row["custom"],
            masked=not policy.has_full_access(user, cast(Customer, owned)),
        )
    return prevalidated_json(request, page)


@customers_router.post("", response={201: CustomerDetailOut}, summary="Create a customer")
def create_customer(request: AuthedRequest, payload: CustomerCreate) -> Status[dict[str, Any]]:
    data = _fields(payload, exclude={"contacts", "tags", "force", "owner_id"})
    if payload.owner_id is not None:
        data["owner"] = payload.owner_id
    contacts = [c.dict(exclude_unset=True) for c in payload.contacts]
    customer = services.customer_create(
        actor=request.user,
        data=data,
        contacts=contacts,
        tags=payload.tags,
        force=payload.force,
    )
    return Status(201, _detail(request.user, customer.pk))


@customers_router.get("/{customer_id}", response=CustomerDetailOut)
def get_customer(request: AuthedRequest, customer_id: int) -> dict[str, Any]:
    return _detail(request.user, customer_id)


@customers_router.patch("/{customer_id}", response=CustomerDetailOut)
def update_customer(request: AuthedRequest, customer_id: int, payload: CustomerPatch) -> Any:
    customer = selectors.customer_get(user=request.user, customer_id=customer_id)
    changes = _fields(payload, exclude={"version", "tags", "force"})
    actor = request.user
    services.customer_update(
        actor=actor,
        customer=customer,
        changes=changes,
        version=payload.version,
        force=payload.force,
        tags=payload.tags,
    )
    return _detail(request.user, customer_id)


@customers_router.delete("/{customer_id}", response={204: None})
def delete_customer(request: AuthedRequest, customer_id: int) -> Status[None]:
    customer = selectors.customer_get(user=request.user, customer_id=customer_id)
    services.customer_delete(actor=request.user, customer=customer)
    return Status(204, None)


@customers_router.post("/{customer_id}/status", response=CustomerDetailOut)
def change_status(request: AuthedRequest, customer_id: int, payload: StatusIn) -> Any:
    customer = selectors.customer_get(user=request.user, customer_id=customer_id)
    services.customer_change_status(
        actor=request.user, customer=customer, status=payload.status, reason=payload.reason
    )
    return _detail(request.user, customer_id)


@customers_router.post("/{customer_id}/reassign", response=CustomerDetailOut)
def reassign(request: AuthedRequest, customer_id: int, payload: ReassignIn) -> Any:
    customer = selectors.customer_get(user=request.user, customer_id=customer_id)
    owner = User.objects.filter(pk=payload.owner_id, is_active=True).first()
    if owner is None:
        raise InvalidInput(errors={"owner_id": [_("Choose an active user.")]})
    services.customer_reassign(
        actor=request.user, customer=customer, owner=owner, reason=payload.reason
    )
    return _detail(request.user, customer_id)


@customers_router.post("/{customer_id}/share", response=list[ShareOut])
def share(request: AuthedRequest, customer_id: int, payload: ShareIn) -> Any:
    customer = selectors.customer_get(user=request.user, customer_id=customer_id)
    user = User.objects.filter(pk=payload.user_id, is_active=True).first()
    if user is None:
        raise InvalidInput(errors={"user_id": [_("Choose an active user.")]})
    actor = request.user
    if payload.revoke:
        services.customer_unshare(actor=actor, customer=customer, user=user)
    else:
        services.customer_share(
            actor=actor, customer=customer, user=user, can_edit=payload.can_edit
        )
    return list(customer.shares.order_by("id"))


@customers_router.post("/{customer_id}/merge", response=CustomerDetailOut)
def merge(request: AuthedRequest, customer_id: int, payload: MergeIn) -> Any:
    survivor = selectors.customer_get(user=request.user, customer_id=customer_id)
    merged = selectors.customer_get(user=request.user, customer_id=payload.merged_id)
    services.customer_merge(
        actor=request.user, survivor=survivor, merged=merged, reason=payload.reason
    )
    return _detail(request.user, customer_id)


@customers_router.post("/{customer_id}/verify", response=CustomerDetailOut)
def verify(request: AuthedRequest, customer_id: int, payload: VerifyIn) -> Any:
    customer = selectors.customer_get(user=request.user, customer_id=customer_id)
    services.customer_mark_verified(
        actor=request.user, customer=customer, via=payload.via, when=payload.when
    )
    return _detail(request.user, customer_id)


@customers_router.post("/{customer_id}/grade", response=CustomerDetailOut)
def set_grade(request: AuthedRequest, customer_id: int, payload: GradeIn) -> Any:
    customer = selectors.customer_get(user=request.user, customer_id=customer_id)
    services.customer_set_grade(
        actor=request.user, customer=customer, grade=payload.grade, reason=payload.reason
    )
    return _detail(request.user, customer_id)


@customers_router.get("/{customer_id}/history", response=list[HistoryOut])
def history(request: AuthedRequest, customer_id: int) -> Any:
    customer = selectors.customer_get(user=request.user, customer_id=customer_id)
    return selectors.customer_history(user=request.user, customer=customer)


# --- Contacts ----------------------------------------------------------------------------------


@contacts_router.get("", response=ContactPage, summary="List and search contacts")
def list_contacts(
    request: AuthedRequest,
    filters: Query[ContactFilters],
    limit: int = Query(50, ge=1, le=API_MAX_LIMIT),
    offset: int = Query(0, ge=0, le=MAX_INT),
) -> HttpResponse:
    user = request.user
    page = selectors.contact_page(
        user=user,
        offset=offset,
        limit=limit,
        fields=(*CONTACT_OUT_FIELDS, "custom"),
        filters=filters,
    )
    # plain rows with exactly ContactOut's fields, masked by the one rule: answered without
    # the schema's validation, which with a contact and a customer instance per row was 40 %
    # of the list's CPU (bench/RESULTS.md, 2026-12-06 l)
    for row in page["items"]:
        held = SimpleNamespace(owner_id=row.pop("owner_id"), department_id=row.pop("department_id"))
        masked = selectors.contacts_masked(user, cast(Customer, held))
        row.update(masking.contact_values(row, masked=masked), masked=masked)
        row["custom"] = custom_fields.shown_values("contact", user, row["custom"], masked=masked)
    return prevalidated_json(request, page)


@contacts_router.post("", response={201: ContactOut})
def create_contact(request: AuthedRequest, payload: ContactCreate) -> Status[dict[str, Any]]:
    customer = selectors.customer_get(user=request.user, customer_id=payload.customer_id)
    data = _fields(payload, exclude={"customer_id", "force"})
    data.setdefault("custom", None)  # the API carries custom fields: required ones apply
    contact = services.contact_create(
        actor=request.user, customer=customer, data=data, force=payload.force
    )
    masked = selectors.contacts_masked(request.user, customer)
    return Status(201, contact_data(request.user, contact, masked=masked))


@contacts_router.get("/{contact_id}", response=ContactOut)
def get_contact(request: AuthedRequest, contact_id: int) -> dict[str, Any]:
    contact = selectors.contact_get(user=request.user, contact_id=contact_id)
    return contact_data(request.user, contact)


@contacts_router.patch("/{contact_id}", response=ContactOut)
def update_contact(
    request: AuthedRequest, contact_id: int, payload: ContactPatch
) -> dict[str, Any]:
    contact = selectors.contact_get(user=request.user, contact_id=contact_id)
    saved = services.contact_update(
        actor=request.user,
        contact=contact,
        changes=_fields(payload, exclude={"version"}),
        version=payload.version,
    )
    masked = selectors.contacts_masked(request.user, contact.customer)
    return contact_data(request.user, saved, masked=masked)


class DeactivateIn(Schema):
    reason: str = ""


@contacts_router.post("/{contact_id}/deactivate", response=ContactOut)
def deactivate_contact(
    request: AuthedRequest, contact_id: int, payload: DeactivateIn | None = None
) -> dict[str, Any]:
    contact = selectors.contact_get(user=request.user, contact_id=contact_id)
    saved = services.contact_deactivate(
        actor=request.user, contact=contact, reason=payload.reason if payload else ""
    )
    masked = selectors.contacts_masked(request.user, contact.customer)
    return contact_data(request.user, saved, masked=masked)
