"""Realistic demo customers in bulk: Chinese company names across industries and provinces.

Built for N = 1,000,000: names are assembled from parts whose pinyin is computed once, rows
go in with ``kehu.core.bulk`` (COPY on PostgreSQL, executemany on SQLite) in batches, each
customer with its "created" history entry, and numbers are reserved in blocks per prefix.
"""

from __future__ import annotations

import contextlib
import random
from collections import defaultdict
from collections.abc import Iterator
from datetime import date, timedelta
from decimal import Decimal
from types import SimpleNamespace
from typing import Any, NamedTuple

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from kehu.accounts.models import Role
from kehu.core import bulk, config
from kehu.core.demo import DemoRun, DemoStep
from kehu.customers import grading, numbering
from kehu.customers.models import (
    Contact,
    Customer,
    CustomerKind,
    CustomerStatus,
    EmployeesBand,
    Industry,
    Priority,
    Region,
    RevenueBand,
    Source,
    Tag,
)
from kehu.customers.normalize import company_key, completeness, digits, pinyin_keys, search_text

BATCH = 5000
# From this many customers into an empty database the secondary indexes are built after the
# load instead of row by row (``bulk.deferred_indexes``).
DEFER_INDEXES_FROM = 50_000
BRAND_WORDS = list(
    "华瑞德兴恒泰安康盛达信诚通宏远鑫源博创新智联合众嘉和中天明辉精工科达永隆佳乐美丰腾飞启航"
)
TRADES = {
    "C": ["机械设备", "精密制造", "电子科技", "新材料", "汽车零部件", "包装制品", "医疗器械"],
    "I": ["软件", "信息技术", "网络科技", "数据服务", "云计算"],
    "F": ["贸易", "商贸", "供应链", "电子商务"],
    "E": ["建设工程", "建筑装饰", "安装工程"],
    "M": ["检测技术", "工程设计", "技术咨询"],
    "L": ["企业管理咨询", "广告传媒", "人力资源"],
    "G": ["物流", "国际货运代理", "仓储服务"],
    "H": ["餐饮管理", "酒店管理"],
}
SECTIONS = list(TRADES)
# the enumerations' members, listed once (listing them per row was 4 % of the step's CPU)
STATUSES = list(CustomerStatus)
EMPLOYEES_BANDS = list(EmployeesBand)
REVENUE_BANDS = list(RevenueBand)
SOURCES = list(Source)
PRIORITIES = list(Priority)
SUFFIXES = ["有限公司", "有限公司", "有限公司", "股份有限公司", "有限责任公司"]
SURNAMES = list("王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾")
GIVEN = list("伟芳娜敏静丽强磊军洋勇艳杰娟涛明超秀霞平刚桂英华建国志红")
TITLES = ["采购经理", "技术总监", "总经理", "财务经理", "行政主管", "IT经理", "生产经理"]
NEEDS = [
    "希望提升售后响应速度",
    "需要一套客户管理系统，预算约20万",
    "关注设备能耗和维护成本",
    "计划明年扩产，需要配套解决方案",
    "对数据安全和本地部署有要求",
]
BUDGETS_10K = [0, 1, 2, 5, 8, 15, 30, 60, 120]
PREDEFINED_TAGS = [
    "高意向客户",
    "制造业",
    "高意向-预算50万+",
    "低意向-仅咨询",
    "竞品A客户",
    "重点客户",
]


def _sometimes(rng: random.Random, choices: list[Any], *, blank: float) -> Any:
    """One of ``choices``, or "" for the share ``blank`` of rows: a real book has gaps, and
    the completeness figure (信息完整度) should show them."""
    return "" if rng.random() < blank else rng.choice(choices)


def _weighted_owner(rng: random.Random, owners: list[Any]) -> Any:
    # Skewed like a real team: the first reps hold most customers, the managers the fewest.
    return owners[min(int(rng.paretovariate(1.2)) - 1, len(owners) - 1)]


def _pinyin(text: str) -> str:
    return "".join(pinyin_keys(char)[0] for char in text)


class DemoContact(NamedTuple):
    """A contact before it is written (rows, not model instances: a million of them is fast)."""

    name: str
    title: str
    mobile: str
    email: str
    is_primary: bool
    is_decision_maker: bool


CONTACT_COLUMNS = ["id", "customer_id", "created_at", "updated_at", *DemoContact._fields]


def _demo_contacts(rng: random.Random) -> list[DemoContact]:
    contacts: list[DemoContact] = []
    # about one customer in twelve has only names from a business card, no phone or e-mail
    reachable = rng.random() >= 0.08
    for position in range(rng.choice([1, 2, 2, 3])):
        person = rng.choice(SURNAMES) + rng.choice(GIVEN) + rng.choice(["", *GIVEN])
        mobile = f"+861{rng.choice('3578')}{rng.randint(0, 9)}{rng.randint(10000000, 99999999)}"
        email = f"{_pinyin(person)}{rng.randint(1, 99)}@example.cn"
        contacts.append(
            DemoContact(
                name=person,
                title=rng.choice(TITLES),
                mobile=mobile if reachable else "",
                email=email if reachable else "",
                is_primary=position == 0,
                is_decision_maker=position == 0 and rng.random() < 0.6,
            )
        )
    return contacts


@contextlib.contextmanager
def customer_indexes_deferred(count: int) -> Iterator[None]:
    """Around a first load of ``count`` customers: if it is big, the customer tables' indexes
    and keys are built when the block ends (``bulk.deferred_indexes``).

    ``kehu demo`` also writes its deals inside: they mark about 100,000 of 1,000,000 customers
    won, and with the indexes in place each such update writes new entries into every one of
    them (131,500 updates: 61.7 s on PostgreSQL, 43 s of it for the trigram index).
    """
    defer = count >= DEFER_INDEXES_FROM and not Customer.objects.exists()
    tables = (Customer, Customer.history.model, Contact, Customer.tags.through)
    with bulk.deferred_indexes(*tables, defer=defer):
        yield


def generate_customers(
    *, count: int, seed: int, users: list[Any], defer_indexes: bool = True
) -> int:
    """``count`` customers; ``defer_indexes=False`` when the caller holds
    ``customer_indexes_deferred`` itself."""
    if count <= 0:
        return 0
    rng = random.Random(seed)
    owners = [u for u in users if u.role in (Role.SALES, Role.MANAGER)] or users
    owners.sort(key=lambda user: user.role == Role.MANAGER)  # stable: reps first
    divisions = {section: list(Industry.objects.filter(parent_id=section)) for section in TRADES}
    cities = list(
        Region.objects.select_related("parent")
        .filter(level=2)
        .exclude(abbreviation__in=["TW", "HK", "MO"])
    )
    tags = [
        Tag.objects.get_or_create(name=name, defaults={"is_predefined": True})[0]
        for name in PREDEFINED_TAGS
    ]
    pattern = config.get("customers.number_pattern")
    today = timezone.localdate()
    now = timezone.now()
    created = 0
    with customer_indexes_deferred(count) if defer_indexes else contextlib.nullcontext():
        while created < count:
            size = min(BATCH, count - created)
            created += _insert_batch(
                rng, size, owners, divisions, cities, tags, pattern, today, now
            )
    return created


@transaction.atomic
def _insert_batch(
    rng: random.Random,
    size: int,
    owners: list[Any],
    divisions: dict[str, list[Industry]],
    cities: list[Region],
    tags: list[Tag],
    pattern: str,
    today: date,
    now: Any,
) -> int:
    """One batch of customers, built as rows (no model instances: a million of them is slow)."""
    rules = config.get("customers.grade_rules")
    rows: list[dict[str, Any]] = []
    by_prefix: dict[str, list[dict[str, Any]]] = defaultdict(list)
    formats: dict[str, str] = {}
    for _index in range(size):
        section = rng.choice(SECTIONS)
        industry = rng.choice(divisions[section])
        city = rng.choice(cities)
        city_name = city.parent.name if city.parent else city.name
        city_short = city_name.rstrip("市省") or city_name
        parts = [
            city_short,
            rng.choice(BRAND_WORDS),
            rng.choice(BRAND_WORDS),
            rng.choice(TRADES[section]),
            rng.choice(SUFFIXES),
        ]
        name = "".join(parts)
        keys = [pinyin_keys(part) for part in parts]  # a few hundred distinct parts, cached
        owner = _weighted_owner(rng, owners)
        created_at = now - timedelta(days=rng.randint(0, 900), minutes=rng.randint(0, 1440))
        status = rng.choices(STATUSES, weights=[45, 30, 20, 5])[0]
        budget = Decimal(rng.choice(BUDGETS_10K) * 10000)
        row: dict[str, Any] = {
            "name": name,
            "industry_id": industry.pk,
            "region_id": city.pk,
            "employees_band": _sometimes(rng, EMPLOYEES_BANDS, blank=0.15),
            "revenue_band": rng.choice(REVENUE_BANDS),
            "source": _sometimes(rng, SOURCES, blank=0.08),
            "source_detail": rng.choice(
                ["", "展会-2024年3月上海行业展-展位A12", "官网留言", "老客户推荐"]
            ),
            "initial_need": _sometimes(rng, NEEDS, blank=0.3),
            "address": f"{city} {rng.randint(1, 999)}号" if rng.random() >= 0.25 else "",
            "status": status,
            "owner_id": owner.pk,
            "department_id": owner.department_id,
            "created_by_id": owner.pk,
            "priority": rng.choice(PRIORITIES),
            "grade": grading.grade_for(grading.budget_input(budget), rules),
            "annual_budget": budget,
            "created_at": created_at,
            "updated_at": created_at,
            "contact_info_updated_at": created_at + timedelta(days=rng.randint(0, 60)),
            "first_contact_at": created_at + timedelta(hours=rng.randint(1, 72)),
            "verified_at": created_at + timedelta(hours=rng.randint(2, 48))
            if rng.random() < 0.7
            else None,
            "name_key": company_key(name),
            "contacts": _demo_contacts(rng),
            "pinyin": ("".join(k[0] for k in keys), "".join(k[1] for k in keys)),
        }
        prefix, seq_format = numbering.prefix_for(
            pattern, industry=industry, region=city, kind=CustomerKind.COMPANY, on=today
        )
        formats[prefix] = seq_format
        by_prefix[prefix].append(row)
        rows.append(row)
    firsts = numbering.reserve_many({prefix: len(members) for prefix, members in by_prefix.items()})
    for prefix, members in by_prefix.items():
        first = firsts[prefix]
        for offset, row in enumerate(members):
            row["number"] = prefix + formats[prefix].format(seq=first + offset)
            extra: list[str] = []
            for contact in row["contacts"]:
                extra.extend([contact.name, digits(contact.mobile), contact.email])
            row["search_text"] = search_text(
                name=row["name"], number=row["number"], extra=extra, pinyin=row["pinyin"]
            )
            reachable = any(contact.mobile or contact.email for contact in row["contacts"])
            row["completeness"] = completeness(SimpleNamespace(**row), reachable_contact=reachable)
    _write(rng, rows, tags)
    return len(rows)


CUSTOMER_COLUMNS = [
    "id", "number", "name", "industry_id", "region_id", "employees_band", "revenue_band",
    "source", "source_detail", "initial_need", "address", "status", "owner_id",
    "department_id", "created_by_id", "priority", "grade", "annual_budget", "created_at",
    "updated_at", "contact_info_updated_at", "first_contact_at", "verified_at", "name_key",
    "search_text", "completeness",
]  # fmt: skip


def _write(rng: random.Random, rows: list[dict[str, Any]], tags: list[Tag]) -> None:
    """Customers, their history entry ("created"), contacts and tag links, written in bulk."""
    ids = bulk.reserve_ids(Customer, len(rows))
    for row, pk in zip(rows, ids, strict=True):
        row["id"] = pk
    bulk.TableWriter(Customer, CUSTOMER_COLUMNS).write(
        [[row[column] for column in CUSTOMER_COLUMNS] for row in rows]
    )
    bulk.copy_to_history(Customer, ids, reason=_("Customer created"))
    contacts: list[list[Any]] = []
    tag_links: list[list[int]] = []
    for row in rows:
        for contact in row["contacts"]:
            stamp = row["created_at"]
            contacts.append([0, row["id"], stamp, stamp, *contact])
        if rng.random() < 0.4:
            tag_links.append([0, row["id"], rng.choice(tags).pk])
    for contact_row, pk in zip(contacts, bulk.reserve_ids(Contact, len(contacts)), strict=True):
        contact_row[0] = pk
    bulk.TableWriter(Contact, CONTACT_COLUMNS).write(contacts)
    through = Customer.tags.through
    for link, pk in zip(tag_links, bulk.reserve_ids(through, len(tag_links)), strict=True):
        link[0] = pk
    bulk.TableWriter(through, ["id", "customer_id", "tag_id"]).write(tag_links)


def _customers_step(run: DemoRun) -> str:
    created = generate_customers(
        count=run.customers, seed=run.seed, users=run.users, defer_indexes=False
    )
    return f"{created} customers"


def bulk_load(run: DemoRun) -> contextlib.AbstractContextManager[None]:
    return customer_indexes_deferred(run.customers)


CUSTOMERS = DemoStep(
    key="customers",
    order=10,
    run=_customers_step,
    bulk=True,
    has_data=lambda: Customer.objects.exists(),
)
