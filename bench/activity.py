"""Follow-ups, next-step tasks and opportunities for the bench volumes, on top of loaded customers.

Written like the customers (``kehu.core.bulk.TableWriter``: PostgreSQL ``COPY``, SQLite
``executemany``), chunk by chunk over the customers in id order, and consistent with what the
apps derive from these rows, so the loaded database looks like one the app itself produced:

* **follow-ups** go to customers that were contacted (``last_contact_at`` set) and have none
  yet. A customer's follow-ups span exactly its ``first_contact_at`` … ``last_contact_at`` (the
  first and the last follow-up fall on those moments), which is what
  ``customers.services.customer_record_contact`` keeps; the few customers whose stored times
  cannot be follow-up times (in the future, or first after last) are updated to the generated
  ones. Authors are the customer's owner, contacts are the customer's own, the feedback reason
  is given for positive and negative feedback (as ``followup_create`` requires).
* **next-step tasks**: about a third of the contacted customers' latest follow-ups carry a
  next step; each has its ``next_step:<follow-up id>`` task like ``followup_create`` makes it,
  open when due within the last 30 days or later, done before that.
* **opportunities**: owner and department are the customer's; stage paths run through the
  six-stage pipeline (初步接触 → 需求分析 → 方案提交 → 谈判签约 → 成交 → 回款/复购, or 输单) with
  one ``StageChange`` row per stay. Deals are won only at customers whose status already is
  "won" or "churned" (winning a deal makes a customer "won", so no customer row changes), lost
  deals carry a loss reason, closed deals their close time, open ones an expected close date
  (a tenth already overdue). Win probabilities are recomputed from the generated history at the
  end (``opportunities.services.probabilities_recompute``).

History rows (simple-history) are not written, as for the loaded customers; cadence-plan tasks
(one open "planned follow-up" per customer) are not generated either.
"""

from __future__ import annotations

import math
import random
import time
from bisect import bisect_left
from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from itertools import accumulate
from typing import Any

from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone, translation
from django.utils.translation import gettext

from bench.loader import _next_id, settle
from bench.loader import _reset_sequences as reset_sequences
from kehu.core import config
from kehu.core.bulk import TableWriter, deferred_indexes
from kehu.customers.models import Contact, Customer, CustomerStatus, Source
from kehu.followups import demo as followup_demo
from kehu.followups import settings as followup_rules
from kehu.followups.models import FollowUp, Task, TaskKind, TaskStatus
from kehu.followups.services import local_at
from kehu.opportunities import demo as opportunity_demo
from kehu.opportunities import services as opportunity_services
from kehu.opportunities.models import (
    Currency,
    LossReason,
    Opportunity,
    Stage,
    StageChange,
    StageKind,
)

CHUNK = 20_000
# Bigger top-ups are written without the plain indexes, which are rebuilt at the end.
DROP_INDEXES_FROM = 200_000

FOLLOWUP_COLUMNS = (
    "id", "created_at", "updated_at", "version", "customer_id", "contact_id", "author_id",
    "occurred_at", "method", "content", "sentiment", "sentiment_reason", "next_step_on",
    "next_step_action", "next_step_owner_id",
)  # fmt: skip
TASK_COLUMNS = (
    "id", "created_at", "updated_at", "version", "title", "description", "kind", "assignee_id",
    "created_by_id", "customer_id", "followup_id", "due_at", "status", "completed_at",
    "dedupe_key",
)  # fmt: skip
OPPORTUNITY_COLUMNS = (
    "id", "created_at", "updated_at", "version", "customer_id", "name", "owner_id",
    "department_id", "amount", "currency", "expected_close", "stage_id", "stage_entered_at",
    "competitors", "source", "needs", "next_step", "loss_reason_id", "closed_at",
    "created_by_id", "furthest_stage_order",
)  # fmt: skip
STAGE_CHANGE_COLUMNS = (
    "id", "opportunity_id", "stage_id", "entered_at", "entered_by_id", "exited_at",
    "exited_by_id",
)  # fmt: skip

# How much activity a customer draws, by status.
FOLLOWUP_WEIGHT = {"potential": 1.0, "intent": 3.0, "won": 2.5, "churned": 0.7}
OPPORTUNITY_WEIGHT = {"potential": 0.6, "intent": 2.5, "won": 3.0, "churned": 0.8}
# Outcome of a deal by customer status: (won, lost, still open); won only where the customer is.
OUTCOMES = {
    "potential": (0.0, 0.35, 0.65),
    "intent": (0.0, 0.30, 0.70),
    "won": (0.55, 0.20, 0.25),
    "churned": (0.40, 0.50, 0.10),
}
# The furthest open stage (initial contact … negotiation) a deal reached, by outcome.
FURTHEST_OPEN = {
    "open_potential": (60, 30, 10, 0),
    "open": (30, 28, 24, 18),
    "lost": (40, 27, 19, 14),
    "won": (5, 10, 25, 60),
}


@dataclass
class ActivityReport:
    followups: int = 0
    tasks: int = 0
    opportunities: int = 0
    stage_changes: int = 0
    customers_fixed: int = 0
    seconds: float = 0.0

    def as_dict(self) -> dict[str, Any]:
        return self.__dict__.copy()


@dataclass
class _Ids:
    followup: int
    task: int
    opportunity: int
    stage_change: int


@dataclass(frozen=True)
class _Pipeline:
    open: list[Stage]
    won: Stage
    paid: Stage | None
    lost: Stage
    reasons: list[LossReason]


def load_activity(*, followups: int, opportunities: int, seed: int) -> ActivityReport:
    """Top the database up to ``followups`` follow-ups and ``opportunities`` opportunities."""
    started = time.perf_counter()
    report = ActivityReport()
    need_followups = max(0, followups - FollowUp.objects.count())
    need_deals = max(0, opportunities - Opportunity.objects.count())
    if not need_followups and not need_deals:
        return report
    rng = random.Random(seed)
    pipeline = _pipeline()
    owned = Customer.objects.filter(owner__isnull=False)
    contacted_left = owned.filter(last_contact_at__isnull=False, followups__isnull=True).count()
    fresh = not FollowUp.objects.exists()  # then no customer has follow-ups yet
    customers_left = owned.count()
    models_ = [FollowUp, Task, Opportunity, StageChange]
    big = need_followups + need_deals >= DROP_INDEXES_FROM
    with deferred_indexes(*models_, defer=big, atomic=False):
        ids = _Ids(*(_next_id(model) for model in models_))
        writers = {
            "followups": TableWriter(FollowUp, FOLLOWUP_COLUMNS),
            "tasks": TableWriter(Task, TASK_COLUMNS),
            "opportunities": TableWriter(Opportunity, OPPORTUNITY_COLUMNS),
            "stage_changes": TableWriter(StageChange, STAGE_CHANGE_COLUMNS),
        }
        after = 0
        while need_followups or need_deals:
            chunk = list(
                owned.filter(pk__gt=after)
                .order_by("pk")
                .values_list(
                    "pk", "owner_id", "department_id", "name", "status", "created_at",
                    "first_contact_at", "last_contact_at", "source",
                )[:CHUNK]
            )  # fmt: skip
            if not chunk:
                break
            after = chunk[-1][0]
            contacted = _contacted(chunk, fresh=fresh)
            followup_quota = _share(need_followups, len(contacted), contacted_left)
            deal_quota = _share(need_deals, len(chunk), customers_left)
            with transaction.atomic():
                rows = _followup_rows(rng, contacted, followup_quota, ids)
                for name in ("followups", "tasks"):
                    writers[name].write(rows[name])
                deals = _opportunity_rows(rng, chunk, deal_quota, ids, pipeline)
                for name in ("opportunities", "stage_changes"):
                    writers[name].write(deals[name])
                fixed = _fix_contact_times(rows["fixes"])
            need_followups -= len(rows["followups"])
            need_deals -= len(deals["opportunities"])
            contacted_left -= len(contacted)
            customers_left -= len(chunk)
            report.followups += len(rows["followups"])
            report.tasks += len(rows["tasks"])
            report.opportunities += len(deals["opportunities"])
            report.stage_changes += len(deals["stage_changes"])
            report.customers_fixed += fixed
            elapsed = time.perf_counter() - started
            print(
                f"  loaded {report.followups:,} follow-ups, {report.opportunities:,} opportunities "
                f"({report.followups / elapsed:,.0f} follow-ups/s)",
                flush=True,
            )
        reset_sequences(models_)
    opportunity_services.probabilities_recompute()
    settle()
    report.seconds = time.perf_counter() - started
    return report


def _pipeline() -> _Pipeline:
    stages = list(Stage.objects.filter(is_active=True).order_by("order"))
    won = [stage for stage in stages if stage.kind == StageKind.WON]
    return _Pipeline(
        open=[stage for stage in stages if stage.kind == StageKind.OPEN],
        won=won[0],
        paid=won[1] if len(won) > 1 else None,
        lost=next(stage for stage in stages if stage.kind == StageKind.LOST),
        reasons=list(LossReason.objects.filter(is_active=True)),
    )


def _share(need: int, members: int, left: int) -> int:
    """This chunk's part of what is still needed, in proportion to the customers it holds."""
    if left <= 0 or members <= 0:
        return 0
    return min(need, round(need * members / left)) if members < left else need


def _contacted(chunk: list[tuple[Any, ...]], *, fresh: bool) -> list[tuple[Any, ...]]:
    """The chunk's customers that were contacted and have no follow-ups yet."""
    with_followups = (
        set()
        if fresh
        else set(
            FollowUp.objects.filter(customer_id__gte=chunk[0][0], customer_id__lte=chunk[-1][0])
            .values_list("customer_id", flat=True)
            .distinct()
        )
    )
    return [row for row in chunk if row[7] is not None and row[0] not in with_followups]


def _allot(rng: random.Random, total: int, weights: list[float], base: int) -> list[int]:
    """Split ``total`` over the weights (skewed by a random factor each), at least ``base``."""
    count = len(weights)
    if not count or total <= 0:
        return [0] * count
    if total < base * count:
        base = 0
    spread = [w * rng.expovariate(1.0) for w in weights]
    scale = (total - base * count) / (sum(spread) or 1.0)
    counts = [base + math.floor(s * scale) for s in spread]
    short = total - sum(counts)
    for index in rng.sample(range(count), k=min(count, short)):
        counts[index] += 1
    return counts


def _moments(rng: random.Random, first: datetime, last: datetime, count: int) -> list[datetime]:
    """``count`` increasing moments from ``first`` to ``last``, both included."""
    if count == 1:
        return [last]
    span = (last - first).total_seconds()
    middle = sorted(first + timedelta(seconds=rng.uniform(0, span)) for _n in range(count - 2))
    return [first, *middle, last]


def _followup_rows(
    rng: random.Random, customers: list[tuple[Any, ...]], quota: int, ids: _Ids
) -> dict[str, list[Any]]:
    now = timezone.now()
    today = timezone.localdate(now)
    hour = int(config.get(followup_rules.NEXT_STEP_HOUR.key))
    contacts = _contacts_of(customers)
    counts = _allot(rng, quota, [FOLLOWUP_WEIGHT.get(row[4], 1.0) for row in customers], 2)
    followups: list[tuple[Any, ...]] = []
    tasks: list[tuple[Any, ...]] = []
    fixes: list[tuple[datetime, datetime, int]] = []
    with translation.override(settings.LANGUAGE_CODE):
        next_step_text = gettext("Next step of the follow-up of %(when)s")
    for row, count in zip(customers, counts, strict=True):
        if not count:
            continue
        pk, owner_id, _dept, _name, status, created_at, first, last, _source = row
        latest = min(last, now - timedelta(minutes=30))
        earliest = max(min(first or latest, latest), created_at)
        earliest = min(earliest, latest)
        if (earliest, latest) != (first, last):
            fixes.append((earliest, latest, pk))
        own_contacts = contacts.get(pk, [None])
        for moment in _moments(rng, earliest, latest, count):
            method, content, sentiment, reason = rng.choice(followup_demo.CONTENTS)
            written = moment + timedelta(minutes=rng.choice([5, 15, 30, 60, 90, 240]))
            followups.append(
                (
                    ids.followup, written, written, 1, pk, rng.choice(own_contacts), owner_id,
                    moment, method, content, sentiment, reason, None, "", None,
                )
            )  # fmt: skip
            ids.followup += 1
        if status == CustomerStatus.CHURNED or rng.random() >= 0.35:
            continue
        # The latest follow-up names a next step, with its task.
        due_on = timezone.localdate(latest) + timedelta(days=rng.randint(1, 14))
        action = rng.choice(followup_demo.NEXT_STEPS)
        head = followups[-1]
        followups[-1] = (*head[:12], due_on, action, owner_id)
        due_at = local_at(due_on, hour)
        done = due_on < today - timedelta(days=30)
        when = f"{timezone.localtime(latest):%Y-%m-%d %H:%M}"
        tasks.append(
            (
                ids.task, head[1], head[1], 1, action, next_step_text % {"when": when},
                TaskKind.NEXT_STEP.value, owner_id, owner_id, pk, head[0], due_at,
                (TaskStatus.DONE if done else TaskStatus.OPEN).value, due_at if done else None,
                f"next_step:{head[0]}",
            )
        )  # fmt: skip
        ids.task += 1
    return {"followups": followups, "tasks": tasks, "fixes": fixes}


def _contacts_of(customers: list[tuple[Any, ...]]) -> dict[int, list[int]]:
    if not customers:
        return {}
    found: dict[int, list[int]] = defaultdict(list)
    rows = Contact.objects.filter(
        customer_id__gte=customers[0][0], customer_id__lte=customers[-1][0], is_active=True
    ).values_list("customer_id", "pk")
    for customer_id, contact_id in rows:
        found[customer_id].append(contact_id)
    return found


def _fix_contact_times(fixes: list[tuple[datetime, datetime, int]]) -> int:
    """Customers whose stored contact times could not be follow-up times get the generated ones."""
    if not fixes:
        return 0
    table = Customer._meta.db_table
    sql = f'UPDATE "{table}" SET first_contact_at = %s, last_contact_at = %s WHERE id = %s'
    adapt = connection.ops.adapt_datetimefield_value
    params = [(adapt(first), adapt(last), pk) for first, last, pk in fixes]
    with connection.cursor() as cursor:
        cursor.executemany(sql, params)
    return len(fixes)


def _opportunity_rows(
    rng: random.Random, customers: list[tuple[Any, ...]], quota: int, ids: _Ids, pipe: _Pipeline
) -> dict[str, list[Any]]:
    deals: list[tuple[Any, ...]] = []
    changes: list[tuple[Any, ...]] = []
    if quota <= 0:
        return {"opportunities": deals, "stage_changes": changes}
    now = timezone.now()
    today = timezone.localdate(now)
    cumulative = list(accumulate(OPPORTUNITY_WEIGHT.get(row[4], 1.0) for row in customers))
    picks = sorted(bisect_left(cumulative, rng.random() * cumulative[-1]) for _n in range(quota))
    sources = [choice.value for choice in Source]
    for index in picks:
        pk, owner_id, dept_id, name, status, created_at, _first, _last, source = customers[index]
        path, outcome = _path(rng, status, pipe)
        closed = outcome != "open"
        # Closed deals ran for weeks or months within the last two years; open ones are younger.
        window = 720 if closed else 200
        start = max(created_at, now - timedelta(days=window))
        opened = start + (now - start) * rng.random() ** (0.7 if closed else 1.3)
        opened = max(start, min(opened, now - timedelta(hours=1)))
        finished = opened + (now - opened) * rng.uniform(0.2 if closed else 0.05, 0.95)
        dates = opportunity_demo._stage_dates(rng, opened, finished, len(path))
        final = path[-1]
        amount = _amount(rng, final is pipe.open[0])
        if closed:
            expected = timezone.localdate(dates[-1])
        elif rng.random() < 0.1:
            expected = today - timedelta(days=rng.randint(1, 60))
        else:
            expected = today + timedelta(days=rng.randint(3, 180))
        deals.append(
            (
                ids.opportunity, opened, dates[-1], 1, pk,
                f"{name[:12]}·{rng.choice(opportunity_demo.SUBJECTS)}", owner_id, dept_id,
                amount, Currency.CNY.value, expected, final.pk, dates[-1],
                rng.choice(opportunity_demo.COMPETITORS), source or rng.choice(sources),
                rng.choice(opportunity_demo.NEEDS),
                "" if closed else rng.choice(opportunity_demo.NEXT_STEPS),
                rng.choice(pipe.reasons).pk if outcome == "lost" and pipe.reasons else None,
                dates[-1] if closed else None, owner_id, opportunity_demo.furthest_order(path),
            )
        )  # fmt: skip
        for position, stage in enumerate(path):
            exited = dates[position + 1] if position + 1 < len(path) else None
            changes.append(
                (
                    ids.stage_change, ids.opportunity, stage.pk, dates[position], owner_id,
                    exited, owner_id if exited else None,
                )
            )  # fmt: skip
            ids.stage_change += 1
        ids.opportunity += 1
    return {"opportunities": deals, "stage_changes": changes}


def _path(rng: random.Random, status: str, pipe: _Pipeline) -> tuple[list[Stage], str]:
    won, lost, _open = OUTCOMES.get(status, OUTCOMES["potential"])
    draw = rng.random()
    outcome = "won" if draw < won else "lost" if draw < won + lost else "open"
    key = "open_potential" if outcome == "open" and status == "potential" else outcome
    weights = FURTHEST_OPEN[key][: len(pipe.open)]
    furthest = rng.choices(range(len(weights)), weights=weights)[0]
    path = pipe.open[: furthest + 1]
    if outcome == "won":
        path = [*path, pipe.won]
        if pipe.paid is not None and rng.random() < 0.35:
            path.append(pipe.paid)
    elif outcome == "lost":
        path = [*path, pipe.lost]
    return path, outcome


def _amount(rng: random.Random, early: bool) -> Decimal | None:
    """Log-normal deal sizes around ¥200,000 (¥10,000 … ¥50,000,000); early deals may lack one."""
    if early and rng.random() < 0.15:
        return None
    value = min(max(rng.lognormvariate(math.log(200_000), 1.1), 10_000), 50_000_000)
    return Decimal(int(value / 1000) * 1000)
