"""Demo opportunities in every stage, with stage histories spread over the past year.

Rows go in through ``kehu.core.bulk`` in batches (COPY on PostgreSQL; history rows are not
written for demo data), so a large demo stays fast; probabilities are recomputed from the
generated history at the end.
"""

from __future__ import annotations

import random
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from django.db import connection, transaction
from django.utils import timezone

from kehu.accounts.models import Role
from kehu.core import bulk
from kehu.core.demo import DemoRun, DemoStep
from kehu.customers.models import Customer, CustomerStatus
from kehu.opportunities import services
from kehu.opportunities.models import (
    Currency,
    LossReason,
    Opportunity,
    Stage,
    StageChange,
    StageKind,
)

BATCH = 2000
# Expected deals from which PostgreSQL builds the tables' indexes and foreign keys after the
# load (``bulk.deferred_indexes``), as ``customers.demo`` does for the customers: with them in
# place it spent 61 s of the 76 s for 300,000 deals on the server, mostly checking a foreign
# key per written row. SQLite checks none of that per row, and these tables stay small enough
# for its page cache: rebuilding made its whole demo slower (224.5 → 237.7 s at size L).
DEFER_INDEXES_FROM = 15_000
SUBJECTS = ["CRM 系统", "MES 产线改造", "设备采购", "年度维保", "数据平台", "智能仓储", "ERP 升级"]
NEEDS = [
    "希望提升售后响应速度",
    "预算约 50 万，年内上线",
    "关注设备能耗和维护成本",
    "需要与现有 ERP 对接",
    "对数据安全和本地部署有要求",
]
COMPETITORS = ["", "竞品A", "竞品B", "竞品A、竞品C"]
NEXT_STEPS = ["安排产品演示", "发送报价单", "约技术交流", "催合同审批", "回访使用情况"]
CLOSED_SHARE = 0.85  # of the deals older than 45 days; the rest are still being worked
STALLED_SHARE = 0.15  # of the open deals: no stage change for longer than the threshold
# Rows instead of model instances (Model.__init__ was most of the step's CPU at 300,000 deals)
OPPORTUNITY_COLUMNS = [
    "id", "customer_id", "owner_id", "department_id", "created_by_id", "name", "amount",
    "currency", "expected_close", "stage_id", "stage_entered_at", "furthest_stage_order",
    "competitors", "needs", "next_step", "loss_reason_id", "closed_at", "created_at",
    "updated_at",
]  # fmt: skip
STAGE_CHANGE_COLUMNS = [
    "id", "opportunity_id", "stage_id", "entered_at", "entered_by_id", "exited_at",
    "exited_by_id",
]  # fmt: skip


def generate_opportunities(*, seed: int, share: float = 0.3, limit: int | None = None) -> int:
    """Give about ``share`` of the customers one opportunity each (owner = customer owner)."""
    rng = random.Random(seed)
    stages = list(Stage.objects.filter(is_active=True))
    open_stages = [stage for stage in stages if stage.kind == StageKind.OPEN]
    won_stages = [stage for stage in stages if stage.kind == StageKind.WON]
    lost = next((stage for stage in stages if stage.kind == StageKind.LOST), None)
    reasons = list(LossReason.objects.filter(is_active=True))
    if not open_stages or not won_stages or lost is None:
        return 0
    candidates = Customer.objects.filter(
        owner__isnull=False, owner__role__in=[Role.SALES, Role.MANAGER]
    )
    existing = Opportunity.objects.exists()
    if existing:
        # Customers with a deal are skipped. A table without deals needs no anti-join: read
        # lazily while deals are written, it rescanned them for each customer on SQLite when
        # their indexes had been dropped for the load.
        candidates = candidates.exclude(opportunities__isnull=False)
    defer = (
        connection.vendor == "postgresql"
        and not existing
        and Customer.objects.count() * share >= DEFER_INDEXES_FROM
    )
    customers = candidates.values_list("pk", "owner_id", "department_id", "name").order_by("pk")
    created = 0
    batch: list[tuple[int, int, int | None, str]] = []
    with bulk.deferred_indexes(Opportunity, StageChange, defer=defer):
        for row in customers.iterator(chunk_size=BATCH):
            if rng.random() >= share:
                continue
            batch.append(row)
            if limit is not None and created + len(batch) >= limit:
                break
            if len(batch) >= BATCH:
                created += _insert(rng, batch, open_stages, won_stages, lost, reasons)
                batch = []
        if batch:
            created += _insert(rng, batch, open_stages, won_stages, lost, reasons)
    services.probabilities_recompute()
    return created


@transaction.atomic
def _insert(
    rng: random.Random,
    rows: list[tuple[int, int, int | None, str]],
    open_stages: list[Stage],
    won_stages: list[Stage],
    lost: Stage,
    reasons: list[LossReason],
) -> int:
    now = timezone.now()
    today = timezone.localdate()
    deals: list[list[Any]] = []  # OPPORTUNITY_COLUMNS, the id filled in below
    paths: list[list[Stage]] = []
    moments: list[list[datetime]] = []
    won_customers: list[int] = []
    for customer_id, owner_id, department_id, name in rows:
        created_at = now - timedelta(days=rng.randint(1, 360), hours=rng.randint(0, 23))
        age_days = (now - created_at).days
        closes = age_days > 45 and rng.random() < CLOSED_SHARE
        path = _demo_path(rng, open_stages, won_stages, lost, closes=closes)
        final = path[-1]
        if final.kind == StageKind.WON:
            won_customers.append(customer_id)
        amount = Decimal(rng.randrange(20, 3000) * 1000)
        last_at = _last_stage_change(rng, created_at, now, is_open=final.kind == StageKind.OPEN)
        if len(path) == 1:  # still in its first stage: opened when it entered it
            created_at = last_at
        elif created_at > last_at - timedelta(hours=len(path)):  # room for every stage change
            created_at = last_at - timedelta(hours=rng.randint(len(path), 24 * 20))
        stage_dates = _stage_dates(rng, created_at, last_at, len(path))
        closed_at = stage_dates[-1] if final.kind != StageKind.OPEN else None
        is_open = final.kind == StageKind.OPEN
        title = f"{name[:12]}·{rng.choice(SUBJECTS)}"
        expected_close = (
            timezone.localdate(closed_at)
            if closed_at is not None
            else today + timedelta(days=rng.randint(5, 150))
        )
        competitors = rng.choice(COMPETITORS)
        needs = rng.choice(NEEDS)
        next_step = rng.choice(NEXT_STEPS) if is_open else ""
        lost_for = rng.choice(reasons) if final.kind == StageKind.LOST and reasons else None
        deals.append(
            [
                0,
                customer_id,
                owner_id,
                department_id,
                owner_id,
                title,
                amount,
                Currency.CNY.value,
                expected_close,
                final.pk,
                stage_dates[-1],
                furthest_order(path),
                competitors,
                needs,
                next_step,
                lost_for.pk if lost_for is not None else None,
                closed_at,
                created_at,
                created_at,
            ]
        )
        paths.append(path)
        moments.append(stage_dates)
    for deal, pk in zip(deals, bulk.reserve_ids(Opportunity, len(deals)), strict=True):
        deal[0] = pk
    bulk.TableWriter(Opportunity, OPPORTUNITY_COLUMNS).write(deals)
    changes: list[list[Any]] = []
    for deal, path, dates in zip(deals, paths, moments, strict=True):
        deal_id, owner_id = deal[0], deal[2]
        for index, stage in enumerate(path):
            exited = dates[index + 1] if index + 1 < len(path) else None
            changes.append(
                [0, deal_id, stage.pk, dates[index], owner_id, exited, owner_id if exited else None]
            )
    for change, pk in zip(changes, bulk.reserve_ids(StageChange, len(changes)), strict=True):
        change[0] = pk
    bulk.TableWriter(StageChange, STAGE_CHANGE_COLUMNS).write(changes)
    Customer.objects.filter(pk__in=won_customers).exclude(status=CustomerStatus.WON).update(
        status=CustomerStatus.WON
    )
    return len(deals)


def _demo_path(
    rng: random.Random,
    open_stages: list[Stage],
    won_stages: list[Stage],
    lost: Stage,
    *,
    closes: bool,
) -> list[Stage]:
    """The stages a deal went through: from each open stage it moves on with the chance that
    makes the default win probabilities come true (``win(k) = advance(k) × win(k+1)``), so
    the rates learnt from the demo's history match the documented defaults. A deal that does
    not move on is lost there (closed) or still sits there (open)."""
    path: list[Stage] = []
    for index, stage in enumerate(open_stages):
        path.append(stage)
        if rng.random() >= _advance_chance(open_stages, index):
            return [*path, lost] if closes else path
    if not closes:  # an open deal that got through every open stage waits in the last one
        return path
    return path + won_stages[: rng.randint(1, len(won_stages))]


def _advance_chance(open_stages: list[Stage], index: int) -> float:
    here = open_stages[index].default_probability / 100
    after = (
        open_stages[index + 1].default_probability / 100 if index + 1 < len(open_stages) else 1.0
    )
    return min(1.0, here / after) if after else 0.0


def _last_stage_change(
    rng: random.Random, created_at: datetime, now: datetime, *, is_open: bool
) -> datetime:
    """When the deal last changed stage. Most open deals moved within the stalled threshold
    (a week by default); about one in six sits longer, as in a pipeline that is worked."""
    if is_open:
        days_ago = rng.uniform(0, 6) if rng.random() > STALLED_SHARE else rng.uniform(8, 60)
        return max(created_at, now - timedelta(days=days_ago))
    return created_at + (now - created_at) * rng.uniform(0.2, 0.9)


def furthest_order(path: list[Stage]) -> int | None:
    """The furthest non-lost stage order of a path, as the services keep it."""
    return max((stage.order for stage in path if stage.kind != StageKind.LOST), default=None)


def _stage_dates(rng: random.Random, start: datetime, end: datetime, count: int) -> list[datetime]:
    """``count`` increasing moments from ``start`` to ``end`` (the last one is ``end``)."""
    if count == 1:
        return [start]
    span = max((end - start).total_seconds(), float(count))
    cuts = sorted(rng.uniform(0, span) for _n in range(count - 2))
    return [start, *(start + timedelta(seconds=cut) for cut in cuts), end][:count]


def _opportunities_step(run: DemoRun) -> str:
    # inside the customers' bulk load: the deals mark their customers won before the customer
    # indexes are built, not after (customers.demo.customer_indexes_deferred)
    return f"{generate_opportunities(seed=run.seed)} opportunities"


OPPORTUNITIES = DemoStep(key="opportunities", order=20, run=_opportunities_step, bulk=True)
