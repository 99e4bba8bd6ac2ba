"""The rep-performance summary (``ActivityDay``): written by ``summarise_days``, read by
``reports.activity``.

Counting a quarter's follow-ups, new customers and won deals row by row took 2.5–3.6 s at
size L (457,709 follow-ups of one quarter); the summary holds them per day, owner,
department and rep (~160 rows a day), so a quarter is a few thousand rows.

``summarise_days(first, last, until)`` recomputes whole days from the records (delete and
insert in one transaction; 3 grouped queries a chunk), so it is idempotent. ``refresh`` runs
every 15 minutes for today up to now and nightly for the last ``RECENT_DAYS`` days (records
entered late, owners changed), and moves the mark (``ActivitySummaryMark``) to now; the report
counts the records after the mark directly (minutes of them), so new work shows at once.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any

from django.db import transaction
from django.db.models import Count, Q, Sum
from django.db.models.functions import TruncDate
from django.utils import timezone

from kehu.analytics.models import ActivityDay, ActivitySummaryMark
from kehu.core.days import on_days
from kehu.customers.models import Customer
from kehu.followups.models import FollowUp, Method
from kehu.opportunities.models import Opportunity, StageKind

RECENT_DAYS = 35  # recomputed every night: records entered late, owners changed
CHUNK_DAYS = 31
MARK_ID = 1  # the one row of ActivitySummaryMark

Key = tuple[date, int | None, int | None, int | None]


def mark() -> datetime | None:
    """The instant up to which the summary holds the records (None: it holds nothing)."""
    return (
        ActivitySummaryMark.objects.filter(pk=MARK_ID)
        .values_list("complete_until", flat=True)
        .first()
    )


def summarise_days(first: date, last: date, until: datetime | None = None) -> int:
    """Recompute ``ActivityDay`` for the local days ``first``..``last`` (the records before
    ``until`` only, when given); the rows written."""
    written = 0
    start = first
    while start <= last:
        end = min(last, start + timedelta(days=CHUNK_DAYS - 1))
        written += _summarise_chunk(start, end, until)
        start = end + timedelta(days=1)
    return written


def _local_day(field: str) -> TruncDate:
    return TruncDate(field, tzinfo=timezone.get_current_timezone())


def _summarise_chunk(first: date, last: date, until: datetime | None) -> int:
    before = Q() if until is None else Q(occurred_at__lt=until)
    rows: dict[Key, dict[str, Any]] = {}

    def row(key: Key) -> dict[str, Any]:
        return rows.setdefault(
            key,
            {
                "followups": 0,
                "visits": 0,
                "new_customers": 0,
                "won_deals": 0,
                "won_amount": Decimal(0),
            },
        )

    followups = (
        FollowUp.objects.filter(on_days("occurred_at", first, last), before)
        .annotate(day=_local_day("occurred_at"))
        .values_list("day", "customer__owner_id", "customer__department_id", "author_id")
        .annotate(n=Count("pk"), visits=Count("pk", filter=Q(method=Method.VISIT)))
        .order_by()
    )
    for day, owner, department, author, n, visits in followups:
        line = row((day, owner, department, author))
        line["followups"] += n
        line["visits"] += visits
    customers = (
        Customer.objects.filter(on_days("created_at", first, last))
        .filter(Q() if until is None else Q(created_at__lt=until))
        .annotate(day=_local_day("created_at"))
        .values_list("day", "owner_id", "department_id")
        .annotate(n=Count("pk"))
        .order_by()
    )
    for day, owner, department, n in customers:
        row((day, owner, department, owner))["new_customers"] += n
    deals = (
        Opportunity.objects.filter(on_days("closed_at", first, last))
        .filter(Q() if until is None else Q(closed_at__lt=until))
        .filter(stage__kind=StageKind.WON)
        .annotate(day=_local_day("closed_at"))
        .values_list("day", "owner_id", "department_id")
        .annotate(n=Count("pk"), amount=Sum("amount"))
        .order_by()
    )
    for day, owner, department, n, amount in deals:
        line = row((day, owner, department, owner))
        line["won_deals"] += n
        line["won_amount"] += amount or Decimal(0)
    with transaction.atomic():
        ActivityDay.objects.filter(day__gte=first, day__lte=last).delete()
        ActivityDay.objects.bulk_create(
            [
                ActivityDay(day=day, owner_id=owner, department_id=department, rep_id=rep, **v)
                for (day, owner, department, rep), v in rows.items()
            ],
            batch_size=2000,
        )
    return len(rows)


@transaction.atomic
def refresh(
    *, now: datetime | None = None, recent_days: int = RECENT_DAYS, full: bool = False
) -> dict[str, Any]:
    """The jobs: recompute the days from ``recent_days`` before the current mark (or, ``full``
    or without a mark, every day since the first record) up to ``now`` and move the mark to
    ``now``. One transaction holding the mark's row locked: two runs (the 15-minute and the
    nightly job) never delete and insert the same days at once, which would count them twice.
    """
    now = now or timezone.now()
    today = timezone.localdate(now)
    ActivitySummaryMark.objects.get_or_create(pk=MARK_ID)
    lock = ActivitySummaryMark.objects.select_for_update().get(pk=MARK_ID)
    current = lock.complete_until
    if full or current is None:
        followed = FollowUp.objects.order_by("occurred_at").values_list("occurred_at", flat=True)
        created = Customer.objects.order_by("created_at").values_list("created_at", flat=True)
        earliest = [
            found
            for found in (
                followed.first(),
                created.first(),
                Opportunity.objects.exclude(closed_at=None)
                .order_by("closed_at")
                .values_list("closed_at", flat=True)
                .first(),
            )
            if found is not None
        ]
        first = timezone.localdate(min(earliest)) if earliest else today
        ActivityDay.objects.filter(day__lt=first).delete()
    else:
        first = min(timezone.localdate(current), today) - timedelta(days=recent_days)
    written = summarise_days(first, today, until=now)
    ActivityDay.objects.filter(day__gt=today).delete()
    lock.complete_until = now
    lock.summarised_at = now
    lock.save(update_fields=["complete_until", "summarised_at"])
    return {"from": first.isoformat(), "to": today.isoformat(), "rows": written}
