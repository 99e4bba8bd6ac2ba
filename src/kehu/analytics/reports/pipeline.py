"""Pipeline reports: stage conversion over the stage history, the deal cycle, and follow-up
effectiveness ("which cadence converts best").

Each reads through the one access gate (the deals ``Opportunity.objects`` shows the viewer,
``deal_scope``), narrowed by the report filters, aggregates in the database and runs a fixed
number of queries whatever the rows.
"""

from __future__ import annotations

from itertools import pairwise
from typing import Any

from django.db.models import Avg, Count, F, Q, Sum
from django.db.models.functions import Substr
from django.utils.translation import gettext_lazy as _

from kehu.analytics.models import DealFollowUpStats
from kehu.analytics.registry import ReportSpec, register
from kehu.analytics.reporting import Chart, Column, Report, ReportFilters, Table, share
from kehu.analytics.selectors.pipeline import (
    CADENCE_BOUNDS,
    DaysBetween,
    amounts_seen,
    cycle_start,
    deal_scope,
    segment_q,
    stage_ids,
)
from kehu.customers.models import EmployeesBand, Industry
from kehu.followups.models import Method
from kehu.leads.models import Lead, LeadStatus
from kehu.opportunities.models import Opportunity, StageChange, StageKind
from kehu.opportunities.selectors import stage_list
from kehu.service.selectors.reports import Median

PIPELINE_ROLES = frozenset({"admin", "manager", "sales"})


def _days(value: Any) -> float | None:
    return round(float(value), 1) if value is not None else None


# --- stage conversion ---------------------------------------------------------------------


def stage_conversion(user: Any, filters: ReportFilters) -> Report:
    """Of the deals that entered each stage in the period (their stage history), how many
    went further (reached a later stage at any time since) and how many are won; the lead
    step before it: leads created in the period and how many were converted.

    Queries: the stages, the leads, the deals created, the stays per stage (with the grants
    read once for the scope): at most 6.
    """
    stages = stage_list(include_inactive=True)
    steps = [s for s in stages if s.is_active and s.kind != StageKind.LOST]
    won_ids = stage_ids(stages, StageKind.WON)

    leads = (
        Lead.objects.visible_to(user)
        .filter(
            filters.between("created_at"),
            filters.scope_q("assignee", "department"),
            segment_q(filters, ""),
        )
        .aggregate(
            n=Count("pk"),
            converted=Count("pk", filter=Q(status=LeadStatus.CONVERTED)),
        )
    )
    created = (
        Opportunity.objects.filter(deal_scope(user, filters), filters.between("created_at"))
        .order_by()
        .aggregate(n=Count("pk"), won=Count("pk", filter=Q(stage_id__in=won_ids)))
    )
    stays = (
        StageChange.objects.filter(
            deal_scope(user, filters, "opportunity__"),
            filters.between("entered_at"),
            stage_id__in=[step.pk for step in steps],
        )
        .order_by()
        .values("stage_id")
        .annotate(
            entered=Count("opportunity_id", distinct=True),
            advanced=Count(
                "opportunity_id",
                distinct=True,
                filter=Q(opportunity__furthest_stage_order__gt=F("stage__order")),
            ),
            won=Count("opportunity_id", distinct=True, filter=Q(opportunity__stage_id__in=won_ids)),
            stay=Avg(DaysBetween("exited_at", "entered_at"), filter=Q(exited_at__isnull=False)),
        )
    )
    by_stage: dict[int, dict[str, Any]] = {row["stage_id"]: dict(row) for row in stays}

    rows: list[dict[str, Any]] = [
        {
            "step": str(_("Leads")),
            "entered": leads["n"],
            "advanced": leads["converted"],
            "conversion_pct": share(leads["converted"], leads["n"]),
            "won": None,
            "win_pct": None,
            "avg_days": None,
        }
    ]
    for step in steps:
        row: dict[str, Any] = by_stage.get(step.pk, {})
        entered, won = row.get("entered", 0), row.get("won", 0)
        last = step is steps[-1]  # nothing further to reach
        advanced = None if last else row.get("advanced", 0)
        rows.append(
            {
                "step": step.label,
                "entered": entered,
                "advanced": advanced,
                "conversion_pct": None if advanced is None else share(advanced, entered),
                "won": won,
                "win_pct": share(won, entered),
                "avg_days": _days(row.get("stay")),
            }
        )
    empty = not any(row["entered"] for row in rows)
    table = Table(
        key="steps",
        title=_("Conversion per step"),
        columns=[
            Column("step", _("Step")),
            Column("entered", _("Entered in the period"), "int"),
            Column("advanced", _("Went further"), "int"),
            Column("conversion_pct", _("Conversion"), "pct"),
            Column("won", _("Won"), "int"),
            Column("win_pct", _("Win rate"), "pct"),
            Column("avg_days", _("Average days in stage"), "days"),
        ],
        rows=[] if empty else rows,
        note=_(
            "From the stage history: deals that entered a stage in the period, whether they "
            "later reached a further stage, whether they are won now. Leads: created in the "
            "period, converted since. Deals that skipped a stage are not counted in it."
        ),
    )
    chart = Chart(
        key="funnel",
        title=_("Entered and conversion per step"),
        categories=[] if empty else [str(row["step"]) for row in rows],
        series=[]
        if empty
        else [
            {"name": str(_("Entered")), "type": "bar", "data": [r["entered"] for r in rows]},
            {
                "name": str(_("Conversion (%)")),
                "type": "line",
                "axis": 1,
                "data": [r["conversion_pct"] for r in rows],
            },
        ],
    )
    return Report(
        key="stage-conversion",
        title=_("Stage conversion"),
        filters=filters,
        summary=[
            ("leads", _("Leads"), leads["n"], "int"),
            ("leads_converted", _("Leads converted"), leads["converted"], "int"),
            (
                "lead_conversion_pct",
                _("Lead conversion"),
                share(leads["converted"], leads["n"]),
                "pct",
            ),
            ("opportunities", _("Opportunities created"), created["n"], "int"),
            ("won", _("Of them won"), created["won"], "int"),
            ("win_rate_pct", _("Win rate"), share(created["won"], created["n"]), "pct"),
        ],
        tables=[table],
        charts=[chart],
    )


# --- deal cycle -------------------------------------------------------------------------------

# (upper bound in days or None, label) of the distribution's buckets
CYCLE_BUCKETS: list[tuple[int | None, str]] = [
    (15, "≤15"),
    (30, "16–30"),
    (45, "31–45"),
    (60, "46–60"),
    (90, "61–90"),
    (180, "91–180"),
    (None, ">180"),
]


def _bucket_filters() -> list[Q]:
    conditions, lower = [], None
    for upper, _label in CYCLE_BUCKETS:
        condition = Q()
        if lower is not None:
            condition &= Q(cycle__gt=lower)
        if upper is not None:
            condition &= Q(cycle__lte=upper)
        conditions.append(condition)
        lower = upper
    return conditions


def _cycle_figures(user: Any) -> dict[str, Any]:
    seen = amounts_seen(user)
    figures: dict[str, Any] = {
        "n": Count("pk"),
        "avg": Avg("cycle"),
        "median": Median("cycle"),
        "won_sum": Sum("amount", filter=seen) if seen is not None else Sum("amount"),
    }
    if seen is not None:
        figures["hidden"] = Count("pk", filter=Q(amount__isnull=False) & ~seen)
    return figures


def deal_cycle(user: Any, filters: ReportFilters) -> Report:
    """Deals won in the period: days from the first contact with the customer (or the deal's
    creation, when later or unknown) to the win; the distribution, by industry (section) and
    by size (employees). Won amounts only over the deals whose amount the viewer sees.

    Queries: the stages, the totals with the buckets, per industry, the industries' names,
    per size (with the grants for the scope): at most 6.
    """
    won_ids = stage_ids(stage_list(include_inactive=True), StageKind.WON)
    won = (
        Opportunity.objects.filter(
            deal_scope(user, filters), filters.between("closed_at"), stage_id__in=won_ids
        )
        .order_by()
        .annotate(cycle=DaysBetween("closed_at", cycle_start()))
    )
    buckets = {f"b{i}": Count("pk", filter=c) for i, c in enumerate(_bucket_filters())}
    totals = won.aggregate(**_cycle_figures(user), **buckets)
    sections = list(
        won.annotate(section=Substr("customer__industry_id", 1, 1))
        .values("section")
        .annotate(**_cycle_figures(user))
    )
    names = dict(
        Industry.objects.filter(
            code__in=[r["section"] for r in sections if r["section"]]
        ).values_list("code", "name")
    )
    sizes = list(won.values("customer__employees_band").annotate(**_cycle_figures(user)))
    masked = bool(totals.get("hidden")) if totals["n"] else False
    band_labels = dict(EmployeesBand.choices)

    def line(label: str, row: Any) -> dict[str, Any]:
        return {
            "group": label,
            "won_deals": row["n"],
            "avg_cycle_days": _days(row["avg"]),
            "median_cycle_days": _days(row["median"]),
            "won_amount": row["won_sum"] or 0,
        }

    group_columns = [
        Column("group", _("Group")),
        Column("won_deals", _("Won deals"), "int"),
        Column("avg_cycle_days", _("Average cycle"), "days"),
        Column("median_cycle_days", _("Median cycle"), "days"),
        Column("won_amount", _("Won amount"), "money"),
    ]
    industry_rows = sorted(
        (
            line(
                f"{r['section']} {names.get(r['section'], '')}"
                if r["section"]
                else str(_("No industry")),
                r,
            )
            for r in sections
        ),
        key=lambda row: (-row["won_deals"], row["group"]),
    )
    size_order = {code: i for i, (code, _label) in enumerate(EmployeesBand.choices)}
    size_rows = [
        line(str(band_labels.get(r["customer__employees_band"]) or _("Size unknown")), r)
        for r in sorted(sizes, key=lambda r: size_order.get(r["customer__employees_band"], 99))
    ]
    distribution = [
        {
            "bucket": label,
            "won_deals": totals[f"b{i}"],
            "share_pct": share(totals[f"b{i}"], totals["n"]),
        }
        for i, (_upper, label) in enumerate(CYCLE_BUCKETS)
    ]
    empty = not totals["n"]
    note = _("Amounts only of the deals whose amount you see.") if masked else ""
    return Report(
        key="deal-cycle",
        title=_("Deal cycle"),
        filters=filters,
        summary=[
            ("won_deals", _("Won deals"), totals["n"], "int"),
            ("avg_cycle_days", _("Average cycle"), _days(totals["avg"]), "days"),
            ("median_cycle_days", _("Median cycle"), _days(totals["median"]), "days"),
            ("won_amount", _("Won amount"), totals["won_sum"] or 0, "money"),
        ],
        tables=[
            Table(
                "distribution",
                _("Distribution of the cycle (days)"),
                [
                    Column("bucket", _("Days")),
                    Column("won_deals", _("Won deals"), "int"),
                    Column("share_pct", _("Share"), "pct"),
                ],
                [] if empty else distribution,
                _("From the first contact with the customer (or the deal's creation) to the win."),
            ),
            Table("by_industry", _("By industry"), group_columns, industry_rows, note),
            Table("by_size", _("By size"), group_columns, size_rows, note),
        ],
        charts=[
            Chart(
                "distribution",
                _("Cycle distribution"),
                [] if empty else [label for _upper, label in CYCLE_BUCKETS],
                []
                if empty
                else [
                    {
                        "name": str(_("Won deals")),
                        "type": "bar",
                        "data": [row["won_deals"] for row in distribution],
                    }
                ],
            ),
            Chart(
                "by_industry",
                _("Average cycle by industry (days)"),
                [row["group"] for row in industry_rows],
                []
                if empty
                else [
                    {
                        "name": str(_("Average cycle")),
                        "type": "bar",
                        "data": [row["avg_cycle_days"] for row in industry_rows],
                    }
                ],
            ),
        ],
        amounts_masked=masked,
    )


# --- follow-up effectiveness ------------------------------------------------------------------


def cadence_labels() -> list[str]:
    bounds = list(CADENCE_BOUNDS)
    labels = [str(_("under %(n)s per 30 days") % {"n": bounds[1]})]
    for low, high in pairwise(bounds[1:]):
        labels.append(str(_("%(low)s–%(high)s per 30 days") % {"low": low, "high": high}))
    labels.append(str(_("%(n)s or more per 30 days") % {"n": bounds[-1]}))
    return labels


def followup_effectiveness(user: Any, filters: ReportFilters) -> Report:
    """Deals closed (won or lost) in the period: win rate and average cycle by how often the
    customer was followed up while the deal was open (per 30 days) and by the method used
    most. Read from the per-deal summary (``DealFollowUpStats``), grouped in the database.

    Queries: per cadence, per method (with the grants for the scope): at most 4.
    """
    stats = DealFollowUpStats.objects.filter(
        deal_scope(user, filters, "opportunity__"), filters.between("closed_at")
    ).order_by()
    figures = {
        "n": Count("pk"),
        "won_n": Count("pk", filter=Q(won=True)),
        "cycle": Avg("open_days", filter=Q(won=True)),
        "followups": Avg("followups"),
    }
    by_cadence = {row["cadence"]: row for row in stats.values("cadence").annotate(**figures)}
    by_method = {row["method"]: row for row in stats.values("method").annotate(**figures)}

    def line(label: str, row: Any) -> dict[str, Any]:
        return {
            "group": label,
            "closed_deals": row["n"],
            "won": row["won_n"],
            "win_rate_pct": share(row["won_n"], row["n"]),
            "avg_cycle_days": _days(row["cycle"]),
            "avg_followups": _days(row["followups"]),
        }

    cadence_rows = [
        line(label, by_cadence[i]) for i, label in enumerate(cadence_labels()) if i in by_cadence
    ]
    method_labels = {**dict(Method.choices), "": _("No follow-up")}
    method_rows = sorted(
        (line(str(method_labels.get(m, m)), row) for m, row in by_method.items()),
        key=lambda row: (-row["closed_deals"], row["group"]),
    )
    closed = sum(row["closed_deals"] for row in cadence_rows)

    def best(rows: list[dict[str, Any]]) -> str:
        # the best win rate among groups of at least 5 deals (or any, when none has 5)
        ranked = [r for r in rows if r["closed_deals"] >= 5] or rows
        top = max(ranked, key=lambda r: (r["win_rate_pct"] or 0, r["closed_deals"]), default=None)
        return str(top["group"]) if top else ""

    columns = [
        Column("group", _("Group")),
        Column("closed_deals", _("Closed deals"), "int"),
        Column("won", _("Won"), "int"),
        Column("win_rate_pct", _("Win rate"), "pct"),
        Column("avg_cycle_days", _("Average cycle of the won"), "days"),
        Column("avg_followups", _("Average follow-ups"), "decimal"),
    ]

    def chart(key: str, title: Any, rows: list[dict[str, Any]]) -> Chart:
        return Chart(
            key,
            title,
            [row["group"] for row in rows],
            []
            if not rows
            else [
                {
                    "name": str(_("Closed deals")),
                    "type": "bar",
                    "data": [r["closed_deals"] for r in rows],
                },
                {
                    "name": str(_("Win rate (%)")),
                    "type": "line",
                    "axis": 1,
                    "data": [r["win_rate_pct"] for r in rows],
                },
            ],
        )

    return Report(
        key="followup-effectiveness",
        title=_("Follow-up effectiveness"),
        filters=filters,
        summary=[
            ("closed_deals", _("Closed deals"), closed, "int"),
            ("best_cadence", _("Best cadence"), best(cadence_rows), "text"),
            ("best_method", _("Best method"), best(method_rows), "text"),
        ],
        tables=[
            Table(
                "by_cadence",
                _("By follow-up frequency"),
                columns,
                cadence_rows,
                _(
                    "Deals won or lost in the period; follow-ups on the customer between the "
                    "deal's creation and its close, per 30 days open."
                ),
            ),
            Table("by_method", _("By the method used most"), columns, method_rows),
        ],
        charts=[
            chart("by_cadence", _("Win rate by follow-up frequency"), cadence_rows),
            chart("by_method", _("Win rate by method"), method_rows),
        ],
    )


register(
    ReportSpec(
        key="stage-conversion",
        title=_("Stage conversion"),
        description=_("Lead → stage → won conversion over the stage history."),
        build=stage_conversion,
        roles=PIPELINE_ROLES,
        order=20,
    )
)
register(
    ReportSpec(
        key="deal-cycle",
        title=_("Deal cycle"),
        description=_(
            "Days from first contact to won: average, distribution, by industry and size."
        ),
        build=deal_cycle,
        roles=PIPELINE_ROLES,
        order=21,
    )
)
register(
    ReportSpec(
        key="followup-effectiveness",
        title=_("Follow-up effectiveness"),
        description=_("Win rate and cycle by follow-up frequency and method."),
        build=followup_effectiveness,
        roles=PIPELINE_ROLES,
        order=22,
    )
)
