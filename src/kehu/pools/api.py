"""/api/v1/pools, /api/v1/duplicate-check and /api/v1/offboarding."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.utils.translation import gettext as _
from ninja import Field, Query, Router, Schema, Status
from ninja.pagination import paginate

from kehu.accounts.http import AuthedRequest
from kehu.core import masking
from kehu.core.access import is_admin
from kehu.core.api import UNCHANGED
from kehu.core.errors import Forbidden
from kehu.core.numbers import MAX_INT, Id
from kehu.core.pagination import API_MAX_LIMIT, BoundedPageOut, MappedRows, page_of
from kehu.customers.selectors import contacts_masked
from kehu.pools import selectors, services
from kehu.pools.models import Offboarding, Pool, RevealLog

router = Router(tags=["pools"])


class PoolOut(Schema):
    id: int
    name: str
    description: str
    department_ids: list[int]
    max_held_per_rep: int
    max_claims_per_day: int
    recycle_no_followup_days: int
    recycle_no_deal_days: int
    warn_days_before: int
    cooling_days: int
    is_active: bool
    version: int

    @staticmethod
    def resolve_department_ids(obj: Pool) -> list[int]:
        return sorted(department.pk for department in obj.departments.all())


class UsageOut(Schema):
    held: int
    held_limit: int
    claimed_today: int
    daily_limit: int
    can_claim: bool


class PoolDetailOut(PoolOut):
    usage: UsageOut
    may_assign: bool


class PoolIn(Schema):
    name: str = Field(max_length=100)
    description: str = Field("", max_length=500)
    department_ids: list[Id] = []
    max_held_per_rep: int = Field(50, ge=0, le=100_000)
    max_claims_per_day: int = Field(5, ge=0, le=10_000)
    recycle_no_followup_days: int = Field(30, ge=0, le=3650)
    recycle_no_deal_days: int = Field(90, ge=0, le=3650)
    warn_days_before: int = Field(3, ge=0, le=365)
    cooling_days: int = Field(7, ge=0, le=365)
    is_active: bool = True


class PoolPatch(Schema):
    """A field left out is unchanged; those in NOT NULL columns may not be null (``UNCHANGED``)."""

    version: int | None = None
    name: str = Field(UNCHANGED, max_length=100)
    description: str = Field(UNCHANGED, max_length=500)
    department_ids: list[Id] | None = None  # null: the departments stay as they are
    max_held_per_rep: int = Field(UNCHANGED, ge=0, le=100_000)
    max_claims_per_day: int = Field(UNCHANGED, ge=0, le=10_000)
    recycle_no_followup_days: int = Field(UNCHANGED, ge=0, le=3650)
    recycle_no_deal_days: int = Field(UNCHANGED, ge=0, le=3650)
    warn_days_before: int = Field(UNCHANGED, ge=0, le=365)
    cooling_days: int = Field(UNCHANGED, ge=0, le=365)
    is_active: bool = UNCHANGED


class PoolCustomerOut(Schema):
    customer_id: int
    number: str
    name: str
    industry: str
    region: str
    entered_at: datetime
    reason: str
    contact_name: str = Field("", description="The primary contact's name.")
    contact_mobile: str = Field(
        "", description="The primary contact's mobile, masked (138****1234) without full access."
    )


class CustomerTakenOut(Schema):
    id: int
    number: str
    name: str
    owner_id: int | None
    version: int


class PoolAssignIn(Schema):
    assignee_id: int
    reason: str = Field("", max_length=300)


class ReleaseIn(Schema):
    customer_id: int
    reason: str = Field(max_length=300)
    pool_id: int | None = None


class PutIn(Schema):
    customer_id: int
    reason: str = Field(max_length=300)


class EntryOut(Schema):
    customer_id: int
    pool_id: int
    entered_at: datetime
    reason: str


class WarningOut(Schema):
    customer_id: int
    customer_name: str
    pool_id: int
    pool_name: str
    recycle_at: datetime
    reason: str


class DuplicateIn(Schema):
    name: str = Field("", max_length=200)
    phone: str = Field("", max_length=40)
    email: str = Field("", max_length=254)
    credit_code: str = Field("", max_length=40)


class CreditCodeOut(Schema):
    code: str
    valid: bool
    message: str | None
    region_code: str | None
    region_name: str | None


class DuplicateOut(Schema):
    status: str
    reasons: list[str]
    score: float
    owner_name: str
    pool_name: str
    visible: bool
    customer_id: int | None
    number: str
    name: str


class DuplicateAnswer(Schema):
    exists: bool
    matches: list[DuplicateOut]


class RevealOut(Schema):
    contact_id: int
    mobile: str
    work_phone: str
    email: str
    wechat: str
    logged: bool = Field(description="False for users with full access: nothing was masked.")
    remaining_today: int | None = Field(
        None, description="Contacts the caller may still show today (None: no limit applies)."
    )


class RevealLogOut(Schema):
    id: int
    at: datetime
    user_id: int | None
    user_name: str
    customer_id: int
    customer_name: str
    contact_id: int
    contact_name: str
    fields: list[str]
    request_id: str

    @staticmethod
    def resolve_user_name(obj: RevealLog) -> str:
        return str(obj.user) if obj.user_id and obj.user else ""

    @staticmethod
    def resolve_customer_name(obj: RevealLog) -> str:
        return obj.customer.name

    @staticmethod
    def resolve_contact_name(obj: RevealLog) -> str:
        return obj.contact.name

    @staticmethod
    def resolve_fields(obj: RevealLog) -> list[str]:
        return [name for name in obj.fields.split(",") if name]


class OffboardingIn(Schema):
    user_id: int
    successor_ids: list[Id] = []
    mode: str = "round_robin"
    split: dict[str, int] = {}
    pool_id: int | None = None
    note: str = Field("", max_length=500)


class OffboardingPreviewOut(Schema):
    user_id: int
    mode: str
    pool_id: int | None
    successors: list[dict[str, Any]]
    counts: list[dict[str, Any]]
    total: int


class OffboardingOut(Schema):
    id: int
    user_id: int
    actor_id: int | None
    created_at: datetime
    mode: str
    pool_id: int | None
    note: str
    summary: dict[str, Any]


def _taken(customer: Any) -> CustomerTakenOut:
    return CustomerTakenOut(
        id=customer.pk,
        number=customer.number,
        name=customer.name,
        owner_id=customer.owner_id,
        version=customer.version,
    )


def _entry(entry: Any) -> EntryOut:
    return EntryOut(
        customer_id=entry.customer_id,
        pool_id=entry.pool_id,
        entered_at=entry.entered_at,
        reason=entry.reason,
    )


# Fixed paths first, so they are not read as a pool id.


@router.get("/pools/warnings", response=list[WarningOut])
def my_warnings(request: AuthedRequest) -> list[WarningOut]:
    """The caller's customers that go back to a pool soon, earliest first."""
    return [
        WarningOut(
            customer_id=w.customer.pk,
            customer_name=w.customer.name,
            pool_id=w.pool.pk,
            pool_name=w.pool.name,
            recycle_at=w.deadline,
            reason=w.reason,
        )
        for w in selectors.my_warnings(user=request.user)
    ]


@router.post("/pools/release", response=EntryOut)
def release(request: AuthedRequest, payload: ReleaseIn) -> EntryOut:
    """退回: give a held customer back to a pool, with a reason."""
    entry = services.pool_release(
        actor=request.user,
        customer_id=payload.customer_id,
        reason=payload.reason,
        pool_id=payload.pool_id,
    )
    return _entry(entry)


@router.post("/pools/reveal/contact/{contact_id}", response=RevealOut)
def reveal_contact(request: AuthedRequest, contact_id: int) -> dict[str, Any]:
    """查看: show a masked contact's phones, email and WeChat; logged, limited per day.

    403 for roles outside ``customers.contact_reveal_roles``, 429 past the daily limit, 404
    out of scope. Users with full access get the values without a log entry.
    """
    shown = services.contact_reveal(actor=request.user, contact_id=contact_id)
    return {
        "contact_id": shown.contact.pk,
        **shown.values,
        "logged": shown.logged,
        "remaining_today": shown.remaining_today,
    }


class RevealPage(BoundedPageOut):
    items: list[RevealLogOut]


@router.get("/pools/reveals", response=RevealPage)
def list_reveals(
    request: AuthedRequest,
    filters: Query[selectors.RevealFilters],
    limit: int = Query(100, ge=1, le=API_MAX_LIMIT),
    offset: int = Query(0, ge=0, le=MAX_INT),
) -> dict[str, Any]:
    """The reveal audit log, newest first: admins all, managers their departments'; else 403."""
    reveals = selectors.reveal_list(user=request.user, filters=filters)
    return page_of(reveals, offset=offset, limit=limit)


@router.get("/pools/credit-code", response=CreditCodeOut)
def credit_code_check(request: AuthedRequest, code: str = "") -> CreditCodeOut:
    """统一社会信用代码 check: a message naming the failing character, and the region."""
    return CreditCodeOut(**selectors.credit_code_info(code[:40]))


@router.get("/pools", response=list[PoolOut])
@paginate
def list_pools(request: AuthedRequest) -> Any:
    return selectors.pool_list(user=request.user)


@router.post("/pools", response={201: PoolOut})
def create_pool(request: AuthedRequest, payload: PoolIn) -> Status:
    data = payload.dict(exclude={"department_ids"})
    pool = services.pool_create(
        actor=request.user,
        data=data,
        departments=payload.department_ids,
    )
    return Status(201, pool)


@router.get("/pools/{pool_id}", response=PoolDetailOut)
def get_pool(request: AuthedRequest, pool_id: int) -> Any:
    pool: Any = selectors.pool_get(user=request.user, pool_id=pool_id)
    usage = services.usage_for(user=request.user, pool=pool)
    pool.usage = UsageOut(
        held=usage.held,
        held_limit=usage.held_limit,
        claimed_today=usage.claimed_today,
        daily_limit=usage.daily_limit,
        can_claim=usage.can_claim,
    )
    pool.may_assign = selectors.may_assign(user=request.user, pool=pool)
    return pool


@router.patch("/pools/{pool_id}", response=PoolOut)
def update_pool(request: AuthedRequest, pool_id: int, payload: PoolPatch) -> Pool:
    pool = selectors.pool_get(user=request.user, pool_id=pool_id)
    changes = payload.dict(exclude_unset=True, exclude={"version", "department_ids"})
    departments = payload.department_ids if "department_ids" in payload.model_fields_set else None
    updated = services.pool_update(
        actor=request.user,
        pool=pool,
        changes=changes,
        departments=departments,
        version=payload.version,
    )
    return updated


@router.get("/pools/{pool_id}/customers", response=list[PoolCustomerOut])
@paginate
def pool_customers(request: AuthedRequest, pool_id: int, q: str = "") -> list[PoolCustomerOut]:
    pool = selectors.pool_get(user=request.user, pool_id=pool_id)
    filters = selectors.PoolCustomerFilters(q=q)
    entries = selectors.pool_customers(user=request.user, pool=pool, filters=filters)
    return MappedRows(entries, lambda entry: _pool_entry_out(entry, request.user))  # type: ignore[return-value]


def _pool_entry_out(entry: Any, user: Any) -> PoolCustomerOut:
    customer = entry.customer
    return PoolCustomerOut(
        customer_id=entry.customer_id,
        number=customer.number,
        name=customer.name,
        industry=str(customer.industry or ""),
        region=str(customer.region or ""),
        entered_at=entry.entered_at,
        reason=entry.reason,
        **_primary_contact(customer, user),
    )


def _primary_contact(customer: Any, user: Any) -> dict[str, str]:
    primary = customer.primary_contacts[0] if customer.primary_contacts else None
    if primary is None:
        return {}
    masked = contacts_masked(user, customer)
    shown = masking.contact_values(primary, masked=masked)
    return {"contact_name": primary.name, "contact_mobile": shown["mobile"]}


@router.post("/pools/{pool_id}/customers/{customer_id}/claim", response=CustomerTakenOut)
def claim(request: AuthedRequest, pool_id: Id, customer_id: Id) -> CustomerTakenOut:
    """领取: take a customer from a pool you belong to (limits and cooling period apply)."""
    customer = services.pool_claim(
        actor=request.user,
        pool_id=pool_id,
        customer_id=customer_id,
    )
    return _taken(customer)


@router.post("/pools/{pool_id}/customers/{customer_id}/assign", response=CustomerTakenOut)
def assign(
    request: AuthedRequest, pool_id: Id, customer_id: Id, payload: PoolAssignIn
) -> CustomerTakenOut:
    """Managers of the pool give a pool customer to a member."""
    customer = services.pool_assign(
        actor=request.user,
        pool_id=pool_id,
        customer_id=customer_id,
        assignee=payload.assignee_id,
        reason=payload.reason,
    )
    return _taken(customer)


@router.post("/pools/{pool_id}/customers", response={201: EntryOut})
def put_into_pool(request: AuthedRequest, pool_id: int, payload: PutIn) -> Status:
    """Admins put any customer into the pool."""
    entry = services.pool_put(
        actor=request.user,
        customer_id=payload.customer_id,
        pool_id=pool_id,
        reason=payload.reason,
    )
    return Status(201, _entry(entry))


def _duplicates(request: AuthedRequest, data: DuplicateIn) -> DuplicateAnswer:
    found = selectors.duplicate_check(
        user=request.user,
        name=data.name,
        phone=data.phone,
        email=data.email,
        credit_code=data.credit_code,
    )
    return DuplicateAnswer(
        exists=bool(found), matches=[DuplicateOut(**item.as_dict()) for item in found]
    )


@router.get("/duplicate-check", response=DuplicateAnswer)
def duplicate_check_get(request: AuthedRequest, data: Query[DuplicateIn]) -> DuplicateAnswer:
    """查重 before creating a customer: whether a match exists and its status only."""
    return _duplicates(request, data)


@router.post("/duplicate-check", response=DuplicateAnswer)
def duplicate_check_post(request: AuthedRequest, payload: DuplicateIn) -> DuplicateAnswer:
    return _duplicates(request, payload)


def _require_admin(request: AuthedRequest) -> None:
    if not is_admin(request.user):
        raise Forbidden(_("Only CRM administrators may do this."))


def _plan_args(payload: OffboardingIn) -> dict[str, Any]:
    return {
        "user": payload.user_id,
        "successors": payload.successor_ids,
        "mode": payload.mode,
        "split": dict(payload.split),
        "pool": payload.pool_id,
    }


@router.post("/offboarding/preview", response=OffboardingPreviewOut)
def offboarding_preview(request: AuthedRequest, payload: OffboardingIn) -> dict[str, Any]:
    """离职交接 preview: counts per kind and per successor; nothing is changed."""
    plan = services.offboarding_plan(actor=request.user, **_plan_args(payload))
    return plan.summary()


@router.post("/offboarding", response={201: OffboardingOut})
def offboarding_apply(request: AuthedRequest, payload: OffboardingIn) -> Status:
    """离职交接: transfer everything in one transaction and deactivate the user."""
    record = services.offboarding_apply(
        actor=request.user,
        note=payload.note,
        **_plan_args(payload),
    )
    return Status(201, record)


@router.get("/offboarding", response=list[OffboardingOut])
@paginate
def offboarding_list(request: AuthedRequest) -> Any:
    _require_admin(request)
    return selectors.offboarding_list(user=request.user)


@router.get("/offboarding/{offboarding_id}", response=OffboardingOut)
def offboarding_get(request: AuthedRequest, offboarding_id: int) -> Offboarding:
    from django.shortcuts import get_object_or_404

    _require_admin(request)
    return get_object_or_404(selectors.offboarding_list(user=request.user), pk=offboarding_id)
