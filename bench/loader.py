"""Bulk loader for benchmark volumes: customers, contacts, tags and shares at up to 1,000,000.

``kehu demo`` (kehu.customers.demo) builds model instances and calls ``bulk_create``; it runs at
about 1,000 customers/s, which is ~17 minutes for size L. This loader writes the same kind of
rows straight into the tables (PostgreSQL ``COPY`` through psycopg, SQLite ``executemany``)
and keeps every invariant the application relies on:

* customer numbers come from the configured pattern, reserved per prefix in blocks through the
  ``NumberSequence`` table (``kehu.customers.numbering.reserve``), so later creations through
  the app continue the sequences without collisions;
* ``name_key`` is ``company_key(name)``;
* ``search_text`` is ``normalize.search_text``, as ``services.refresh_search`` writes it: folded
  name, number, full pinyin, pinyin initials, then per contact its name, phone digits and
  e-mail, then the paired spelling of the Han runs (``han_pairs``). Pinyin is computed per
  name part (city, brand characters, trade, legal suffix) and concatenated, which is what
  ``pinyin_keys`` of the whole name gives for these parts;
* owner and department are consistent (the department is the owner's), primary keys and the
  database sequences are advanced past the loaded ids.

Owners are skewed like a real sales organisation: departments differ in head count and reps in
book size (a Zipf-like weight per rep), so a few reps own thousands of customers.
"""

from __future__ import annotations

import random
import time
from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from itertools import accumulate
from typing import Any

from django.db import connection, models, transaction
from django.utils import timezone

from kehu.accounts.models import Department, Role, User
from kehu.core import config
from kehu.core.bulk import TableWriter, deferred_indexes
from kehu.customers import numbering
from kehu.customers.demo import (
    BRAND_WORDS,
    GIVEN,
    NEEDS,
    PREDEFINED_TAGS,
    SUFFIXES,
    SURNAMES,
    TITLES,
    TRADES,
)
from kehu.customers.models import (
    Contact,
    Customer,
    CustomerShare,
    CustomerStatus,
    EmployeesBand,
    Grade,
    Industry,
    Priority,
    Region,
    RevenueBand,
    Source,
    Tag,
)
from kehu.customers.normalize import company_key, digits, pinyin_keys, search_text

# Departments (region/group) and how many sales reps each has: deliberately uneven.
ORG: dict[str, dict[str, int]] = {
    "华东区": {"上海组": 24, "杭州组": 12, "南京组": 8, "苏州组": 6},
    "华南区": {"广州组": 14, "深圳组": 12, "厦门组": 3},
    "华北区": {"北京组": 16, "天津组": 4, "济南组": 3},
    "西南区": {"成都组": 6, "重庆组": 4},
    "华中区": {"武汉组": 5, "长沙组": 3},
}
BENCH_PASSWORD = "Bench-Kehu-2024!"
CHUNK = 20_000


@dataclass(frozen=True)
class Size:
    customers: int
    contacts_per_customer: float
    followups: int
    opportunities: int
    tickets: int = 0  # about one per customer (bench/service.py)


SIZES: dict[str, Size] = {
    "S": Size(10_000, 2.0, 50_000, 5_000, 10_000),
    "M": Size(100_000, 2.0, 500_000, 50_000, 100_000),
    "L": Size(1_000_000, 2.0, 5_000_000, 500_000, 1_000_000),
}


def ensure_org(*, rng: random.Random) -> list[User]:
    """Regional managers and sales reps in ORG (idempotent); returns the reps, biggest first."""
    from kehu.accounts import services as accounts

    reps: list[User] = []
    for region, groups in ORG.items():
        region_dept = accounts.department_get_or_create_path([region])
        manager_name = f"mgr.{_slug(region)}"
        if not User.objects.filter(username=manager_name).exists():
            manager = accounts.user_create(
                username=manager_name, role=Role.MANAGER, department=region_dept
            )
            Department.objects.filter(pk=region_dept.pk, head__isnull=True).update(head=manager)
        for group, head_count in groups.items():
            dept = accounts.department_get_or_create_path([region, group])
            existing = list(
                User.objects.filter(department=dept, role=Role.SALES, username__startswith="rep.")
            )
            for index in range(len(existing), head_count):
                existing.append(
                    accounts.user_create(
                        username=f"rep.{_slug(group)}.{index:02d}",
                        role=Role.SALES,
                        department=dept,
                        display_name=rng.choice(SURNAMES) + rng.choice(GIVEN),
                    )
                )
            reps.extend(existing)
    return reps


def _slug(name: str) -> str:
    return pinyin_keys(name)[0]


def owner_weights(count: int, *, rng: random.Random) -> list[float]:
    """Zipf-like book sizes: rep i gets weight 1/(i+1)^0.9, shuffled across departments."""
    weights = [1.0 / (rank + 1) ** 0.9 for rank in range(count)]
    rng.shuffle(weights)
    return weights


def _next_id(model: type[models.Model]) -> int:
    top = model.objects.aggregate(top=models.Max("pk"))["top"]
    return int(top or 0) + 1


def _reset_sequences(models_: list[type[models.Model]]) -> None:
    from django.core.management.color import no_style

    statements = connection.ops.sequence_reset_sql(no_style(), models_)
    with connection.cursor() as cursor:
        for statement in statements:
            cursor.execute(statement)


@dataclass
class LoadReport:
    customers: int
    contacts: int
    tag_links: int
    shares: int
    seconds: float

    def as_dict(self) -> dict[str, Any]:
        return self.__dict__.copy()


def load(
    *,
    customers: int,
    contacts_per_customer: float,
    seed: int,
    owners: list[User],
    pinned: list[User],
) -> LoadReport:
    """Append ``customers`` customers (and contacts, tags, shares); ``pinned`` get big books."""
    started = time.perf_counter()
    rng = random.Random(seed)
    weights = owner_weights(len(owners), rng=rng)
    all_owners = [*pinned, *owners]
    top = max(weights)
    all_weights = [top * 1.2 for _ in pinned] + weights
    cumulative = list(accumulate(all_weights))
    divisions = {s: list(Industry.objects.filter(parent_id=s)) for s in TRADES}
    cities = list(
        Region.objects.filter(level=2)
        .exclude(abbreviation__in=["TW", "HK", "MO"])
        .select_related("parent")
    )
    tags = [
        Tag.objects.get_or_create(name=name, defaults={"is_predefined": True})[0].pk
        for name in PREDEFINED_TAGS
    ]
    pattern = str(config.get("customers.number_pattern"))
    today = timezone.localdate()
    now = timezone.now()
    customer_writer = TableWriter(Customer, CUSTOMER_COLUMNS)
    contact_writer = TableWriter(Contact, CONTACT_COLUMNS)
    tag_model = Customer.tags.through
    tag_writer = TableWriter(tag_model, ("id", "customer_id", "tag_id"))
    share_writer = TableWriter(
        CustomerShare, ("id", "created_at", "updated_at", "customer_id", "user_id", "can_edit")
    )
    next_customer = _next_id(Customer)
    next_contact = _next_id(Contact)
    next_tag = _next_id(tag_model)
    next_share = _next_id(CustomerShare)
    report = LoadReport(0, 0, 0, 0, 0.0)
    with deferred_indexes(Customer, Contact, defer=customers >= 50_000, atomic=False):
        user_ids = [u.pk for u in all_owners]
        while report.customers < customers:
            size = min(CHUNK, customers - report.customers)
            with transaction.atomic():
                built = _build_chunk(
                    rng, size, next_customer, next_contact, all_owners, cumulative, divisions,
                    cities, pattern, today, now, contacts_per_customer,
                )  # fmt: skip
                customer_rows, contact_rows = built
                customer_writer.write(customer_rows)
                contact_writer.write(contact_rows)
                tag_rows = []
                share_rows = []
                for values in customer_rows:
                    customer_id = values[0]
                    if rng.random() < 0.4:
                        tag_rows.append((next_tag, customer_id, rng.choice(tags)))
                        next_tag += 1
                    if rng.random() < 0.005:
                        other = rng.choice(user_ids)
                        if other != values[CUSTOMER_COLUMNS.index("owner_id")]:
                            share_rows.append(
                                (next_share, now, now, customer_id, other, rng.random() < 0.3)
                            )
                            next_share += 1
                tag_writer.write(tag_rows)
                share_writer.write(share_rows)
            next_customer += len(customer_rows)
            next_contact += len(contact_rows)
            report.customers += len(customer_rows)
            report.contacts += len(contact_rows)
            report.tag_links += len(tag_rows)
            report.shares += len(share_rows)
            elapsed = time.perf_counter() - started
            print(
                f"  loaded {report.customers:,} customers, {report.contacts:,} contacts "
                f"({report.customers / elapsed:,.0f} customers/s)",
                flush=True,
            )
        _reset_sequences([Customer, Contact, tag_model, CustomerShare])
    settle()
    report.seconds = time.perf_counter() - started
    return report


def settle() -> None:
    """Leave the loaded tables as autovacuum would within minutes: analysed and, on
    PostgreSQL, vacuumed. Without the visibility map that VACUUM sets, a count that an
    index-only scan answers (the sales rep's bounded count: 0.3 ms) reads the heap instead
    (2.6 ms), which a database in use never pays."""
    with connection.cursor() as cursor:
        cursor.execute("VACUUM (ANALYZE)" if connection.vendor == "postgresql" else "ANALYZE")


CUSTOMER_COLUMNS = (
    "id", "number", "name", "industry_id", "region_id", "employees_band", "revenue_band",
    "source", "source_detail", "initial_need", "address", "status", "owner_id",
    "department_id", "created_by_id", "priority", "grade", "annual_budget", "created_at",
    "updated_at", "contact_info_updated_at", "first_contact_at", "last_contact_at",
    "verified_at", "name_key", "search_text", "completeness",
)  # fmt: skip
CONTACT_COLUMNS = (
    "id", "customer_id", "name", "title", "mobile", "email", "is_decision_maker",
    "is_primary", "is_active", "created_at", "updated_at",
)  # fmt: skip


def _completeness(values: list[Any], *, reachable: bool) -> int:
    """The stored completeness percentage, by the app's own rule when it has one."""
    from types import SimpleNamespace

    from kehu.customers import normalize

    rule = getattr(normalize, "completeness", None)
    if rule is None:
        return 0
    row = SimpleNamespace(**dict(zip(CUSTOMER_COLUMNS, values, strict=False)))
    return int(rule(row, reachable_contact=reachable))


def _pick(rng: random.Random, items: list[User], cumulative: list[float]) -> User:
    from bisect import bisect_left

    return items[bisect_left(cumulative, rng.random() * cumulative[-1])]


def _build_chunk(
    rng: random.Random,
    size: int,
    first_id: int,
    first_contact_id: int,
    owners: list[User],
    cumulative: list[float],
    divisions: dict[str, list[Industry]],
    cities: list[Region],
    pattern: str,
    today: Any,
    now: datetime,
    contacts_per_customer: float,
) -> tuple[list[list[Any]], list[tuple[Any, ...]]]:
    sections = list(TRADES)
    statuses = list(CustomerStatus)
    grades = list(Grade)
    drafts: list[tuple[list[Any], str, list[str]]] = []
    by_prefix: dict[str, list[int]] = defaultdict(list)
    formats: dict[str, str] = {}
    prefixes: dict[tuple[str, str], tuple[str, str]] = {}
    contact_rows: list[tuple[Any, ...]] = []
    contact_id = first_contact_id
    per_customer = [1, 2, 2, 3] if contacts_per_customer >= 2 else [1, 1, 2]
    for index in range(size):
        section = rng.choice(sections)
        industry = rng.choice(divisions[section])
        city = rng.choice(cities)
        city_name = city.parent.name if city.parent else city.name
        city_short = city_name.rstrip("市省") or city_name
        brand = rng.choice(BRAND_WORDS) + rng.choice(BRAND_WORDS)
        trade = rng.choice(TRADES[section])
        suffix = rng.choice(SUFFIXES)
        name = f"{city_short}{brand}{trade}{suffix}"
        parts = [pinyin_keys(p) for p in (city_short, brand[0], brand[1], trade, suffix)]
        full = "".join(p[0] for p in parts)
        initials = "".join(p[1] for p in parts)
        owner = _pick(rng, owners, cumulative)
        customer_id = first_id + index
        created_at = now - timedelta(days=rng.randint(0, 900), minutes=rng.randint(0, 1440))
        extra: list[str] = []
        for position in range(rng.choice(per_customer)):
            person = rng.choice(SURNAMES) + rng.choice(GIVEN) + rng.choice(["", *GIVEN])
            mobile = f"+861{rng.choice('3578')}{rng.randint(0, 9)}{rng.randint(10000000, 99999999)}"
            email = f"{pinyin_keys(person)[0]}{rng.randint(1, 99)}@example.cn"
            contact_rows.append(
                (
                    contact_id, customer_id, person, rng.choice(TITLES), mobile, email,
                    position == 0 and rng.random() < 0.6, position == 0, True, created_at,
                    created_at,
                )
            )  # fmt: skip
            contact_id += 1
            extra.extend([person, digits(mobile), email])
        values: list[Any] = [
            customer_id,
            "",  # number, filled below
            name,
            industry.code,
            city.code,
            rng.choice(list(EmployeesBand)).value,
            rng.choice(list(RevenueBand)).value,
            rng.choice(list(Source)).value,
            rng.choice(["", "展会-2024年3月上海行业展-展位A12", "官网留言", "老客户推荐"]),
            rng.choice(NEEDS),
            f"{city} {rng.randint(1, 999)}号",
            rng.choices(statuses, weights=[45, 30, 20, 5])[0].value,
            owner.pk,
            owner.department_id,
            owner.pk,
            rng.choice(list(Priority)).value,
            rng.choices(grades, weights=[10, 30, 40, 20])[0].value,
            Decimal(rng.randrange(5, 500) * 10000),
            created_at,
            created_at + timedelta(days=rng.randint(0, 120)),
            created_at + timedelta(days=rng.randint(0, 60)),
            created_at + timedelta(hours=rng.randint(1, 72)),
            created_at + timedelta(days=rng.randint(1, 90)) if rng.random() < 0.6 else None,
            created_at + timedelta(hours=rng.randint(2, 48)) if rng.random() < 0.7 else None,
            company_key(name),
            "",  # search_text, filled below
            0,  # completeness, filled below
        ]
        values[-1] = _completeness(values, reachable=bool(extra))
        key = (industry.section_code, city.abbreviation)
        if key not in prefixes:
            prefixes[key] = numbering.prefix_for(
                pattern, industry=industry, region=city, kind="company", on=today
            )
        prefix, seq_format = prefixes[key]
        formats[prefix] = seq_format
        by_prefix[prefix].append(index)
        drafts.append((values, name, (full, initials), extra))
    firsts = numbering.reserve_many({prefix: len(members) for prefix, members in by_prefix.items()})
    for prefix, members in by_prefix.items():
        first = firsts[prefix]
        for offset, index in enumerate(members):
            values, name, pinyin, extra = drafts[index]
            number = prefix + formats[prefix].format(seq=first + offset)
            values[1] = number
            values[CUSTOMER_COLUMNS.index("search_text")] = search_text(
                name=name, number=number, extra=extra, pinyin=pinyin
            )
    return [d[0] for d in drafts], contact_rows
