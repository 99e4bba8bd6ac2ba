"""The quarterly review (季度复盘): one department's quarter beside the quarter before it.

The review composes the registered reports by key (``registry.report_spec(user, key)``) and
reads their summary figures for both quarters; a report that is not registered (or not open to
the viewer's role) is left out, not an error. Two parts are read here directly: the
satisfaction of the department's customers (service surveys, one query for both quarters) and
the deals stalled today (``opportunities.selectors.stalled_list``). The page, the API, the XLSX
pack and the PDF pack all render ``QuarterlyReview.overview()`` and the composed reports, so
they say the same numbers.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

from django.db.models import Avg, Count
from django.utils import timezone
from django.utils.functional import Promise
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from kehu.analytics import registry
from kehu.analytics.reporting import (
    FIRST_DAY,
    LAST_DAY,
    Chart,
    Column,
    ColumnKind,
    Report,
    ReportFilters,
    Table,
    parse_filters,
    quarter_of,
)
from kehu.core.access import is_admin
from kehu.core.errors import Forbidden, InvalidInput, NotFound
from kehu.core.numbers import whole_number

REVIEW_ROLES = frozenset({"admin", "manager", "sales"})
STALLED_ROWS = 20  # the longest-stalled deals listed; the count covers all of them

_QUARTER = re.compile(r"^\s*([0-9]{4})\s*-?\s*Q([1-4])\s*$", re.IGNORECASE)


@dataclass(frozen=True)
class Quarter:
    year: int
    number: int  # 1..4

    @classmethod
    def of(cls, day: date) -> Quarter:
        return cls(day.year, (day.month - 1) // 3 + 1)

    @property
    def start(self) -> date:
        return date(self.year, 3 * self.number - 2, 1)

    @property
    def end(self) -> date:
        return quarter_of(self.start)[1]

    def previous(self) -> Quarter:
        return Quarter.of(self.start - timedelta(days=1))

    def next(self) -> Quarter:
        return Quarter.of(self.end + timedelta(days=1))

    def __str__(self) -> str:
        return f"{self.year}Q{self.number}"


def parse_quarter(raw: str | None) -> Quarter:
    """``2026Q4`` (or ``2026-Q4``); blank is the current quarter; anything else 422."""
    if raw is None or not raw.strip():
        return Quarter.of(timezone.localdate())
    match = _QUARTER.match(raw)
    if match is None:
        raise InvalidInput(errors={"quarter": [str(_("Enter a quarter such as 2026Q4."))]})
    quarter = Quarter(int(match.group(1)), int(match.group(2)))
    if quarter.previous().start < FIRST_DAY or quarter.end > LAST_DAY:
        raise InvalidInput(errors={"quarter": [str(_("Enter a quarter between 1900 and 2999."))]})
    return quarter


def review_department(user: Any, raw: str | None) -> int | None:
    """The department a review page asks for: blank is the viewer's own department (an
    admin's: everything); not a whole number 422; an id beyond any record 404. Whether the
    viewer answers for it, ``quarterly_review`` checks (404 outside the scope)."""
    if raw is None or not raw.strip():
        return None if is_admin(user) else getattr(user, "department_id", None)
    text = raw.strip()
    if not text.isascii() or not text.isdigit():
        raise InvalidInput(errors={"department": [str(_("Enter a whole number."))]})
    number = whole_number(text)
    if number is None:
        raise NotFound("department")
    return number


# (section, title, report key, the summary keys of that report the review compares)
SECTIONS: tuple[tuple[str, Promise, str, tuple[str, ...]], ...] = (
    (
        "activity",
        _("Activity"),
        "rep-performance",
        (
            "followups",
            "visits",
            "new_customers",
            "leads_converted",
            "won_deals",
            "won_amount",
            "avg_lead_response_hours",
        ),
    ),
    (
        "conversion",
        _("Conversion"),
        "stage-conversion",
        (
            "leads",
            "leads_converted",
            "lead_conversion_pct",
            "opportunities",
            "won",
            "win_rate_pct",
        ),
    ),
    ("cycle", _("Deal cycle"), "deal-cycle", ("won_deals", "avg_cycle_days", "median_cycle_days")),
    (
        "renewal",
        _("Renewal intent"),
        "churn-risk",
        ("renewal_likely", "renewal_undecided", "renewal_unlikely", "at_risk"),
    ),
    ("value", _("High-value customers"), "high-value", ("high_value", "won_amount_year")),
    ("targets", _("Targets vs actual"), "targets", ("targets", "met", "attainment_pct")),
)

# The lists of the current quarter the review shows in full: (report key, table key).
LISTS: tuple[tuple[str, str], ...] = (
    ("targets", ""),  # every table of the targets report
    ("high-value", "customers"),
    ("churn-risk", "customers"),
)

# The measures of the comparison chart (counts of one scale).
CHART_MEASURES = ("followups", "visits", "new_customers", "leads_converted", "won_deals")


@dataclass
class Comparison:
    section: str
    section_title: str | Promise
    key: str
    label: str | Promise
    kind: ColumnKind
    current: Any
    previous: Any

    @property
    def change(self) -> Any:
        """This quarter minus the previous one; None when either is missing or not a number."""
        numbers = (int, float, Decimal)
        current, previous = self.current, self.previous
        if not isinstance(current, numbers) or not isinstance(previous, numbers):
            return None
        if isinstance(current, bool) or isinstance(previous, bool):
            return None
        if isinstance(current, Decimal) != isinstance(previous, Decimal):
            current, previous = float(current), float(previous)
        difference = current - previous
        return round(difference, 2) if isinstance(difference, float) else difference


@dataclass
class QuarterlyReview:
    quarter: Quarter
    department_id: int | None
    department_name: str
    filters: ReportFilters
    previous_filters: ReportFilters
    rows: list[Comparison] = field(default_factory=list)
    reports: list[Report] = field(default_factory=list)  # the composed reports, this quarter
    lists: list[Table] = field(default_factory=list)
    stalled: Table | None = None
    left_out: list[str] = field(default_factory=list)  # report keys not registered or allowed
    amounts_masked: bool = False

    @property
    def title(self) -> str:
        return str(
            _("Quarterly review %(quarter)s: %(department)s")
            % {"quarter": self.quarter, "department": self.department_name}
        )

    def comparison_table(self) -> Table:
        return Table(
            key="comparison",
            title=_("This quarter and the previous one"),
            columns=[
                Column("section", _("Section")),
                Column("measure", _("Measure")),
                Column(
                    "current",
                    _("This quarter (%(quarter)s)") % {"quarter": self.quarter},
                    "decimal",
                ),
                Column(
                    "previous",
                    _("Previous quarter (%(quarter)s)") % {"quarter": self.quarter.previous()},
                    "decimal",
                ),
                Column("change", pgettext_lazy("quarterly review", "Change"), "decimal"),
            ],
            rows=[
                {
                    "section": row.section_title,
                    "measure": row.label,
                    "current": row.current,
                    "previous": row.previous,
                    "change": row.change,
                    "kind": row.kind,
                    "key": f"{row.section}.{row.key}",
                }
                for row in self.rows
            ],
        )

    def chart(self) -> Chart:
        rows = {row.key: row for row in self.rows if row.key in CHART_MEASURES}
        shown = [rows[key] for key in CHART_MEASURES if key in rows]
        return Chart(
            key="comparison",
            title=_("This quarter and the previous one"),
            categories=[str(row.label) for row in shown],
            series=[
                {
                    "name": str(self.quarter.previous()),
                    "type": "bar",
                    "data": [row.previous for row in shown],
                },
                {"name": str(self.quarter), "type": "bar", "data": [row.current for row in shown]},
            ],
        )

    def overview(self) -> Report:
        """The review as one report: the comparison, the stalled deals and the lists."""
        tables = [self.comparison_table()]
        if self.stalled is not None:
            tables.append(self.stalled)
        tables.extend(self.lists)
        return Report(
            key="quarterly-review",
            title=self.title,
            filters=self.filters,
            tables=tables,
            charts=[self.chart()],
            amounts_masked=self.amounts_masked,
        )

    def as_dict(self) -> dict[str, Any]:
        data = self.overview().as_dict()
        data["quarter"] = str(self.quarter)
        data["previous_quarter"] = str(self.quarter.previous())
        data["department"] = {"id": self.department_id, "name": self.department_name}
        data["previous_filters"] = self.previous_filters.as_params()
        data["left_out"] = self.left_out
        return data

    def pack(self) -> list[Report]:
        """The reports of the XLSX pack: the overview, then each composed report."""
        return [self.overview(), *self.reports]


def review_may_open(user: Any) -> bool:
    return bool(user.is_superuser or getattr(user, "role", "") in REVIEW_ROLES)


def quarterly_review(
    *, user: Any, department_id: int | None, quarter: Quarter, params: dict[str, str] | None = None
) -> QuarterlyReview:
    """The review of ``department_id`` (None: everything in the viewer's scope) in ``quarter``.

    403 for a role without reviews (service, marketing); 404 for a department outside the
    viewer's scope (``parse_filters``). ``params`` may narrow it further (industry, region).
    """
    if not review_may_open(user):
        raise Forbidden(_("Your role has no quarterly reviews."))
    query = dict(params or {})
    query.update({"from": quarter.start.isoformat(), "to": quarter.end.isoformat()})
    query["department"] = str(department_id) if department_id is not None else ""
    filters = parse_filters(user=user, params=query)
    previous = filters.previous()  # a whole quarter: the quarter before it
    review = QuarterlyReview(
        quarter=quarter,
        department_id=department_id,
        department_name=_department_name(department_id),
        filters=filters,
        previous_filters=previous,
    )
    built: dict[str, tuple[Report, Report]] = {}
    for section, title, key, measures in SECTIONS:
        pair = built.get(key) or _build_pair(user, key, filters, previous)
        if pair is None:
            review.left_out.append(key)
            continue
        built[key] = pair
        review.rows.extend(_compare(section, title, measures, *pair))
    review.rows.extend(_satisfaction(user, filters, previous))
    review.reports = [current for current, _previous in built.values()]
    review.amounts_masked = any(report.amounts_masked for report in review.reports)
    for key, table_key in LISTS:
        if key in built:
            review.lists.extend(
                table for table in built[key][0].tables if not table_key or table.key == table_key
            )
    review.stalled, stalled_count = _stalled(user, filters)
    review.rows.append(
        Comparison(
            "stalled",
            _("Stalled deals"),
            "stalled",
            _("Stalled deals today"),
            "int",
            stalled_count,
            None,
        )
    )
    return review


def _department_name(department_id: int | None) -> str:
    if department_id is None:
        return str(_("All departments in your scope"))
    from kehu.accounts.models import Department

    name = Department.objects.filter(pk=department_id).values_list("name", flat=True).first()
    if name is None:
        raise NotFound("department")
    return name


def _build_pair(
    user: Any, key: str, filters: ReportFilters, previous: ReportFilters
) -> tuple[Report, Report] | None:
    try:
        spec = registry.report_spec(user, key)
    except NotFound:
        return None
    return spec.build(user, filters), spec.build(user, previous)


def _compare(
    section: str,
    title: str | Promise,
    measures: tuple[str, ...],
    current: Report,
    previous: Report,
) -> list[Comparison]:
    now = {key: (label, value, kind) for key, label, value, kind in current.summary}
    before = {key: value for key, _label, value, _kind in previous.summary}
    return [
        Comparison(section, title, key, now[key][0], now[key][2], now[key][1], before.get(key))
        for key in measures
        if key in now
    ]


def _satisfaction(user: Any, filters: ReportFilters, previous: ReportFilters) -> list[Comparison]:
    """Answered surveys and their average score (1–5) of the scope's customers, both quarters
    in one query."""
    from kehu.service.selectors.reports import scoped_surveys

    now, before = filters.between("answered_at"), previous.between("answered_at")
    figures = (
        scoped_surveys(user)
        .filter(
            answered_at__gte=previous.start_at, answered_at__lt=filters.end_at, score__isnull=False
        )
        .filter(filters.scope_q("customer__owner", "customer__department"))
        .filter(filters.customer_q("customer__"))
        .aggregate(
            answers=Count("id", filter=now),
            average=Avg("score", filter=now),
            answers_before=Count("id", filter=before),
            average_before=Avg("score", filter=before),
        )
    )

    def rounded(value: Any) -> float | None:
        return round(float(value), 2) if value is not None else None

    title = _("Satisfaction")
    return [
        Comparison(
            "satisfaction",
            title,
            "survey_answers",
            _("Survey answers"),
            "int",
            figures["answers"],
            figures["answers_before"],
        ),
        Comparison(
            "satisfaction",
            title,
            "satisfaction_avg",
            _("Average satisfaction (1–5)"),
            "decimal",
            rounded(figures["average"]),
            rounded(figures["average_before"]),
        ),
    ]


def _stalled(user: Any, filters: ReportFilters) -> tuple[Table, int]:
    """The deals stalled today in the scope, the longest first, and how many there are."""
    from kehu.opportunities.selectors import ListStages, stalled_list

    stages = ListStages.read()
    deals = stalled_list(user=user, stages=stages).filter(
        filters.scope_q("owner", "department"), filters.customer_q("customer__")
    )
    count = deals.count()
    today = timezone.now()
    rows = []
    for deal in deals[:STALLED_ROWS]:
        stages.attach(deal)
        rows.append(
            {
                "deal": deal.name,
                "customer": deal.customer.name,
                "owner": str(deal.owner) if deal.owner_id else "",
                "stage": deal.stage.label,
                "days": (today - deal.stage_entered_at).days,
                "amount": deal.amount if getattr(deal, "amount_visible", False) else None,
            }
        )
    table = Table(
        key="stalled",
        title=_("Stalled deals"),
        columns=[
            Column("deal", _("Deal")),
            Column("customer", _("Customer")),
            Column("owner", _("Owner")),
            Column("stage", _("Stage")),
            Column("days", _("Days in stage"), "int"),
            Column("amount", _("Amount"), "money"),
        ],
        rows=rows,
        note=_("Deals stalled today (a state, not a quarter's figure); the %(n)s longest shown.")
        % {"n": STALLED_ROWS},
    )
    return table, count
