"""Rep activity and performance (销售活动与业绩) and data quality (数据质量).

Both reports aggregate in the database, a fixed number of grouped queries whatever the number
of rows, and read only through the access gate:

- ``rep-performance``: per rep in scope, the follow-ups they wrote and the visits among them
  (occurred in the period), the customers they own created in the period, the leads assigned
  to them in the period with how many were converted and the average hours from assignment to
  first contact (handbook KPI: 2 hours), and the deals they won (closed won in the period)
  with the won amount summed only over the deals whose amount the viewer sees. The counts come
  from the daily summary ``ActivityDay`` (``analytics/summary.py``) for the viewer's own and
  managed rows up to its mark, plus the granted rows (shares, pools) and the records after the
  mark counted directly; with an industry or region filter, everything is counted directly.
  At size L: 4–64 ms p95 plus ~6 ms (a quarter) to ~27 ms (a year) reading the summary.
- ``data-quality``: the customers created in the period, per department and owner: average
  completeness and the share at or above the handbook's 90 %, unverified (never verified, or
  fields still marked 待核实), stale (contact information not updated for more than 30 days,
  the customers app's setting) and suspected duplicates (another visible customer with the
  same normalised name, looked up for the newest ``DUPLICATE_SAMPLE`` customers of the
  period). 2 queries plus the names.

The filters: the rep is the follow-up's author, the customer's, lead's (assignee) or deal's
owner; the department is the record's department (the customer's for follow-ups); industry
and region are the customer's (the lead's own for leads).
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import replace
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from django.contrib.auth import get_user_model
from django.db.models import (
    Avg,
    Count,
    DurationField,
    Exists,
    ExpressionWrapper,
    F,
    OuterRef,
    Q,
    Sum,
)
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from kehu.accounts.models import Department
from kehu.analytics import summary
from kehu.analytics.models import ActivityDay
from kehu.analytics.registry import ReportSpec, register
from kehu.analytics.reporting import Chart, Column, Report, ReportFilters, Table, share
from kehu.analytics.reports.caching import cached_report
from kehu.core import config
from kehu.core.access import policy_of
from kehu.customers.models import Customer
from kehu.followups.access import conversation_withheld
from kehu.followups.models import FollowUp, Method
from kehu.leads.models import Lead, LeadStatus
from kehu.opportunities.models import Opportunity, StageKind
from kehu.service.selectors.reports import prefixed

LEAD_RESPONSE_KPI_HOURS = 2  # handbook: first contact within 2 hours of assignment
COMPLETENESS_TARGET = 90  # handbook: 90 % of the fields filled
STALE_DAYS = 30  # handbook: contact information older than 30 days is stale
DUPLICATE_SAMPLE = 500  # customers of the period checked for a namesake
QUALITY_CACHE_SECONDS = 300

ZERO = Decimal(0)


def _names(ids: set[int]) -> dict[int | None, str]:
    users = (
        get_user_model().objects.filter(pk__in=ids).values_list("pk", "display_name", "username")
    )
    names: dict[int | None, str] = {pk: display or username for pk, display, username in users}
    names[None] = str(_("(nobody)"))
    return names


def _hours(value: Any) -> float | None:
    """An average duration (a timedelta, or microseconds on SQLite) in hours."""
    if value is None:
        return None
    if isinstance(value, timedelta):
        return round(value.total_seconds() / 3600, 1)
    return round(float(value) / 3_600_000_000, 1)


# --- Rep activity and performance ----------------------------------------------------------


def _count_activity(
    user: Any, filters: ReportFilters, rows: dict[int | None, dict[str, Any]], *, use_summary: bool
) -> int:
    """Follow-ups, visits, new customers, won deals and amounts per rep into ``rows``; the
    number of won deals whose amount the viewer may not see.

    From the summary (``ActivityDay``) for the days it holds and the rows the viewer fully
    sees (their own, their managed departments'), plus the rows granted beyond them (shares,
    pools) and the days after the summary's mark counted directly. An industry or region
    filter, which the summary does not hold, counts everything directly.
    """
    customers = Customer.objects.visible_to(user)
    followups = FollowUp.objects.visible_to(user)
    deals = Opportunity.objects.visible_to(user)
    held_until = (
        summary.mark() if use_summary and not (filters.industry or filters.region) else None
    )
    if held_until is None or held_until <= filters.start_at:
        return _count_direct(user, filters, rows, customers, followups, deals, filters.end_at)
    held_until = min(held_until, filters.end_at)
    # the summary's days: to the end, or to the mark's day (its row holds it up to the mark)
    held_last = timezone.localdate(held_until - timedelta(microseconds=1))
    _add_summary(user, replace(filters, end=min(filters.end, held_last)), rows)
    masked = 0
    granted_q = policy_of(Customer).granted_part(user)
    if granted_q is not None:
        masked += _count_direct(
            user,
            filters,
            rows,
            Customer.objects.filter(granted_q),
            FollowUp.objects.filter(prefixed(granted_q, "customer__")),
            Opportunity.objects.granted_part(user) or Opportunity.objects.none(),
            held_until,
        )
    if held_until >= filters.end_at:
        return masked
    # The records after the mark are a few minutes' worth: read them along the time indexes,
    # the follow-ups' customers joined (not EXISTS over every visible customer) and the won
    # deals by the time they entered the won stage (no index on closed_at; a deal won after
    # the mark entered its won stage after it).
    if not conversation_withheld(user):
        view = policy_of(Customer).view_filter(user)
        followups = FollowUp.objects.filter(prefixed(view, "customer__"))
    deals = deals.filter(stage_entered_at__gte=held_until)
    return masked + _count_direct(
        user, filters, rows, customers, followups, deals, filters.end_at, start_at=held_until
    )


def _add_summary(user: Any, filters: ReportFilters, rows: dict[int | None, dict[str, Any]]) -> None:
    scope = policy_of(Customer).full_access_filter(user)
    days = ActivityDay.objects.filter(day__gte=filters.start, day__lte=filters.end)
    if scope is not None:
        days = days.filter(scope)
    found = (
        days.filter(filters.scope_q("rep"))
        .values("rep_id")
        .annotate(
            f=Sum("followups"),
            v=Sum("visits"),
            c=Sum("new_customers"),
            w=Sum("won_deals"),
            a=Sum("won_amount"),
        )
        .order_by()
    )
    for found_row in found:
        line = rows[found_row["rep_id"]]
        line["followups"] += found_row["f"] or 0
        line["visits"] += found_row["v"] or 0
        line["new_customers"] += found_row["c"] or 0
        line["won_deals"] += found_row["w"] or 0
        line["won_amount"] += found_row["a"] or ZERO


def _count_direct(
    user: Any,
    filters: ReportFilters,
    rows: dict[int | None, dict[str, Any]],
    customers: Any,
    followups: Any,
    deals: Any,
    end_at: datetime,
    *,
    start_at: datetime | None = None,
) -> int:
    """Count the records of the querysets from ``start_at`` (default the period's start) to
    ``end_at`` into ``rows``: 3 queries."""
    start_at = start_at or filters.start_at
    found_followups = (
        followups.filter(occurred_at__gte=start_at, occurred_at__lt=end_at)
        .filter(filters.scope_q("author", "customer__department"), filters.customer_q())
        .values("author_id")
        .annotate(n=Count("pk"), visits=Count("pk", filter=Q(method=Method.VISIT)))
        .order_by()
    )
    found_customers = (
        customers.filter(created_at__gte=start_at, created_at__lt=end_at)
        .filter(filters.scope_q(), filters.customer_q(""))
        .values("owner_id")
        .annotate(n=Count("pk"))
        .order_by()
    )
    visible_amount = policy_of(Opportunity).full_access_filter(user)
    shown = Q(amount__isnull=False) if visible_amount is None else visible_amount
    hidden = Q(pk__in=[]) if visible_amount is None else ~visible_amount & Q(amount__isnull=False)
    found_deals = (
        deals.filter(stage__kind=StageKind.WON, closed_at__gte=start_at)
        .filter(closed_at__lt=end_at)
        .filter(filters.scope_q(), filters.customer_q())
        .values("owner_id")
        .annotate(
            n=Count("pk"), won_sum=Sum("amount", filter=shown), hidden=Count("pk", filter=hidden)
        )
        .order_by()
    )
    for f_row in found_followups:
        line = rows[f_row["author_id"]]
        line["followups"] += f_row["n"]
        line["visits"] += f_row["visits"]
    for c_row in found_customers:
        rows[c_row["owner_id"]]["new_customers"] += c_row["n"]
    masked = 0
    for d_row in found_deals:
        line = rows[d_row["owner_id"]]
        line["won_deals"] += d_row["n"]
        line["won_amount"] += d_row["won_sum"] or ZERO
        masked += d_row["hidden"]
    return masked


def rep_performance(user: Any, filters: ReportFilters, *, use_summary: bool = True) -> Report:
    """The report; ``use_summary=False`` counts every record directly (the summary's test)."""
    rows: dict[int | None, dict[str, Any]] = defaultdict(_empty_rep)
    masked = _count_activity(user, filters, rows, use_summary=use_summary)
    response = ExpressionWrapper(F("first_contact_at") - F("assigned_at"), DurationField())
    leads = (
        Lead.objects.visible_to(user)
        .filter(filters.between("assigned_at"), filters.scope_q("assignee"))
        .filter(filters.customer_q(""))
        .values("assignee_id")
        .annotate(
            n=Count("pk"),
            converted=Count("pk", filter=Q(status=LeadStatus.CONVERTED)),
            contacted=Count("pk", filter=Q(first_contact_at__isnull=False)),
            response=Avg(response, filter=Q(first_contact_at__isnull=False)),
        )
        .order_by()
    )
    lead_seconds = 0.0
    for l_row in leads:
        line = rows[l_row["assignee_id"]]
        hours = _hours(l_row["response"])
        line.update(leads=l_row["n"], leads_converted=l_row["converted"], response_hours=hours)
        line["_contacted"] = l_row["contacted"]
        if hours is not None:
            lead_seconds += hours * l_row["contacted"]
    names = _names({key for key in rows if key is not None})
    lines = []
    for key, line in rows.items():
        line["rep"] = names.get(key, "—")
        line["conversion_pct"] = share(line["leads_converted"], line["leads"])
        line["kpi_met"] = (
            None
            if line["response_hours"] is None
            else line["response_hours"] <= LEAD_RESPONSE_KPI_HOURS
        )
        lines.append(line)
    lines.sort(key=lambda line: (-line["followups"], -line["won_deals"], line["rep"]))
    contacted = sum(line.pop("_contacted", 0) for line in lines)
    total = {
        name: sum(line[name] for line in lines)
        for name in ("followups", "visits", "new_customers", "leads", "leads_converted")
    }
    won_deals = sum(line["won_deals"] for line in lines)
    won_amount = sum((line["won_amount"] for line in lines), ZERO)
    avg_response = round(lead_seconds / contacted, 1) if contacted else None
    for line in lines:
        line["kpi_met"] = _yes_no(line["kpi_met"])
    columns = [
        Column("rep", _("Rep")),
        Column("followups", _("Follow-ups"), "int"),
        Column("visits", _("Visits"), "int"),
        Column("new_customers", _("New customers"), "int"),
        Column("leads", _("Leads assigned"), "int"),
        Column("leads_converted", _("Leads converted"), "int"),
        Column("conversion_pct", _("Conversion"), "pct"),
        Column("won_deals", _("Won deals"), "int"),
        Column("won_amount", _("Won amount"), "money"),
        Column("response_hours", _("Average lead response"), "hours"),
        Column("kpi_met", _("Within 2 h")),
    ]
    note = _("Won amounts count only the deals whose amount you may see.") if masked else ""
    return Report(
        key="rep-performance",
        title=_("Rep activity and performance"),
        filters=filters,
        summary=[
            ("followups", _("Follow-ups"), total["followups"], "int"),
            ("visits", _("Visits"), total["visits"], "int"),
            ("new_customers", _("New customers"), total["new_customers"], "int"),
            ("leads_converted", _("Leads converted"), total["leads_converted"], "int"),
            ("won_deals", _("Won deals"), won_deals, "int"),
            ("won_amount", _("Won amount"), won_amount, "money"),
            ("avg_lead_response_hours", _("Average lead response"), avg_response, "hours"),
        ],
        tables=[Table("reps", _("Per rep"), columns, lines, note)],
        charts=_rep_charts(lines),
        amounts_masked=bool(masked),
    )


def _empty_rep() -> dict[str, Any]:
    return {
        "rep": "",
        "followups": 0,
        "visits": 0,
        "new_customers": 0,
        "leads": 0,
        "leads_converted": 0,
        "conversion_pct": None,
        "won_deals": 0,
        "won_amount": ZERO,
        "response_hours": None,
        "kpi_met": None,
    }


def _yes_no(value: bool | None) -> str:
    if value is None:
        return ""
    return str(_("yes") if value else _("no"))


def _rep_charts(lines: list[dict[str, Any]]) -> list[Chart]:
    if not lines:
        return [
            Chart("activity", _("Activity per rep"), [], []),
            Chart("response", _("Average lead response (hours) vs the 2-hour KPI"), [], []),
        ]
    reps = [line["rep"] for line in lines]
    activity = Chart(
        "activity",
        _("Activity per rep"),
        reps,
        [
            {"name": str(_("Follow-ups")), "type": "bar", "data": [r["followups"] for r in lines]},
            {"name": str(_("Visits")), "type": "bar", "data": [r["visits"] for r in lines]},
            {
                "name": str(_("New customers")),
                "type": "bar",
                "data": [r["new_customers"] for r in lines],
            },
            {"name": str(_("Won deals")), "type": "line", "data": [r["won_deals"] for r in lines]},
        ],
    )
    response = Chart(
        "response",
        _("Average lead response (hours) vs the 2-hour KPI"),
        reps,
        [
            {
                "name": str(_("Average lead response")),
                "type": "bar",
                "data": [r["response_hours"] for r in lines],
            },
            {
                "name": str(_("KPI")),
                "type": "line",
                "data": [LEAD_RESPONSE_KPI_HOURS for _r in lines],
            },
        ],
        unit="h",
    )
    return [activity, response]


# --- Data quality --------------------------------------------------------------------------


def data_quality(user: Any, filters: ReportFilters) -> Report:
    """Cached ``QUALITY_CACHE_SECONDS``: over a manager's quarter at size L it reads the
    period's tens of thousands of customers (0.6–1 s)."""
    build = lambda: _data_quality(user, filters)  # noqa: E731
    return cached_report("data-quality", QUALITY_CACHE_SECONDS, user, filters, build)


def _data_quality(user: Any, filters: ReportFilters) -> Report:
    now = timezone.now()
    stale_days = int(config.get("customers.stale_contact_days") or STALE_DAYS)
    stale_before = now - timedelta(days=stale_days)
    visible = Customer.objects.visible_to(user)
    period = visible.filter(
        filters.between("created_at"), filters.scope_q(), filters.customer_q("")
    )
    customers = (
        period.values("department_id", "owner_id")
        .annotate(
            n=Count("pk"),
            points=Sum("completeness"),
            complete=Count("pk", filter=Q(completeness__gte=COMPLETENESS_TARGET)),
            unverified=Count("pk", filter=Q(verified_at__isnull=True) | ~Q(to_verify=[])),
            stale=Count("pk", filter=Q(contact_info_updated_at__lt=stale_before)),
        )
        .order_by()
    )
    # Suspected duplicates: the newest DUPLICATE_SAMPLE customers of the period whose
    # normalised name another visible customer has (an index look-up each; over a
    # manager's whole quarter at size L it took 1.1 s).
    twin = visible.filter(name_key=OuterRef("name_key")).exclude(pk=OuterRef("pk"))
    newest = period.exclude(name_key="").order_by("-created_at", "-id").values("pk")
    duplicates = {
        (row["department_id"], row["owner_id"]): row["n"]
        for row in Customer.objects.filter(pk__in=newest[:DUPLICATE_SAMPLE])
        .filter(Exists(twin))
        .values("department_id", "owner_id")
        .annotate(n=Count("pk"))
        .order_by()
    }
    rows: list[dict[str, Any]] = [dict(row) for row in customers]
    for row in rows:
        row["duplicates"] = duplicates.get((row["department_id"], row["owner_id"]), 0)
    departments = dict(
        Department.objects.filter(
            pk__in={row["department_id"] for row in rows if row["department_id"]}
        ).values_list("pk", "name")
    )
    names = _names({row["owner_id"] for row in rows if row["owner_id"]})
    lines = []
    for row in rows:
        lines.append(
            {
                "department": departments.get(row["department_id"], "—"),
                "rep": names.get(row["owner_id"], "—"),
                "customers": row["n"],
                "avg_completeness_pct": share(row["points"] or 0, 100 * row["n"]),
                "complete_pct": share(row["complete"], row["n"]),
                "unverified": row["unverified"],
                "stale": row["stale"],
                "suspected_duplicates": row["duplicates"],
            }
        )
    lines.sort(key=lambda line: (line["department"], line["rep"]))
    count = sum(row["n"] for row in rows)
    points = sum(row["points"] or 0 for row in rows)
    totals = {
        name: sum(row[name] for row in rows)
        for name in ("complete", "unverified", "stale", "duplicates")
    }
    columns = [
        Column("department", _("Department")),
        Column("rep", _("Owner")),
        Column("customers", _("Customers"), "int"),
        Column("avg_completeness_pct", _("Average completeness"), "pct"),
        Column("complete_pct", _("Complete (≥ 90%)"), "pct"),
        Column("unverified", _("Unverified"), "int"),
        Column("stale", _("Stale contact information"), "int"),
        Column("suspected_duplicates", _("Suspected duplicates"), "int"),
    ]
    note = _(
        "Customers created in the period. Target: 90%% of customers at least 90%% complete; "
        "stale: contact information not updated for more than %(days)s days; suspected "
        "duplicate: another customer you see has the same normalised name (checked for the "
        "newest %(sample)s customers of the period)."
    ) % {"days": stale_days, "sample": DUPLICATE_SAMPLE}
    chart_lines = lines[:30]
    charts = [
        Chart(
            "completeness",
            _("Completeness vs the 90% target"),
            [f"{line['department']} · {line['rep']}" for line in chart_lines],
            [
                {
                    "name": str(_("Complete (≥ 90%)")),
                    "type": "bar",
                    "data": [line["complete_pct"] for line in chart_lines],
                },
                {
                    "name": str(_("Target")),
                    "type": "line",
                    "data": [COMPLETENESS_TARGET for _line in chart_lines],
                },
            ]
            if chart_lines
            else [],
            unit="%",
        ),
        Chart(
            "problems",
            _("Problems per owner"),
            [f"{line['department']} · {line['rep']}" for line in chart_lines],
            [
                {
                    "name": str(label),
                    "type": "bar",
                    "stack": "problems",
                    "data": [line[key] for line in chart_lines],
                }
                for key, label in (
                    ("unverified", _("Unverified")),
                    ("stale", _("Stale contact information")),
                    ("suspected_duplicates", _("Suspected duplicates")),
                )
            ]
            if chart_lines
            else [],
        ),
    ]
    return Report(
        key="data-quality",
        title=_("Data quality"),
        filters=filters,
        summary=[
            ("customers", _("Customers"), count, "int"),
            ("avg_completeness_pct", _("Average completeness"), share(points, 100 * count), "pct"),
            ("complete_pct", _("Complete (≥ 90%)"), share(totals["complete"], count), "pct"),
            ("unverified", _("Unverified"), totals["unverified"], "int"),
            ("stale", _("Stale contact information"), totals["stale"], "int"),
            ("suspected_duplicates", _("Suspected duplicates"), totals["duplicates"], "int"),
        ],
        tables=[Table("owners", _("Per department and owner"), columns, lines, note)],
        charts=charts,
    )


register(
    ReportSpec(
        key="rep-performance",
        title=_("Rep activity and performance"),
        description=_(
            "Follow-ups, visits, new customers, lead conversion and response time, won deals "
            "and amounts per rep."
        ),
        build=rep_performance,
        roles=frozenset({"admin", "manager", "sales"}),
        order=60,
    )
)
register(
    ReportSpec(
        key="data-quality",
        title=_("Data quality"),
        description=_(
            "Completeness against the 90% target, unverified and stale customers and suspected "
            "duplicates per department and owner."
        ),
        build=data_quality,
        roles=frozenset({"admin", "manager", "sales"}),
        order=70,
    )
)
