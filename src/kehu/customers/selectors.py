"""Reads of customers and contacts, always scoped to the acting user first.

``CustomerFilters`` is the one filter definition: the API takes it as query parameters, the UI
builds it from the list page's query string, saved filters store that query string.
"""

from __future__ import annotations

import hashlib
import re
from collections import Counter
from collections.abc import Sequence
from datetime import date, timedelta
from typing import Any, cast

from django.core.cache import cache
from django.core.exceptions import PermissionDenied
from django.db import connection
from django.db.models import (
    Avg,
    Count,
    Exists,
    F,
    OrderBy,
    OuterRef,
    Prefetch,
    Q,
    QuerySet,
    Sum,
)
from django.db.models.functions import Coalesce
from django.http import Http404
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from pydantic import field_validator

from kehu.accounts.models import Department, Role, User
from kehu.core import config, masking
from kehu.core.access import (
    get_visible_or_404,
    is_admin,
    managed_department_ids,
    policy_of,
    read_only_message,
)
from kehu.core.days import on_days
from kehu.core.filters import CustomFieldFilters
from kehu.core.history import HistoryEntry, history_entries
from kehu.core.numbers import Id
from kehu.core.pagination import BoundedCount, narrowed, page_of
from kehu.customers.models import (
    Contact,
    ContactSearchIndex,
    Customer,
    CustomerAttachment,
    CustomerSearchIndex,
    CustomerStatus,
    Grade,
    Industry,
    Priority,
    Region,
    SavedFilter,
    Source,
    StatusChange,
    effective_grade_sql,
)
from kehu.customers.normalize import digits, fold, pair_term
from kehu.customers.reference import codes_within
from kehu.customers.search_index import TRIGRAM, phrase

SORTS: dict[str, tuple[str | OrderBy, ...]] = {
    "-id": ("-id",),
    "id": ("id",),
    "name": ("name", "id"),
    "-name": ("-name", "-id"),
    "number": ("number",),
    "-number": ("-number",),
    "created": ("created_at", "id"),
    "-created": ("-created_at", "-id"),
    "updated": ("updated_at", "id"),
    "-updated": ("-updated_at", "-id"),
    "status": ("status", "-id"),
    # the grade the list shows (a manual grade first), as the grade filter reads it
    "grade": (effective_grade_sql().asc(), "-id"),
    "last_contact": ("last_contact_at", "id"),
    "-last_contact": ("-last_contact_at", "-id"),
}
_SEPARATORS = re.compile(r"[\s\-+()]+")
# SQLite: past this many matches a term is read with LIKE along the list's own order, which
# finds a page after a few rows, instead of collecting every match from the index first
COMMON_MATCHES = 10_000


class CustomerFilters(CustomFieldFilters):
    """Search and filters of the customer list (UI and API alike)."""

    custom_kind = "customer"

    not_narrowing = frozenset({"sort", "columns"})

    q: str = ""
    status: str = ""
    owner: Id | None = None
    department: int | None = None
    industry: str = ""
    region: str = ""
    source: str = ""
    priority: str = ""
    grade: str = ""
    tags: list[Id] = []
    created_from: date | None = None
    created_to: date | None = None
    updated_from: date | None = None
    updated_to: date | None = None
    stale: bool = False
    unverified: bool = False
    sort: str = "-id"

    @field_validator("q")
    @classmethod
    def _q(cls, value: str) -> str:
        if len(value) > 100:
            raise ValueError(str(_("Search for at most 100 characters.")))
        return value.strip()

    @field_validator("status")
    @classmethod
    def _status(cls, value: str) -> str:
        return _choice(value, CustomerStatus.values)

    @field_validator("source")
    @classmethod
    def _source(cls, value: str) -> str:
        return _choice(value, Source.values)

    @field_validator("priority")
    @classmethod
    def _priority(cls, value: str) -> str:
        return _choice(value, Priority.values)

    @field_validator("grade")
    @classmethod
    def _grade(cls, value: str) -> str:
        return _choice(value, Grade.values)

    @field_validator("sort")
    @classmethod
    def _sort(cls, value: str) -> str:
        return _choice(value or "-id", list(SORTS))

    @field_validator("industry", "region")
    @classmethod
    def _code(cls, value: str) -> str:
        value = value.strip().upper()
        if value and not re.fullmatch(r"[A-Z0-9]{1,6}", value):
            raise ValueError(str(_("Not a valid code.")))
        return value

    def apply(self, queryset: QuerySet[Customer], user: Any = None) -> QuerySet[Customer]:
        """``queryset`` (already scoped to the user) narrowed and sorted by these filters;
        ``user``'s roles decide which custom fields they may filter on."""
        queryset = self.apply_custom(search(queryset, self.q), user)
        if self.status:
            queryset = queryset.filter(status=self.status)
        if self.owner:
            queryset = queryset.filter(owner_id=self.owner)
        if self.department:
            path = Department.objects.filter(pk=self.department).values("path")[:1]
            queryset = queryset.filter(department__path__startswith=path)
        if self.industry:
            queryset = queryset.filter(industry_id__in=codes_within(Industry, self.industry))
        if self.region:
            queryset = queryset.filter(region_id__in=codes_within(Region, self.region))
        if self.source:
            queryset = queryset.filter(source=self.source)
        if self.priority:
            queryset = queryset.filter(priority=self.priority)
        if self.grade:  # along the grade sort's index, newest first within the grade
            queryset = queryset.alias(shown_grade=effective_grade_sql()).filter(
                shown_grade=self.grade
            )
        if self.tags:
            queryset = queryset.filter(
                pk__in=Customer.tags.through.objects.filter(tag_id__in=self.tags).values(
                    "customer_id"
                )
            )
        queryset = queryset.filter(
            on_days("created_at", self.created_from, self.created_to),
            on_days("updated_at", self.updated_from, self.updated_to),
        )
        now = timezone.now()
        if self.stale:
            days = int(config.get("customers.stale_contact_days"))
            queryset = queryset.filter(contact_info_updated_at__lt=now - timedelta(days=days))
        if self.unverified:
            hours = int(config.get("customers.verify_within_hours"))
            queryset = queryset.filter(
                verified_at__isnull=True, first_contact_at__lt=now - timedelta(hours=hours)
            )
        return queryset.order_by(*SORTS[self.sort])


def _choice(value: str, allowed: list[str]) -> str:
    if value and value not in allowed:
        raise ValueError(
            str(_("Choose one of: %(choices)s.")) % {"choices": ", ".join(map(str, allowed))}
        )
    return value


def search(queryset: QuerySet[Customer], q: str) -> QuerySet[Customer]:
    """Name, number, contact names, phone digits, emails and pinyin, over ``search_text``.

    Every term must be a substring of the customer's search text, on both databases through
    a trigram index. On PostgreSQL the text conditions sit in a subquery of their own
    (``id IN (…)``). In one WHERE with the access scope, the bounded count ANDed the trigram
    index with the scope's department index: the planner chooses bitmap combinations by their
    total cost, blind to the count's LIMIT, and a regional manager's department bitmap alone
    (459,000 rows) took 33–40 ms of a 45–57 ms count at size L. Apart, the trigram matches are
    read first and each is checked against the scope by its key (15–18 ms). On SQLite the
    terms of three or more characters are looked up in the FTS5 trigram table
    (``search_index``; a phrase query there matches exactly the texts that contain it), the
    shorter ones filter those matches, or the scope's rows, with ``LIKE``; so do all terms
    when the index finds them too many (``_index_matches``).
    A term of two Han characters has no trigram; it is matched in its paired spelling
    (``normalize.pair_term``: 瑞德 → 瑞x德), which the index looks up.
    """
    text = fold(q)
    if not text:
        return queryset
    if "\x00" in text:  # in no stored text (PostgreSQL refuses it, FTS5 ends its query there)
        return queryset.none()
    compact = _SEPARATORS.sub("", text)
    if compact.isdigit():
        terms = [digits(compact)]
    else:
        terms = [pair_term(term) or term for term in text.split()]
    if connection.vendor == "postgresql":
        contained = [Q(search_text__contains=term) for term in terms]
        return queryset.filter(pk__in=Customer.objects.filter(*contained).values("pk"))
    indexed = [phrase(term) for term in terms if len(term) >= TRIGRAM]
    matches = _index_matches(CustomerSearchIndex, " AND ".join(indexed)) if indexed else None
    if matches is not None:
        queryset = queryset.filter(pk__in=matches)
        terms = [term for term in terms if len(term) < TRIGRAM]
    return queryset.filter(*[Q(search_text__contains=term) for term in terms])


def _index_matches(index: type[CustomerSearchIndex | ContactSearchIndex], query: str) -> Any:
    """SQLite: the keys an FTS5 query matches (a subquery), or None when they are more than
    ``COMMON_MATCHES``: a common term (有限公司: 80 % of the customers) then reads faster with
    LIKE along the list's own order, which stops after a page, than by collecting every match
    first (at size M: 60–80 ms per query). The capped count stops early, as the index is read
    in key order."""
    matches = index.objects.filter(document__match=query)
    if matches[: COMMON_MATCHES + 1].count() > COMMON_MATCHES:
        return None
    return matches.values("pk")


# --- Completeness (信息完整度): a column kept by the services, averaged here ---------------------


def team_completeness(*, user: Any, filters: CustomerFilters | None = None) -> dict[str, Any]:
    """Average completeness and count of the customers the user sees (after filters)."""
    queryset: QuerySet[Customer] = Customer.objects.visible_to(user)
    if filters is not None:
        queryset = filters.apply(queryset, user).order_by()
    row = queryset.aggregate(percent=Avg("completeness"), count=Count("pk"))
    return {"percent": round(float(row["percent"] or 0)), "count": row["count"]}


TEAM_COMPLETENESS_TTL = 300  # seconds; the list page says how old the figure may be


def team_completeness_cached(*, user: Any, filters: CustomerFilters) -> dict[str, Any]:
    """``team_completeness`` for the list page, kept a few minutes per user and filter.

    It reads every visible row (a manager's 440,000 customers at size L: ~300 ms), on every
    page, sort and htmx refresh of the list; the figure moves slowly, so a short cache is fine.
    """
    key_filters = filters.model_dump_json(exclude={"sort"})
    digest = hashlib.sha256(f"{user.pk}:{key_filters}".encode()).hexdigest()[:32]
    key = f"customers:team-completeness:{digest}"
    found = cache.get(key)
    if found is None:
        found = team_completeness(user=user, filters=filters)
        cache.set(key, found, TEAM_COMPLETENESS_TTL)
    return cast(dict[str, Any], found)


def panel_figures(*, user: Any) -> dict[str, Any]:
    """The dashboard panel's figures of the customers ``user`` sees, in one pass over them.

    Count, completeness and the stale and unverified counts per department, totalled here.
    Read as four aggregates instead, they made a manager's uncached dashboard take 1.1 s at
    size L (459,000 customers); in one pass 0.45 s (bench/RESULTS.md, 2026-12-03). Now a
    manager's departments, the own customers and the granted ones are aggregated apart
    (``visible_parts``): PostgreSQL answers the first two from the department and owner
    indexes alone (they carry the columns read here). Grouped by the key and named
    afterwards, at size L and warm: a manager's 443,662 customers 138 → 49 ms, a sales
    rep's 152,778 98 → 25 ms (bench/RESULTS.md, 2026-12-06).
    """
    now = timezone.now()
    stale_before = now - timedelta(days=int(config.get("customers.stale_contact_days")))
    verify_before = now - timedelta(hours=int(config.get("customers.verify_within_hours")))
    figures = ("count", "points", "stale", "unverified")
    totals: dict[int | None, Counter[str]] = {}
    for part in Customer.objects.visible_parts(user):
        rows = part.values("department").annotate(
            count=Count("pk"),
            points=Coalesce(Sum("completeness"), 0),
            stale=Count("pk", filter=Q(contact_info_updated_at__lt=stale_before)),
            unverified=Count(
                "pk", filter=Q(verified_at__isnull=True, first_contact_at__lt=verify_before)
            ),
        )
        for department, *values in rows.order_by().values_list("department", *figures):
            totals.setdefault(department, Counter()).update(dict(zip(figures, values, strict=True)))
    found = Department.objects.filter(pk__in=[key for key in totals if key is not None])
    names: dict[int | None, str] = {None: "—", **dict(found.values_list("pk", "name"))}
    count = sum(total["count"] for total in totals.values())
    return {
        "customer_count": count,
        "completeness": _percent(sum(total["points"] for total in totals.values()), count),
        "stale": sum(total["stale"] for total in totals.values()),
        "unverified": sum(total["unverified"] for total in totals.values()),
        "departments": [
            {
                "department": names[key],
                "percent": _percent(total["points"], total["count"]),
                "count": total["count"],
            }
            for key, total in sorted(
                totals.items(), key=lambda item: (item[0] is None, names[item[0]])
            )
        ],
    }


def _percent(points: int, count: int) -> int:
    return round(points / count) if count else 0


# --- Customers -----------------------------------------------------------------------------------


def customer_list(*, user: Any, filters: CustomerFilters | None = None) -> QuerySet[Customer]:
    """Visible customers with everything a list row shows, in a fixed number of queries.

    Only the owner is joined: rows show industry, region and department as codes/ids, and
    each extra join costs PostgreSQL planning time on every page (bench/RESULTS.md, item 4).
    """
    queryset: QuerySet[Customer] = (
        Customer.objects.visible_to(user)
        .select_related("owner")
        .defer("search_text", "name_key")
        .prefetch_related(
            "tags",
            Prefetch(
                "contacts",
                queryset=Contact.objects.filter(is_active=True, is_primary=True),
                to_attr="primary_contacts",
            ),
        )
    )
    if filters is not None:
        queryset = filters.apply(queryset, user)
    return queryset


def narrowed_search(
    queryset: QuerySet[Any], filters: CustomerFilters
) -> tuple[QuerySet[Any], BoundedCount | None]:
    """A searched list read by its matches' keys when they are few (``pagination.narrowed``).

    Only the search needs it: the planner estimates every other filter from its statistics.
    """
    if not filters.q:
        return queryset, None
    return narrowed(queryset)


PICK_LIMIT = 20


def customer_choices(
    queryset: QuerySet[Customer], q: str, *, limit: int = PICK_LIMIT
) -> list[Customer]:
    """The newest ``limit`` customers of ``queryset`` that match ``q`` (the list's search; all
    of them without ``q``), with their names and numbers: the options of a customer picker."""
    found = search(queryset, q).order_by("-id").only("id", "name", "number")
    if q.strip():
        found, _count = narrowed(found)
    return list(found[:limit])


def customer_rows(
    *, user: Any, filters: CustomerFilters, fields: Sequence[str], offset: int, limit: int
) -> dict[str, Any]:
    """One page of the list as plain rows for the API: ``{"items", "count", "count_capped"}``.

    ``values()`` rows cost half the CPU of model instances, and the page needs no join: tag
    names come in one query for the page, owner names from the acting user or one query for
    the other owners on the page (bench/RESULTS.md, "Request-path fixes").
    """
    derived = {"tags", "owner_name", "effective_grade"}
    needed = ("id", "owner_id", "department_id", "grade", "grade_override")
    columns = [name for name in fields if name not in derived]
    columns += [name for name in needed if name not in columns]
    queryset = filters.apply(Customer.objects.visible_to(user), user).values(*columns)
    queryset, known = narrowed_search(queryset, filters)
    page = page_of(queryset, offset=offset, limit=limit, known=known)
    rows: list[dict[str, Any]] = page["items"]
    tags = _tag_names([row["id"] for row in rows])
    owners = _user_names({row["owner_id"] for row in rows}, known=user)
    for row in rows:
        row["tags"] = tags.get(row["id"], [])
        row["owner_name"] = owners.get(row["owner_id"], "")
        row["effective_grade"] = row["grade_override"] or row["grade"]
    return page


def _tag_names(customer_ids: list[int]) -> dict[int, list[str]]:
    names: dict[int, list[str]] = {}
    if customer_ids:
        links = Customer.tags.through.objects.filter(customer_id__in=customer_ids)
        for customer_id, name in links.order_by("tag__name").values_list(
            "customer_id", "tag__name"
        ):
            names.setdefault(customer_id, []).append(name)
    return names


def _user_names(user_ids: set[int | None], *, known: Any) -> dict[int | None, str]:
    """Display names (``str(user)``); the acting user's own rows need no query."""
    names: dict[int | None, str] = {None: ""}
    if known.pk in user_ids:
        names[known.pk] = str(known)
    missing = {pk for pk in user_ids if pk is not None and pk not in names}
    if missing:
        names.update({owner.pk: str(owner) for owner in User.objects.filter(pk__in=missing)})
    return names


# What the detail page shows beside the customer's own columns.
PAGE_RELATED = (
    "owner",
    "department",
    "industry__parent",
    "region__parent",
    "verified_by",
    "created_by",
)
# The API's customer and the page's lazy tabs name only its owner: joining the page's seven
# other tables made PostgreSQL spend 2 ms planning a 0.15 ms query (bench/RESULTS.md,
# 2026-12-06 b).
OWNER_RELATED = ("owner",)


def customer_get(*, user: Any, customer_id: int, related: Sequence[str] = PAGE_RELATED) -> Customer:
    queryset = Customer.objects.select_related(*related)
    return get_visible_or_404(queryset, user, pk=customer_id)


def customer_get_editable(*, user: Any, customer_id: int) -> Customer:
    """A customer the user may change: 404 if they do not see it, 403 if they only see it."""
    customer = customer_get(user=user, customer_id=customer_id)
    require_editable(user, customer)
    return customer


def require_editable(user: Any, customer: Customer) -> None:
    """403 for a customer the user sees (e.g. marketing, a read-only share) but may not change."""
    if not can_edit(user, customer):
        raise PermissionDenied(read_only_message())


def can_edit(user: Any, customer: Customer) -> bool:
    # Owner, managers above and admins always edit; only shares and pools need the query.
    if policy_of(Customer).has_full_access(user, customer):
        return True
    return Customer.objects.editable_by(user).filter(pk=customer.pk).exists()


def masked_fields(user: Any, customer: Customer) -> frozenset[str]:
    return policy_of(Customer).masked_fields(user, customer)


def contacts_masked(user: Any, customer: Customer) -> bool:
    """Contacts' phones, email and WeChat are masked for users without full access.

    No query: ownership and department are on the row, the manager's departments are cached
    on the user object for the request.
    """
    return not policy_of(Customer).has_full_access(user, customer)


def contact_values(user: Any, contact: Contact, *, masked: bool | None = None) -> dict[str, str]:
    """A contact's mobile, work phone, email and WeChat as ``user`` may read them."""
    if masked is None:
        masked = contacts_masked(user, contact.customer)
    return masking.contact_values(contact, masked=masked)


def _read_once(customer: Customer, name: str, read: Any) -> list[Any]:
    """Memoise a related list on the customer object: the detail page and its timeline
    providers ask for the same rows within one request."""
    memo: dict[str, list[Any]] = customer.__dict__.setdefault("_kehu_related", {})
    if name not in memo:
        memo[name] = list(read())
    return memo[name]


def status_history(*, customer: Customer) -> list[StatusChange]:
    return _read_once(
        customer,
        "status_history",
        lambda: customer.status_changes.select_related("changed_by").order_by("-changed_at", "-id"),
    )


def customer_history(*, user: Any, customer: Customer) -> list[HistoryEntry]:
    """The customer's own history and its contacts', newest first; masked fields left out."""
    hidden = masked_fields(user, customer)
    entries = history_entries(customer.history.all(), hidden_fields=hidden, user=user)
    contact_entries = history_entries(
        Contact.history.filter(customer_id=customer.pk),
        hidden_fields=frozenset({"custom"}) if contacts_masked(user, customer) else frozenset(),
        user=user,
    )
    if contacts_masked(user, customer):
        for entry in contact_entries:
            for change in entry.changes:
                change.old = masking.mask_contact_field(change.field, change.old)
                change.new = masking.mask_contact_field(change.field, change.new)
    entries += contact_entries
    entries.sort(key=lambda entry: entry.when, reverse=True)
    return entries


def attachment_list(*, customer: Customer) -> list[CustomerAttachment]:
    return _read_once(
        customer, "attachments", lambda: customer.attachments.select_related("uploaded_by")
    )


def attachment_get(*, user: Any, attachment_id: int) -> CustomerAttachment:
    """An attachment whose customer the user may see; 404 otherwise."""
    attachment = (
        CustomerAttachment.objects.filter(
            pk=attachment_id, customer__in=Customer.objects.visible_to(user).values("pk")
        )
        .select_related("customer")
        .first()
    )
    if attachment is None:
        raise Http404(str(_("attachment")))
    return attachment


def saved_filters(
    *, user: Any, list_name: str = SavedFilter.ListName.CUSTOMERS
) -> QuerySet[SavedFilter]:
    """The user's own saved filters of one list (``SavedFilter.ListName``), by name."""
    return SavedFilter.objects.filter(user=user, list_name=list_name)


# --- Contacts ----------------------------------------------------------------------------------


# The contact list's order, along the ``contact_list_order`` index: contacts grouped by
# customer (oldest customer first), then as a customer's own list shows them (active first,
# the primary first, by name), the id last so that the order is total and pages are stable.
CONTACT_ORDER = ("customer_id", "-is_active", "-is_primary", "name", "id")
# What a contact list row reads of its customer: who holds it, which decides masking.
CONTACT_CUSTOMER_COLUMNS = {
    "owner_id": F("customer__owner_id"),
    "department_id": F("customer__department_id"),
}
# A scope of at most this many customers is inlined into the contact list as their ids.
INLINE_CUSTOMERS = 2_000


def _visible_contacts(
    user: Any, customer_id: int | None = None
) -> tuple[QuerySet[Contact], QuerySet[Contact] | None]:
    """The contacts ``user`` sees (their customer is visible to them), and part of them that
    one index range counts (None: the first is such a range already).

    Which form pages fastest along ``CONTACT_ORDER`` depends on the scope's size, so the
    visible customers are counted up to ``INLINE_CUSTOMERS + 1`` first (one index range):
    - a few customers (a young rep's book): ``customer_id IN (their ids)``, which both
      databases read from the index, customer by customer;
    - more (a big book, a manager): each contact's customer is checked as the index is walked
      (``EXISTS``, by primary key), and a page stops after its rows. ``customer_id IN
      (subquery)`` made SQLite collect the whole scope first, on every page and again for its
      count (a manager's 44,000 customers at size M: 50–60 ms each). The count stops at the
      cap once the contacts of ``INLINE_CUSTOMERS`` of the customers pass it.
    """
    customers = Customer.objects.visible_to(user)
    per_row = Contact.objects.filter(Exists(customers.filter(pk=OuterRef("customer_id"))))
    if customer_id is not None:
        return per_row.filter(customer_id=customer_id), None
    keys = customers.order_by().values("pk")
    if keys[: INLINE_CUSTOMERS + 1].count() <= INLINE_CUSTOMERS:
        return Contact.objects.filter(customer_id__in=keys), None
    return per_row, Contact.objects.filter(customer_id__in=keys[:INLINE_CUSTOMERS])


# The contact list's sorts, each along an index of its own: ``contact_list_order``,
# ``contact_name_order`` and ``contact_created_order`` (read backwards for the descending
# ones). A large scope walks the index and checks each contact's customer (``EXISTS``) until
# the page is full; a small book's few contacts are sorted.
CONTACT_SORTS: dict[str, tuple[str, ...]] = {
    "customer": CONTACT_ORDER,
    "name": ("name", "id"),
    "-name": ("-name", "-id"),
    "created": ("created_at", "id"),
    "-created": ("-created_at", "-id"),
}


class ContactFilters(CustomFieldFilters):
    """Search and filters of the contact list: its page and ``GET /api/v1/contacts`` alike."""

    custom_kind = "contact"

    not_narrowing = frozenset({"sort", "columns"})

    q: str = ""
    customer_id: Id | None = None
    active: bool | None = None
    decision_maker: bool = False
    sort: str = "customer"

    @field_validator("q")
    @classmethod
    def _q(cls, value: str) -> str:
        # the first 100 characters, as the API always read it (the page's box takes no more)
        return value[:100].strip()

    @field_validator("sort")
    @classmethod
    def _sort(cls, value: str) -> str:
        return _choice(value or "customer", list(CONTACT_SORTS))

    def narrow(self, queryset: QuerySet[Contact], match: Q, user: Any = None) -> QuerySet[Contact]:
        """``queryset`` narrowed by ``match`` (the search's condition, ``_contact_match``) and
        the other filters, in one ``filter()``; the scope and order are the caller's."""
        conditions: dict[str, Any] = {}
        if self.active is not None:
            conditions["is_active"] = self.active
        if self.decision_maker:
            conditions["is_decision_maker"] = True
        return self.apply_custom(queryset.filter(match, **conditions), user)

    def apply(self, queryset: QuerySet[Contact], user: Any = None) -> QuerySet[Contact]:
        """``queryset`` (contacts the user sees) narrowed and sorted by these filters."""
        return self.narrow(queryset, _contact_match(self.q)[0], user).order_by(
            *CONTACT_SORTS[self.sort]
        )


def _criteria(
    filters: ContactFilters | None, customer_id: int | None, q: str, active: bool | None
) -> ContactFilters:
    """``filters``, or the keyword criteria of the selectors' callers as filters (unchecked:
    the selectors match a ``q`` of any length)."""
    if filters is not None:
        return filters
    return ContactFilters.model_construct(customer_id=customer_id, q=q, active=active)


def contact_list(
    *,
    user: Any,
    filters: ContactFilters | None = None,
    customer_id: int | None = None,
    q: str = "",
    active: bool | None = None,
) -> QuerySet[Contact]:
    """The contacts ``user`` sees, filtered, in the filters' order, with their customers."""
    filters = _criteria(filters, customer_id, q, active)
    visible, _part = _visible_contacts(user, filters.customer_id)
    return filters.apply(visible, user).select_related("customer")


def contact_page(
    *,
    user: Any,
    offset: int,
    limit: int,
    fields: Sequence[str] = ("id", "customer_id", "name"),
    filters: ContactFilters | None = None,
    customer_id: int | None = None,
    q: str = "",
    active: bool | None = None,
) -> dict[str, Any]:
    """One page of ``contact_list`` as plain rows: ``{"items", "count", "count_capped"}``
    (``page_of``). A row holds ``fields`` of the contact (``customer__name`` and the like
    reach its customer) and its customer's ``owner_id`` and ``department_id``, which decide
    masking. ``values()`` rows cost a fraction of the contact and customer instances they
    replace (bench/RESULTS.md, 2026-12-06 l). ``filters`` (the list page's and the API's)
    or the keyword criteria choose the rows."""
    filters = _criteria(filters, customer_id, q, active)
    visible, part = _visible_contacts(user, filters.customer_id)
    match, indexed = _contact_match(filters.q)
    rows = (
        filters.narrow(visible, match, user)
        .values(*fields, **CONTACT_CUSTOMER_COLUMNS)
        .order_by(*CONTACT_SORTS[filters.sort])
    )
    # matches read from an index are few (``COMMON_MATCHES`` at most): counting them is cheap,
    # while the first customers' part walked their contacts for nothing (10–14 ms)
    subset = None if part is None or indexed else filters.narrow(part, match, user)
    # the default order walks the list's index, and so does its count; another sort would
    # sort the scope for the count too
    ordered = filters.sort == "customer"
    return page_of(rows, offset=offset, limit=limit, ordered_count=ordered, subset=subset)


def contact_search(queryset: QuerySet[Contact], q: str) -> QuerySet[Contact]:
    """Contacts whose name, email or searchable custom values (``custom_text``) contain ``q``
    (the whole of it, case folded) or whose mobile or work phone contains its digits, when it
    has three or more.

    PostgreSQL reads the name, email and phone conditions from one pg_trgm GIN index
    (migration 0014) and the custom text from its own (0021); SQLite from its FTS5 trigram
    table (``search_index``), as one query over the columns, unless the matches are many
    (``_index_matches``); a ``q`` of one or two characters has no trigram and is matched with
    ``LIKE`` on both, but for two Han characters, which the custom text holds paired
    (``normalize.contact_custom_text``) and the indexes look up as such.

    On SQLite a ``q`` of two Han characters (a given name, 何娜) is matched with ``LIKE`` only
    among the contacts of the customers whose search text holds it in its paired spelling
    (``normalize.pair_term``, the customers' FTS index): a contact's name and e-mail are part
    of its customer's search text, so those customers hold every contact that matches, and
    ``LIKE`` decides which; the contacts whose custom text holds it come from the contacts'
    own index. Walked along the list's order instead, such a term, which a few
    hundred of 200,000 contacts match, read the whole index for a page and again for its
    count (size M: 300–370 ms of a request; bench/RESULTS.md, 2026-12-06 l).
    """
    return queryset.filter(_contact_match(q)[0])


def _contact_match(q: str) -> tuple[Q, bool]:
    """``contact_search``'s condition, and whether an index bounds its matches (SQLite)."""
    text = fold(q)
    if not text:
        return Q(), False
    if "\x00" in text:  # as in ``search``
        return Q(pk__in=[]), False
    number = digits(text)
    phones = len(number) >= TRIGRAM
    paired = pair_term(text)
    # the custom text holds its Han runs paired too (``normalize.contact_custom_text``)
    custom = Q(custom_text__contains=paired or text)
    within = Q()
    if connection.vendor == "sqlite" and len(text) >= TRIGRAM:
        query = phrase(text, ("name", "email", "custom_text"))
        if phones:
            query += " OR " + phrase(number, ("mobile", "work_phone"))
        matches = _index_matches(ContactSearchIndex, query)
        if matches is not None:
            return Q(pk__in=matches), True
    elif connection.vendor == "sqlite" and paired:
        holders = _index_matches(CustomerSearchIndex, phrase(paired))
        valued = _index_matches(ContactSearchIndex, phrase(paired, ("custom_text",)))
        if holders is not None and valued is not None:
            within = Q(customer_id__in=holders)
            custom = Q(pk__in=valued)
    condition = Q(name__icontains=text) | Q(email__icontains=text)
    if phones:
        condition |= Q(mobile__contains=number) | Q(work_phone__contains=number)
    if within:
        return (within & condition) | custom, True
    return condition | custom, False


def contact_get(*, user: Any, contact_id: int) -> Contact:
    visible = Customer.objects.visible_to(user).filter(pk=OuterRef("customer_id"))
    contact = (
        Contact.objects.filter(Exists(visible), pk=contact_id).select_related("customer").first()
    )
    if contact is None:
        raise Http404(str(_("contact")))
    return contact


# --- People to pick in forms --------------------------------------------------------------------


def assignable_owners(*, user: Any) -> QuerySet[Any]:
    """Users a customer may be given to by ``user``: admins pick anyone, managers their team."""
    users = User.objects.filter(is_active=True, role__in=[Role.SALES, Role.MANAGER])
    if is_admin(user):
        return users.order_by("username")
    if getattr(user, "role", "") == Role.MANAGER:
        return users.filter(department_id__in=managed_department_ids(user)).order_by("username")
    return users.filter(pk=user.pk)


def share_candidates(*, customer: Customer) -> QuerySet[Any]:
    users = User.objects.filter(is_active=True).order_by("username")
    if customer.owner_id is not None:
        users = users.exclude(pk=customer.owner_id)
    return users


def customer_shares(*, customer: Customer) -> QuerySet[Any]:
    return customer.shares.select_related("user").order_by("id")
