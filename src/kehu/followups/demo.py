"""Demo follow-ups and tasks for ``kehu demo`` (call ``generate_followups`` after the customers).

Follow-ups go in with bulk_create (history rows are not needed for demo data); the customers'
contact times, next-step tasks, the cadence plan tasks and the care calendar follow from them.
"""

from __future__ import annotations

import random
from datetime import datetime, timedelta

from django.db import connection, transaction
from django.utils import timezone

from kehu.core import bulk
from kehu.core.demo import DemoRun, DemoStep
from kehu.customers.models import Customer
from kehu.followups import reminders
from kehu.followups.models import CadencePlan, FollowUp, Method, Sentiment, Task, TaskKind
from kehu.followups.services import active_plans, cadence_interval

# Customers from which PostgreSQL builds the task table's indexes and foreign keys after the
# cadence plan (``bulk.deferred_indexes``), as the customer and deal loads do: with them in
# place, planning ~1,000,000 tasks spent most of its time on the server keeping ten indexes
# and queueing two foreign-key checks per written task (the step: ≈ 190 s, now ≈ 85 s).
DEFER_INDEXES_FROM = 15_000

CONTENTS = [
    ("phone", "电话沟通初步需求，客户关注售后响应时间", "neutral", ""),
    ("visit", "上门拜访采购经理，演示产品，客户对方案感兴趣", "positive", "方案契合生产线改造需求"),
    ("email", "发送产品手册与案例，客户已回复确认收到", "neutral", ""),
    ("online_meeting", "线上会议讨论技术方案，技术总监提出接口问题", "neutral", ""),
    ("wechat", "微信沟通报价，客户认为价格偏高", "negative", "预算有限，竞品报价更低"),
    ("phone", "电话回访满意度，客户表示使用顺利", "positive", "交付及时"),
]
NEXT_STEPS = ["发送正式报价单", "安排产品演示", "提交技术方案", "邀请参观工厂", "电话回访"]
# A team that keeps up: about one customer in twelve is past its cadence (跟进周期), and one
# next step in ten is a day or two late, so a rep opens "my day" to a handful of overdue tasks.
BEHIND_SHARE = 0.08
LATE_STEP_SHARE = 0.1


@transaction.atomic
def generate_followups(*, seed: int, limit: int = 400) -> int:
    rng = random.Random(seed)
    now = timezone.now()
    customers = list(
        Customer.objects.filter(owner__isnull=False).select_related("owner").order_by("pk")[:limit]
    )
    plans = active_plans()
    followups: list[FollowUp] = []
    for customer in customers:
        moments = _contact_moments(rng, now, cadence_interval(customer, plans))
        for when in moments:
            method, content, sentiment, reason = rng.choice(CONTENTS)
            followups.append(
                FollowUp(
                    customer=customer,
                    author=customer.owner,
                    occurred_at=when,
                    created_at=when + timedelta(minutes=rng.randint(10, 90)),
                    method=Method(method),
                    content=content,
                    sentiment=Sentiment(sentiment),
                    sentiment_reason=reason,
                )
            )
    FollowUp.objects.bulk_create(followups, batch_size=1000)
    latest: dict[int, FollowUp] = {}
    earliest: dict[int, datetime] = {}
    for record in followups:
        current = latest.get(record.customer_id)
        if current is None or record.occurred_at > current.occurred_at:
            latest[record.customer_id] = record
        first_seen = earliest.get(record.customer_id)
        if first_seen is None or record.occurred_at < first_seen:
            earliest[record.customer_id] = record.occurred_at
    tasks: list[Task] = []
    for customer in customers:
        row = latest.get(customer.pk)
        if row is None:
            continue
        Customer.objects.filter(pk=customer.pk).update(
            first_contact_at=earliest[customer.pk], last_contact_at=row.occurred_at
        )
        if rng.random() < 0.5:
            late = rng.random() < LATE_STEP_SHARE
            due = now + timedelta(days=-rng.randint(1, 2) if late else rng.randint(1, 10))
            action = rng.choice(NEXT_STEPS)
            FollowUp.objects.filter(pk=row.pk).update(
                next_step_on=timezone.localtime(due).date(),
                next_step_action=action,
                next_step_owner=customer.owner,
            )
            assert customer.owner is not None
            tasks.append(
                Task(
                    title=action,
                    kind=TaskKind.NEXT_STEP,
                    assignee=customer.owner,
                    customer=customer,
                    followup=row,
                    due_at=due,
                    dedupe_key=f"next_step:{row.pk}",
                )
            )
    Task.objects.bulk_create(tasks, batch_size=1000)
    reminders.care_calendar_refresh()
    with bulk.deferred_indexes(Task, defer=_defer_task_indexes()):
        reminders.cadence_plan_missing()
    return len(followups)


def _contact_moments(rng: random.Random, now: datetime, plan: CadencePlan | None) -> list[datetime]:
    """When a customer was contacted, oldest first: the latest contact within the customer's
    cadence (a few customers are behind it), earlier ones spread over the two months before."""
    interval = plan.interval_days if plan is not None else 30
    if rng.random() < BEHIND_SHARE:
        since_last = timedelta(days=interval + rng.uniform(0.5, 5))
    else:
        since_last = timedelta(days=rng.uniform(0.05, interval * 0.9))
    latest = now - since_last
    earlier = [latest - timedelta(days=rng.uniform(2, 60)) for _n in range(rng.randint(0, 2))]
    return [*sorted(earlier), latest]


def _defer_task_indexes() -> bool:
    """A big book without planned tasks yet, on PostgreSQL. On SQLite, which checks no foreign
    key per row, the rebuild made the demo of size L slower (275.9 → 300.9 s)."""
    if connection.vendor != "postgresql":
        return False
    planned = Task.objects.filter(kind=TaskKind.CADENCE).exists()
    return not planned and Customer.objects.count() >= DEFER_INDEXES_FROM


def _followups_step(run: DemoRun) -> str:
    return f"{generate_followups(seed=run.seed)} follow-ups"


FOLLOWUPS = DemoStep(key="followups", order=30, run=_followups_step)
