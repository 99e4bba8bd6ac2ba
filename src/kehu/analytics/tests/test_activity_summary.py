"""The rep-performance summary (``ActivityDay``) against a direct recount on random data: the
same figures for an admin, a manager and a rep with a shared customer, for periods inside,
across and after the summarised days, with the rep and department filters; the job is
idempotent, and the report reads a fixed number of queries with the summary."""

from __future__ import annotations

import random
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import time_machine

from kehu.accounts.models import User
from kehu.analytics import summary
from kehu.analytics.models import ActivityDay
from kehu.analytics.reporting import parse_filters
from kehu.analytics.reports.activity import rep_performance
from kehu.core.testing.factories import Organisation
from kehu.customers import services as customer_services
from kehu.customers.models import Customer, CustomerShare
from kehu.followups.models import FollowUp, Method
from kehu.opportunities.models import Opportunity, Stage, StageKind

pytestmark = pytest.mark.django_db
SHANGHAI = ZoneInfo("Asia/Shanghai")
TODAY = date(2026, 6, 20)
NOW = datetime(2026, 6, 20, 15, 0, tzinfo=SHANGHAI)


def random_records(org: Organisation, seed: int) -> None:
    rng = random.Random(seed)
    reps = [org.rep, org.colleague, org.hangzhou_rep, org.south_rep]
    won = Stage.objects.filter(kind=StageKind.WON).earliest("order")
    lost = Stage.objects.filter(kind=StageKind.LOST).earliest("order")

    def moment() -> datetime:
        # 0:00–23:59 local on a day of the last 80 days, today's morning included
        day = rng.randint(0, 80)
        return NOW - timedelta(days=day, minutes=rng.randint(0, 24 * 60 - 1))

    customers = []
    for n in range(24):
        owner = rng.choice(reps)
        made = customer_services.customer_create(
            actor=owner, data={"name": f"随机客户{seed}-{n}有限公司"}, force=True
        )
        Customer.objects.filter(pk=made.pk).update(created_at=moment())
        customers.append(made)
    for _n in range(120):
        c = rng.choice(customers)
        author = c.owner if rng.random() < 0.8 else rng.choice(reps)
        FollowUp.objects.create(
            customer=c,
            author=author,
            occurred_at=moment(),
            method=rng.choice([Method.PHONE, Method.VISIT, Method.WECHAT]),
            content="跟进",
        )
    for n in range(30):
        c = rng.choice(customers)
        owner = c.owner if rng.random() < 0.7 else rng.choice(reps)
        Opportunity.objects.create(
            customer=c,
            name=f"商机{n}",
            owner=owner,
            department=owner.department,
            amount=Decimal(rng.randint(1, 500) * 1000) if rng.random() < 0.9 else None,
            stage=won if rng.random() < 0.7 else lost,
            closed_at=moment(),
        )
    shared = next(c for c in customers if c.owner_id != org.rep.pk)
    CustomerShare.objects.create(customer=shared, user=org.rep, shared_by=shared.owner)


def figures(user: User, params: dict[str, str], *, use_summary: bool) -> dict[str, Any]:
    user = User.objects.get(pk=user.pk)
    report = rep_performance(user, parse_filters(user=user, params=params), use_summary=use_summary)
    return {
        "summary": report.summary and {key: value for key, _l, value, _k in report.summary},
        "rows": sorted(report.tables[0].rows, key=lambda row: row["rep"]),
        "masked": report.amounts_masked,
    }


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_the_summary_matches_a_direct_recount(org: Organisation, seed: int) -> None:
    with time_machine.travel(NOW, tick=False):
        random_records(org, seed)
        result = summary.refresh(now=NOW)
        assert result["rows"] > 0
        assert summary.mark() == NOW
        # every follow-up up to now is in the summary
        held = sum(ActivityDay.objects.values_list("followups", flat=True))
        assert held == FollowUp.objects.filter(occurred_at__lt=NOW).count()
        # records after the mark are counted directly
        c = Customer.objects.filter(owner=org.rep).first()
        assert c is not None
        FollowUp.objects.create(
            customer=c,
            author=org.rep,
            occurred_at=NOW + timedelta(minutes=5),
            method=Method.VISIT,
            content="刚刚拜访",
        )
        periods = [
            {"from": "2026-04-01", "to": "2026-06-30"},  # held days and today
            {"from": "2026-05-01", "to": "2026-05-31"},  # held days only
            {"from": "2026-06-20", "to": "2026-06-20"},  # today only
            {"from": "2026-06-10", "to": "2026-06-25"},
        ]
        cases: list[tuple[User, dict[str, str]]] = []
        for period in periods:
            cases += [
                (org.admin, period),
                (org.east_manager, period),
                (org.rep, period),
                (org.south_manager, period),
                (org.east_manager, {**period, "owner": str(org.colleague.pk)}),
                (org.east_manager, {**period, "department": str(org.hangzhou.pk)}),
                (org.admin, {**period, "department": str(org.east.pk)}),
            ]
        for user, params in cases:
            direct = figures(user, params, use_summary=False)
            assert figures(user, params, use_summary=True) == direct, (user.username, params)
        # the rep sees the deals of the shared customer, not their amounts
        rep = figures(org.rep, periods[0], use_summary=True)
        direct_rep = figures(org.rep, periods[0], use_summary=False)
        assert rep["masked"] == direct_rep["masked"]


def test_the_job_is_idempotent_and_follows_late_records(org: Organisation) -> None:
    with time_machine.travel(NOW, tick=False):
        random_records(org, 7)
        summary.refresh(now=NOW)
        first = sorted(ActivityDay.objects.values_list("day", "rep_id", "followups", "won_deals"))
        summary.refresh(now=NOW)
        again = sorted(ActivityDay.objects.values_list("day", "rep_id", "followups", "won_deals"))
        assert first == again
        c = Customer.objects.filter(owner=org.rep).first() or Customer.objects.first()
        assert c is not None
        late = datetime(2026, 6, 1, 10, tzinfo=SHANGHAI)  # recorded late, 19 days back
        FollowUp.objects.create(
            customer=c, author=org.rep, occurred_at=late, method=Method.VISIT, content="补录"
        )
        params = {"from": "2026-06-01", "to": "2026-06-01"}
        stale = figures(org.admin, params, use_summary=True)
        assert stale != figures(org.admin, params, use_summary=False)
        summary.refresh(now=NOW + timedelta(days=1))
        assert figures(org.admin, params, use_summary=True) == figures(
            org.admin, params, use_summary=False
        )


def test_a_fixed_number_of_queries_with_the_summary(
    org: Organisation, django_assert_max_num_queries: Any
) -> None:
    with time_machine.travel(NOW, tick=False):
        random_records(org, 11)
        summary.refresh(now=NOW)
        for user in (org.admin, org.east_manager, org.rep):
            user = User.objects.get(pk=user.pk)
            filters = parse_filters(user=user, params={"from": "2026-04-01", "to": "2026-06-30"})
            # mark, summary, granted (3), days after the mark (3), leads, names, scope look-ups
            with django_assert_max_num_queries(18):
                rep_performance(user, filters)
