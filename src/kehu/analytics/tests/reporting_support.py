"""Reports registered by tests: the foundation and the review are tested with reports of their
own (the real ones are built in parallel and registered by their modules), each put into the
registry for one test and taken out after it."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, time, timedelta
from decimal import Decimal
from typing import Any

from django.db.models import Count
from django.utils import timezone

from kehu.accounts.models import User
from kehu.analytics import registry
from kehu.analytics.registry import ReportSpec
from kehu.analytics.reporting import Chart, Column, Report, ReportFilters, Table, share
from kehu.customers import services as customer_services
from kehu.customers.models import Customer
from kehu.followups.models import FollowUp

TEST_KEY = "test-new-customers"


def new_customers_report(user: Any, filters: ReportFilters, key: str = TEST_KEY) -> Report:
    """Customers created in the period, per rep, through the access gate and every filter;
    the follow-ups of the period beside them."""
    customers = Customer.objects.visible_to(user).filter(
        filters.between("created_at"),
        filters.scope_q("owner", "department"),
        filters.customer_q(""),
    )
    per_owner = list(
        customers.values("owner__username").annotate(n=Count("id")).order_by("owner__username")
    )
    followups = (
        FollowUp.objects.visible_to(user)
        .filter(filters.between("created_at"), filters.customer_q("customer__"))
        .count()
    )
    total = sum(row["n"] for row in per_owner)
    rows = [
        {
            "owner": row["owner__username"] or "",
            "customers": row["n"],
            "share": share(row["n"], total),
        }
        for row in per_owner
    ]
    return Report(
        key=key,
        title="New customers (test)",
        filters=filters,
        summary=[
            ("new_customers", "New customers", total, "int"),
            ("followups", "Follow-ups", followups, "int"),
            ("won_amount", "Won amount", Decimal("1234.50") if total else Decimal(0), "money"),
        ],
        tables=[
            Table(
                key="owners",
                title="Per rep",
                columns=[
                    Column("owner", "Rep"),
                    Column("customers", "Customers", "int"),
                    Column("share", "Share", "pct"),
                ],
                rows=rows,
                note="counted from the records",
            )
        ],
        charts=[
            Chart(
                key="owners",
                title="Per rep",
                categories=[row["owner"] for row in rows],
                series=[
                    {"name": "Customers", "type": "bar", "data": [r["customers"] for r in rows]}
                ],
            )
        ],
    )


def targets_like_report(user: Any, filters: ReportFilters) -> Report:
    """A stand-in for the targets report: one target row, summary keys of the contract."""
    report = new_customers_report(user, filters, key="targets")
    actual = report.summary[0][2]
    report.summary = [
        ("targets", "Targets", 1, "int"),
        ("met", "Met", 1 if actual >= 2 else 0, "int"),
        ("attainment_pct", "Attainment", share(actual, 2), "pct"),
    ]
    report.tables = [
        Table(
            key="targets",
            title="Targets",
            columns=[Column("name", "Target"), Column("actual", "Actual", "int")],
            rows=[{"name": "两家新客户", "actual": actual}],
        )
    ]
    return report


@contextmanager
def registered(*specs: ReportSpec) -> Iterator[None]:
    """``specs`` alone in the registry for the block (the real reports are tested in their
    own modules); what was there before comes back after it."""
    saved = dict(registry._reports)
    try:
        registry._reports.clear()
        for spec in specs:
            registry.register(spec)
        yield
    finally:
        registry._reports.clear()
        registry._reports.update(saved)


def spec(key: str = TEST_KEY, build: Any = None, **extra: Any) -> ReportSpec:
    return ReportSpec(
        key=key,
        title=extra.pop("title", "New customers (test)"),
        description="A report of the tests",
        build=build or (lambda user, filters: new_customers_report(user, filters, key=key)),
        **extra,
    )


_numbers = iter(range(1, 10**6))


def customer(owner: User, *, created: datetime | None = None, **fields: Any) -> Customer:
    """A customer of ``owner`` created at ``created`` (default now) with ``fields`` set."""
    n = next(_numbers)
    row = customer_services.customer_create(
        actor=owner, data={"name": f"无锡分析测试{n}号机械有限公司"}, force=True
    )
    Customer.objects.filter(pk=row.pk).update(created_at=created or timezone.now(), **fields)
    row.refresh_from_db()
    return row


def at(day: Any, hour: int = 10) -> datetime:
    return timezone.make_aware(datetime.combine(day, time(hour)))


def days_ago(days: int) -> datetime:
    return timezone.now() - timedelta(days=days)
