"""Every read of the pools app, scoped to the user first."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from django.db.models import Count, Prefetch, Q, QuerySet
from django.utils import timezone
from django.utils.translation import gettext as _

from kehu.accounts.models import Department, User
from kehu.core.access import is_admin, managed_department_ids
from kehu.core.contact_points import email_address, phone_e164
from kehu.core.days import on_days
from kehu.core.errors import Forbidden, InvalidInput, NotFound
from kehu.core.filters import ListFilters
from kehu.core.numbers import Id
from kehu.customers.credit_code import compact, explain, region_code_from_credit_code
from kehu.customers.models import Contact, Customer, Region
from kehu.customers.services import find_duplicates
from kehu.pools import services
from kehu.pools.access import manages_pool, member_pool_filter, pool_customer_ids
from kehu.pools.models import Offboarding, Pool, PoolEntry, RevealLog


class PoolCustomerFilters(ListFilters):
    """Search of a pool's customers (the page and the API alike)."""

    q: str = ""

    def apply(self, entries: QuerySet[PoolEntry]) -> QuerySet[PoolEntry]:
        text = self.q.strip()
        if not text:
            return entries
        return entries.filter(
            Q(customer__name__icontains=text) | Q(customer__number__icontains=text)
        )


class RevealFilters(ListFilters):
    """Filters of the reveal audit log (the page and the API alike)."""

    user_id: Id | None = None
    date_from: date | None = None
    date_to: date | None = None

    def apply(self, reveals: QuerySet[RevealLog]) -> QuerySet[RevealLog]:
        if self.user_id is not None:
            reveals = reveals.filter(user_id=self.user_id)
        return reveals.filter(on_days("at", self.date_from, self.date_to))


def pool_list(*, user: Any) -> QuerySet[Pool]:
    """Active pools the user belongs to (admins: all, inactive ones too), with sizes."""
    pools = Pool.objects.filter(member_pool_filter(user))
    if not is_admin(user):
        pools = pools.filter(is_active=True)
    ids = pools.values("pk").distinct()
    return (
        Pool.objects.filter(pk__in=ids)
        .annotate(
            size=Count("entries", filter=Q(entries__customer__owner__isnull=True), distinct=True)
        )
        .prefetch_related("departments")
        .order_by("name")
    )


def pool_get(*, user: Any, pool_id: int) -> Pool:
    return services.member_pool_or_404(user, pool_id)


def pool_customers(
    *, user: Any, pool: Pool, filters: PoolCustomerFilters | None = None
) -> QuerySet[PoolEntry]:
    """The owner-less customers lying in ``pool``.

    This read does not start from ``Customer.objects.visible_to``: pool customers have no
    owner, and the pool's members may see them because they belong to the pool — callers get
    ``pool`` from ``pool_get``, which answers 404 to non-members. Only list columns are read
    (name, number, industry, region, when and why it entered) and the primary contact, whose
    phones and email the pages and API mask for members without full access.
    """
    if not Pool.objects.filter(member_pool_filter(user), pk=pool.pk).exists():
        raise NotFound("customer pool")
    entries = (filters or PoolCustomerFilters()).apply(
        PoolEntry.objects.filter(pool=pool, customer__owner__isnull=True)
    )
    primary = Contact.objects.filter(is_active=True, is_primary=True)
    return (
        entries.select_related(
            "customer", "customer__industry", "customer__region", "previous_owner"
        )
        .prefetch_related(Prefetch("customer__contacts", primary, to_attr="primary_contacts"))
        .order_by("-entered_at", "-id")
    )


def may_assign(*, user: Any, pool: Pool) -> bool:
    return manages_pool(user, pool)


def assignable_users(*, user: Any, pool: Pool) -> list[Any]:
    """Active members of the pool the user may assign to (their own departments; admins: all)."""
    members = User.objects.filter(is_active=True, department__isnull=False)
    subtree: Q = Q(pk__in=[])
    for department in pool.departments.all():
        subtree |= Q(department__path__startswith=department.path)
    members = members.filter(subtree)
    if not is_admin(user):
        members = members.filter(department_id__in=managed_department_ids(user))
    return list(members.order_by("username")[:500])


@dataclass(frozen=True)
class RecycleWarning:
    customer: Customer
    pool: Pool
    deadline: datetime
    reason: str


def my_warnings(*, user: Any, now: datetime | None = None) -> list[RecycleWarning]:
    """The user's customers that return to a pool within the pool's warning window."""
    now = now or timezone.now()
    # A big book (tens of thousands at 1M customers) is read only where a pool can take its
    # customers back, and only the customers old enough to be due within the warning window.
    # The departments are few: their pools are looked up without reading the book.
    pools = services.home_pools(Department.objects.values_list("pk", flat=True))
    if not pools:
        return []
    customers = list(
        Customer.objects.filter(
            owner_id=user.pk,
            department_id__in=list(pools),
            created_at__lte=_warning_cutoff(pools, now),
        )
        .select_related("owner")
        .order_by("pk")
    )
    warnings = [
        RecycleWarning(due.customer, due.pool, due.deadline, due.reason)
        for due in services.recycle_due(customers, pools, now=now)
        if due.deadline <= now + timedelta(days=due.pool.warn_days_before)
    ]
    return sorted(warnings, key=lambda w: w.deadline)


def _warning_cutoff(pools: dict[int, Any], now: datetime) -> datetime:
    """Customers created after this cannot be due within any pool's warning window.

    A deadline is at least ``created + the shortest recycle period`` of the pool.
    """
    horizon = 0
    for pool in pools.values():
        days = [d for d in (pool.recycle_no_followup_days, pool.recycle_no_deal_days) if d]
        if days:
            horizon = max(horizon, pool.warn_days_before - min(days))
    return now + timedelta(days=horizon)


@dataclass(frozen=True)
class DuplicateStatus:
    """What a duplicate check may tell: a match exists and its status; the record only when
    it is within the user's scope."""

    status: str  # "own", "pool", "held" or "unassigned"
    reasons: tuple[str, ...]
    score: float
    owner_name: str = ""
    pool_name: str = ""
    customer_id: int | None = None
    number: str = ""
    name: str = ""

    @property
    def visible(self) -> bool:
        return self.customer_id is not None

    def as_dict(self) -> dict[str, Any]:
        return {
            "status": self.status,
            "reasons": list(self.reasons),
            "score": self.score,
            "owner_name": self.owner_name,
            "pool_name": self.pool_name,
            "visible": self.visible,
            "customer_id": self.customer_id,
            "number": self.number,
            "name": self.name,
        }


def duplicate_check(
    *, user: Any, name: str = "", phone: str = "", email: str = "", credit_code: str = ""
) -> list[DuplicateStatus]:
    """查重: does a customer like this exist already, and who has it (撞单 protection)?

    Outside the user's scope only the status is told (in pool X, held by a named owner), never
    the number, the name on file or its contacts.
    """
    name, phone, email, credit_code = (v.strip() for v in (name, phone, email, credit_code))
    errors: dict[str, list[str]] = {}
    if len(name) > 200:
        errors["name"] = [_("Keep the name under 200 characters.")]
    if phone and phone_e164(phone) is None:
        errors["phone"] = [
            _("%(value)s is not a valid phone number; write e.g. 13812345678 or 021-12345678.")
            % {"value": phone[:40]}
        ]
    if email and email_address(email) is None:
        errors["email"] = [_("%(value)s is not a valid email address.") % {"value": email[:80]}]
    if credit_code and (message := explain(credit_code)) is not None:
        errors["credit_code"] = [message]
    if errors:
        raise InvalidInput(next(iter(errors.values()))[0], errors=errors)
    if not (name or phone or email or credit_code):
        raise InvalidInput(_("Enter a name, phone, email or credit code to check."))
    matches = find_duplicates(
        name=name,
        phones=[phone] if phone else [],
        emails=[email] if email else [],
        credit_code=credit_code,
    )
    if not matches:
        return []
    ids = list(dict.fromkeys(m.customer_id for m in matches))
    visible = set(
        Customer.objects.filter(
            Q(pk__in=Customer.objects.visible_to(user).filter(pk__in=ids).values("pk"))
            | Q(pk__in=pool_customer_ids(user, False)),
            pk__in=ids,
        ).values_list("pk", flat=True)
    )
    pools = dict(
        PoolEntry.objects.filter(customer_id__in=ids).values_list("customer_id", "pool__name")
    )
    grouped: dict[int, list[Any]] = {}
    for match in matches:
        grouped.setdefault(match.customer_id, []).append(match)
    result: list[DuplicateStatus] = []
    for customer_id, group in grouped.items():
        first = group[0]
        if first.owner_id is not None and first.owner_id == user.pk:
            status = "own"
        elif first.owner_id is not None:
            status = "held"
        elif customer_id in pools:
            status = "pool"
        else:
            status = "unassigned"
        shown = customer_id in visible
        result.append(
            DuplicateStatus(
                status=status,
                reasons=tuple(dict.fromkeys(m.reason for m in group)),
                score=max(m.score for m in group),
                owner_name=first.owner_name if status in ("own", "held") else "",
                pool_name=pools.get(customer_id, ""),
                customer_id=customer_id if shown else None,
                number=first.number if shown else "",
                name=first.name if shown else "",
            )
        )
    return result


def offboarding_list(*, user: Any) -> QuerySet[Offboarding]:
    if not is_admin(user):
        return Offboarding.objects.none()
    return Offboarding.objects.select_related("user", "actor", "pool").order_by("-created_at")


def credit_code_info(code: str) -> dict[str, Any]:
    """What a credit code says: valid or the failing character, and where it was registered."""
    message = explain(code)
    region_code = region_code_from_credit_code(code) if message is None else None
    region = (
        Region.objects.select_related("parent").filter(code=region_code).first()
        if region_code
        else None
    )
    return {
        "code": compact(code),
        "valid": message is None,
        "message": message,
        "region_code": region_code,
        "region_name": str(region) if region else None,
    }


# --- Contact reveal log (查看记录) ------------------------------------------------------------


def may_audit_reveals(user: Any) -> bool:
    return is_admin(user) or bool(managed_department_ids(user))


def reveal_list(*, user: Any, filters: RevealFilters | None = None) -> QuerySet[RevealLog]:
    """Who showed which masked contact, newest first.

    Admins see every reveal; a manager those of their departments' customers and those their
    departments' people made. Anyone else: 403.
    """
    if not may_audit_reveals(user):
        raise Forbidden(_("Only administrators and managers may read the reveal log."))
    reveals = RevealLog.objects.all()
    if not is_admin(user):
        departments = managed_department_ids(user)
        reveals = reveals.filter(
            Q(customer__department_id__in=departments) | Q(user__department_id__in=departments)
        )
    reveals = (filters or RevealFilters()).apply(reveals)
    return reveals.select_related("user", "contact", "customer").order_by("-at", "-id")


def reveal_users(*, user: Any) -> QuerySet[Any]:
    """People who appear in the reveal log the user may read (the user filter's choices)."""
    ids = reveal_list(user=user).order_by().values("user_id").distinct()
    return User.objects.filter(pk__in=ids).order_by("username")
