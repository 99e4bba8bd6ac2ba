"""Pipeline reports: stage conversion over the stage history, the deal cycle, and follow-up
effectiveness ("which cadence converts best").

Each reads through the one access gate (the deals ``Opportunity.objects`` shows the viewer,
``deal_scope``), narrowed by the report filters, aggregates in the database and runs a fixed
number of queries whatever the rows.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass, field
from decimal import Decimal
from itertools import pairwise
from typing import Any

from django.db.models import Count, DecimalField, Q, Sum, Value
from django.db.models.functions import Floor, Substr
from django.utils.translation import gettext_lazy as _

from kehu.analytics.models import DealFollowUpStats, DealStageEntry
from kehu.analytics.registry import ReportSpec, register
from kehu.analytics.reporting import Chart, Column, Report, ReportFilters, Table, share
from kehu.analytics.selectors.pipeline import (
    CADENCE_BOUNDS,
    deal_parts,
    segment_q,
    stage_ids,
    summary_parts,
)
from kehu.customers.models import EmployeesBand, Industry
from kehu.followups.models import Method
from kehu.leads.models import Lead, LeadStatus
from kehu.opportunities.models import Opportunity, StageKind
from kehu.opportunities.selectors import stage_list

PIPELINE_ROLES = frozenset({"admin", "manager", "sales"})


def _days(value: Any) -> float | None:
    return round(float(value), 1) if value is not None else None


# --- stage conversion ---------------------------------------------------------------------


def stage_conversion(user: Any, filters: ReportFilters) -> Report:
    """Of the deals that first entered each stage in the period (their stage history), how
    many went further (reached a later stage at any time since) and how many are won; the
    lead step before it: leads created in the period and how many were converted.

    The entries are read from ``DealStageEntry`` (one row per deal and stage, the deal's
    columns copied: a plain count on one table); the deals created from the deals' owner and
    department indexes. Queries: the stages, the leads, one or two per part of the view
    (up to 3 parts), the grants.
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
    created = {"n": 0, "won": 0}
    by_stage: dict[int, dict[str, Any]] = {}
    for part, _seen in deal_parts(user, filters):
        figures = (
            Opportunity.objects.filter(part, filters.between("created_at"))
            .order_by()
            .aggregate(n=Count("pk"), won=Count("pk", filter=Q(stage_id__in=won_ids)))
        )
        created["n"] += figures["n"]
        created["won"] += figures["won"]
    for part, _seen in summary_parts(user, filters):
        entries = (
            DealStageEntry.objects.filter(
                part, filters.between("entered_at"), stage_id__in=[step.pk for step in steps]
            )
            .order_by()
            .values("stage_id")
            .annotate(
                # counted on the stage (never null), a column of the covering index, so the
                # whole count is read from the index (the primary key is not in it)
                entered=Count("stage_id"),
                advanced=Count("stage_id", filter=Q(advanced=True)),
                won=Count("stage_id", filter=Q(won=True)),
                stay_sum=Sum("stay_days"),
                stay_n=Count("stay_days"),
            )
        )
        for found in entries:
            total = by_stage.setdefault(
                found["stage_id"],
                {"entered": 0, "advanced": 0, "won": 0, "stay_sum": 0.0, "stay_n": 0},
            )
            for name in ("entered", "advanced", "won", "stay_sum", "stay_n"):
                total[name] += found[name] or 0
    for total in by_stage.values():
        total["stay"] = total["stay_sum"] / total["stay_n"] if total["stay_n"] else None

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
            "From the stage history: deals that first entered a stage in the period, whether "
            "they later reached a further stage, whether they are won now. Leads: created in "
            "the period, converted since. Deals that skipped a stage are not counted in it."
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


@dataclass
class _Cycles:
    """Won deals of a group: their count, summed cycle, won amount and whole days of cycle
    (a histogram: the median and the distribution are read from it)."""

    n: int = 0
    cycle_sum: float = 0.0
    won_sum: Decimal = Decimal(0)
    days: Counter[int] = field(default_factory=Counter)

    def add(self, row: Any) -> None:
        self.n += row["n"]
        self.cycle_sum += row["cycle_sum"] or 0.0
        self.won_sum += row["won_sum"] or Decimal(0)
        self.days[int(row["day"])] += row["n"]

    @property
    def avg(self) -> float | None:
        return self.cycle_sum / self.n if self.n else None

    @property
    def median(self) -> float | None:
        """The median of the whole days (the mean of the middle two for an even count)."""
        if not self.n:
            return None
        ordered = sorted(self.days)
        return (self._nth(ordered, (self.n - 1) // 2) + self._nth(ordered, self.n // 2)) / 2

    def _nth(self, ordered: list[int], index: int) -> int:
        """The ``index``-th (from 0) whole day of the sorted cycles."""
        seen = 0
        for day in ordered:
            seen += self.days[day]
            if seen > index:
                return day
        return ordered[-1]

    def bucket_counts(self) -> list[int]:
        counts, lower = [], -1
        for upper, _label in CYCLE_BUCKETS:
            top = upper if upper is not None else 10**9
            counts.append(sum(n for day, n in self.days.items() if lower < day <= top))
            lower = top
        return counts


def deal_cycle(user: Any, filters: ReportFilters) -> Report:
    """Deals won in the period: days from the first contact with the customer (or the deal's
    creation, when later or unknown) to the win; the distribution, by industry (section) and
    by size (employees). Won amounts only over the deals whose amount the viewer sees.

    Read from the closed-deal summary (``DealFollowUpStats``, which copies the customer's
    first contact, industry and size: no join), one scan per part of the view grouped by
    industry section, size and whole days of cycle; totals, medians and buckets are read
    from those rows. Queries: one per part (up to 3), the sections' names, the grants.
    """
    total = _Cycles()
    sections: dict[str, _Cycles] = defaultdict(_Cycles)
    sizes: dict[str, _Cycles] = defaultdict(_Cycles)
    masked = False
    for part, seen in summary_parts(user, filters):
        cycles = (
            DealFollowUpStats.objects.filter(part, filters.between("closed_at"), won=True)
            .order_by()
            .annotate(day=Floor("cycle_days"), section=Substr("industry_id", 1, 1))
            .values("section", "employees_band", "day")
        )
        if seen:
            rows = cycles.annotate(
                n=Count("pk"), cycle_sum=Sum("cycle_days"), won_sum=Sum("amount")
            )
        else:  # seen through a share: counted, its amount left out
            rows = cycles.annotate(
                n=Count("pk"),
                cycle_sum=Sum("cycle_days"),
                hidden=Count("amount"),
                won_sum=Value(None, output_field=DecimalField()),
            )
        for row in rows:
            total.add(row)
            sections[row["section"] or ""].add(row)
            sizes[row["employees_band"] or ""].add(row)
            masked = masked or bool(row.get("hidden"))
    # the sections (门类, about twenty): always read, so the count of queries is fixed
    names = dict(Industry.objects.filter(parent__isnull=True).values_list("code", "name"))
    band_labels = dict(EmployeesBand.choices)

    def line(label: str, group: _Cycles) -> dict[str, Any]:
        return {
            "group": label,
            "won_deals": group.n,
            "avg_cycle_days": _days(group.avg),
            "median_cycle_days": _days(group.median),
            "won_amount": group.won_sum,
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
            line(f"{code} {names.get(code, '')}" if code else str(_("No industry")), group)
            for code, group in sections.items()
        ),
        key=lambda row: (-row["won_deals"], row["group"]),
    )
    size_order = {code: i for i, (code, _label) in enumerate(EmployeesBand.choices)}
    size_rows = [
        line(str(band_labels.get(band) or _("Size unknown")), sizes[band])
        for band in sorted(sizes, key=lambda band: size_order.get(band, 99))
    ]
    distribution = [
        {"bucket": label, "won_deals": count, "share_pct": share(count, total.n)}
        for (_upper, label), count in zip(CYCLE_BUCKETS, total.bucket_counts(), strict=True)
    ]
    empty = not total.n
    note = _("Amounts only of the deals whose amount you see.") if masked else ""
    return Report(
        key="deal-cycle",
        title=_("Deal cycle"),
        filters=filters,
        summary=[
            ("won_deals", _("Won deals"), total.n, "int"),
            ("avg_cycle_days", _("Average cycle"), _days(total.avg), "days"),
            ("median_cycle_days", _("Median cycle"), _days(total.median), "days"),
            ("won_amount", _("Won amount"), total.won_sum, "money"),
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
                _(
                    "Whole days from the first contact with the customer (or the deal's "
                    "creation) to the win."
                ),
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


def _closed_group() -> dict[str, Any]:
    return {"n": 0, "won_n": 0, "won_days": 0.0, "followups": 0}


def followup_effectiveness(user: Any, filters: ReportFilters) -> Report:
    """Deals closed (won or lost) in the period: win rate and average cycle by how often the
    customer was followed up while the deal was open (per 30 days) and by the method used
    most. Read from the per-deal summary (``DealFollowUpStats``), grouped in the database.

    One query per part of the view (up to 3), grouped by cadence, method and outcome.
    """
    by_cadence: dict[int, dict[str, Any]] = defaultdict(_closed_group)
    by_method: dict[str, dict[str, Any]] = defaultdict(_closed_group)
    for part, _seen in summary_parts(user, filters):
        rows = (
            DealFollowUpStats.objects.filter(part, filters.between("closed_at"))
            .order_by()
            .values("cadence", "method", "won")
            .annotate(n=Count("pk"), days=Sum("open_days"), followups=Sum("followups"))
        )
        for row in rows:
            for group in (by_cadence[row["cadence"]], by_method[row["method"]]):
                group["n"] += row["n"]
                group["followups"] += row["followups"] or 0
                if row["won"]:
                    group["won_n"] += row["n"]
                    group["won_days"] += row["days"] or 0.0

    def line(label: str, group: dict[str, Any]) -> dict[str, Any]:
        won = group["won_n"]
        return {
            "group": label,
            "closed_deals": group["n"],
            "won": won,
            "win_rate_pct": share(won, group["n"]),
            "avg_cycle_days": _days(group["won_days"] / won) if won else None,
            "avg_followups": _days(group["followups"] / group["n"]) if group["n"] else None,
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
