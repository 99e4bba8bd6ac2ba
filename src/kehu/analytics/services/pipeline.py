"""Keeping ``DealFollowUpStats``: the follow-ups of each closed deal while it was open.

Incrementally: a saved deal refreshes its own row (closed: computed; reopened: removed); a
saved or deleted follow-up refreshes the closed deals of its customer whose open window holds
it. Wholly: ``deal_stats_rebuild`` (the nightly job) recomputes every closed deal in batches,
for what bypassed the write path (bulk loads, imports, raw fixes).
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

from django.db import transaction
from django.db.models import QuerySet
from django.utils import timezone

from kehu.analytics.models import DealFollowUpStats, DealStageEntry
from kehu.analytics.selectors.pipeline import (
    DaysBetween,
    cadence_of,
    closed_kinds,
    with_followup_figures,
)
from kehu.opportunities.models import Opportunity, Stage, StageChange, StageKind

REBUILD_BATCH = 2000


def _closed(deals: QuerySet[Opportunity]) -> QuerySet[Opportunity]:
    return deals.filter(stage__kind__in=closed_kinds(), closed_at__isnull=False)


def _rows(deals: QuerySet[Opportunity], now: datetime) -> list[DealFollowUpStats]:
    rows = []
    annotated: Any = with_followup_figures(_closed(deals))  # the figures are annotations
    figures = annotated.values_list(
        "pk",
        "closed_at",
        "stage__kind",
        "fu_count",
        "fu_method",
        "open_days",
        "cycle_days",
        "owner_id",
        "department_id",
        "customer__industry_id",
        "customer__region_id",
        "customer__employees_band",
        "amount",
    )
    for (
        pk,
        closed_at,
        kind,
        count,
        method,
        open_days,
        cycle_days,
        owner_id,
        department_id,
        industry_id,
        region_id,
        band,
        amount,
    ) in figures:
        per_30_days, cadence = cadence_of(count, open_days or 0.0)
        rows.append(
            DealFollowUpStats(
                opportunity_id=pk,
                owner_id=owner_id,
                department_id=department_id,
                industry_id=industry_id,
                region_id=region_id,
                employees_band=band,
                amount=amount,
                cycle_days=max(cycle_days or 0.0, 0.0),
                closed_at=closed_at,
                won=kind == StageKind.WON,
                open_days=max(open_days or 0.0, 0.0),
                followups=count,
                per_30_days=per_30_days,
                cadence=cadence,
                method=method,
                computed_at=now,
            )
        )
    return rows


def deal_stats_refresh(opportunity_ids: Iterable[int]) -> int:
    """Recompute the rows of these deals (closed ones get one, others none); the count."""
    ids = sorted(set(opportunity_ids))
    if not ids:
        return 0
    with transaction.atomic():
        DealFollowUpStats.objects.filter(opportunity_id__in=ids).delete()
        rows = _rows(Opportunity.objects.filter(pk__in=ids), timezone.now())
        DealFollowUpStats.objects.bulk_create(rows)
    return len(rows)


def customer_deals_refresh(customer_id: int, *, at: datetime | None = None) -> int:
    """After a follow-up on ``customer_id`` changed (at ``at``): its closed deals' rows."""
    deals = _closed(Opportunity.objects.filter(customer_id=customer_id))
    if at is not None:
        deals = deals.filter(created_at__lte=at, closed_at__gte=at)
    return deal_stats_refresh(deals.values_list("pk", flat=True))


def stage_entries_of(deals: QuerySet[Opportunity]) -> list[DealStageEntry]:
    """The first entry of each of ``deals`` into each (non-lost) stage, from the stage
    changes, with the deal's columns copied."""
    stages = {
        pk: (order, kind) for pk, order, kind in Stage.objects.values_list("pk", "order", "kind")
    }
    orders = {pk: order for pk, (order, _kind) in stages.items()}
    kinds = {pk: kind for pk, (_order, kind) in stages.items()}
    info = {
        row[0]: row[1:]
        for row in deals.values_list(
            "pk",
            "owner_id",
            "department_id",
            "customer__industry_id",
            "customer__region_id",
            "furthest_stage_order",
            "stage_id",
        )
    }
    changes: Any = (
        StageChange.objects.filter(opportunity_id__in=list(info))
        .exclude(stage__kind=StageKind.LOST)
        .annotate(stay=DaysBetween("exited_at", "entered_at"))
        .order_by("opportunity_id", "stage_id", "entered_at", "id")
        .values_list("opportunity_id", "stage_id", "entered_at", "stay")
    )
    entries: dict[tuple[int, int], DealStageEntry] = {}
    for deal_id, stage_id, entered_at, stay in changes:
        if (deal_id, stage_id) in entries:
            continue  # a later entry into the same stage: the first one counts
        owner_id, department_id, industry_id, region_id, furthest, current = info[deal_id]
        entries[(deal_id, stage_id)] = DealStageEntry(
            opportunity_id=deal_id,
            stage_id=stage_id,
            entered_at=entered_at,
            stay_days=stay,
            owner_id=owner_id,
            department_id=department_id,
            industry_id=industry_id,
            region_id=region_id,
            advanced=furthest is not None and furthest > orders[stage_id],
            won=kinds.get(current) == StageKind.WON,
        )
    return list(entries.values())


def stage_entries_refresh(opportunity_ids: Iterable[int]) -> int:
    """Recompute the stage entries of these deals; the count written."""
    ids = sorted(set(opportunity_ids))
    if not ids:
        return 0
    with transaction.atomic():
        DealStageEntry.objects.filter(opportunity_id__in=ids).delete()
        rows = stage_entries_of(Opportunity.objects.filter(pk__in=ids))
        DealStageEntry.objects.bulk_create(rows)
    return len(rows)


def stage_entries_rebuild(*, batch: int = REBUILD_BATCH) -> int:
    """Recompute every deal's stage entries, in batches of deals."""
    written, last = 0, 0
    while True:
        ids = list(
            Opportunity.objects.filter(pk__gt=last)
            .order_by("pk")
            .values_list("pk", flat=True)[:batch]
        )
        if not ids:
            return written
        written += stage_entries_refresh(ids)
        last = ids[-1]


def deal_stats_rebuild(*, batch: int = REBUILD_BATCH) -> int:
    """Recompute every closed deal's row and drop the rows of deals no longer closed."""
    now = timezone.now()
    stale = DealFollowUpStats.objects.exclude(
        opportunity__in=_closed(Opportunity.objects.all()).values("pk")
    )
    stale.delete()
    written, last = 0, 0
    while True:
        ids = list(
            _closed(Opportunity.objects.filter(pk__gt=last))
            .order_by("pk")
            .values_list("pk", flat=True)[:batch]
        )
        if not ids:
            return written
        with transaction.atomic():
            DealFollowUpStats.objects.filter(opportunity_id__in=ids).delete()
            rows = _rows(Opportunity.objects.filter(pk__in=ids), now)
            DealFollowUpStats.objects.bulk_create(rows)
        written += len(rows)
        last = ids[-1]


# --- the write path (connected in AppConfig.ready) -----------------------------------------


def on_deal_saved(sender: Any, instance: Opportunity, **kwargs: Any) -> None:
    """A deal saved: its stage entries; closed → its row recomputed; reopened → removed."""
    stage_entries_refresh([instance.pk])
    if (
        instance.closed_at is not None
        or DealFollowUpStats.objects.filter(opportunity_id=instance.pk).exists()
    ):
        deal_stats_refresh([instance.pk])


def on_stage_change_saved(sender: Any, instance: StageChange, **kwargs: Any) -> None:
    """A stay opened (a new deal's first one is written after the deal is saved)."""
    stage_entries_refresh([instance.opportunity_id])


def on_customers_changed(ids: list[int]) -> None:
    """Customers changed (first contact, industry, region, size): their deals' rows."""
    deals = list(Opportunity.objects.filter(customer_id__in=ids).values_list("pk", flat=True))
    stage_entries_refresh(deals)
    deal_stats_refresh(deals)  # keeps rows for the closed ones only


def on_followup_changed(sender: Any, instance: Any, **kwargs: Any) -> None:
    """A follow-up saved or deleted: the closed deals of its customer (an edit may have moved
    it out of one deal's window into another's, so all of them, a handful)."""
    customer_deals_refresh(instance.customer_id)
