"""The churn-risk (流失预警) and high-value (高价值客户) reports.

Both list the top customers in the viewer's scope by their stored score (``CustomerScore``,
kept by the job and on change), with the reasons beside the score; the lists are the current
state, the period counts the renewal intents given in follow-ups.
"""

from __future__ import annotations

from typing import Any

from django.utils.translation import gettext_lazy as _

from kehu.analytics.registry import ReportSpec, register
from kehu.analytics.reporting import Chart, Column, Report, ReportFilters, Table
from kehu.analytics.selectors.scores import renewal_counts, score_counts, score_list

ROLES = frozenset({"admin", "manager", "sales"})

CUSTOMER_COLUMNS = [
    Column("customer", _("Customer")),
    Column("owner", _("Owner")),
]


def _rows(entries: list[dict[str, Any]], *, kind: str) -> list[dict[str, Any]]:
    rows = []
    for entry in entries:
        row = {
            "customer_id": entry["customer_id"],
            "customer": entry["customer"],
            "owner": entry["owner"],
            "churn_score": entry["churn_score"],
            "value_score": entry["value_score"],
            "reasons": entry["churn_text"] if kind == "churn" else entry["value_text"],
            "last_activity_at": entry["last_activity_at"],
            "won_amount_year": entry["won_amount_year"],
            "orders_year": entry["orders_year"],
            "plan_owner": entry["plan_owner"],
        }
        rows.append(row)
    return rows


def _histogram(entries: list[dict[str, Any]], key: str, title: Any) -> Chart:
    buckets = ["0-19", "20-39", "40-59", "60-79", "80-100"]
    counts = [0] * len(buckets)
    for entry in entries:
        counts[min(4, (entry[key] or 0) // 20)] += 1
    return Chart(
        "scores", title, buckets, [{"name": str(_("Customers")), "type": "bar", "data": counts}]
    )


def churn_risk(user: Any, filters: ReportFilters) -> Report:
    entries = score_list(user, filters, kind="churn")
    counts = score_counts(user, filters, kind="churn")
    renewal = renewal_counts(user, filters)
    table = Table(
        "customers",
        _("Customers at risk"),
        [
            *CUSTOMER_COLUMNS,
            Column("churn_score", _("Churn risk"), "int"),
            Column("reasons", _("Reasons")),
            Column("last_activity_at", _("Last activity")),
            Column("value_score", _("Value score"), "int"),
        ],
        _rows(entries, kind="churn"),
        note=_(
            "The %(n)s highest scores in scope; scores are current, renewal intents count "
            "the follow-ups of the period."
        )
        % {"n": len(entries)},
    )
    renewal_chart = Chart(
        "renewal",
        _("Renewal intent in follow-ups"),
        [str(_("Likely")), str(_("Undecided")), str(_("Unlikely"))],
        [
            {
                "name": str(_("Follow-ups")),
                "type": "bar",
                "data": [renewal["likely"], renewal["undecided"], renewal["unlikely"]],
            }
        ],
    )
    return Report(
        key="churn-risk",
        title=_("Churn risk"),
        filters=filters,
        summary=[
            ("at_risk", _("Customers at risk"), counts["at_risk"], "int"),
            ("renewal_likely", _("Renewal likely"), renewal["likely"], "int"),
            ("renewal_undecided", _("Renewal undecided"), renewal["undecided"], "int"),
            ("renewal_unlikely", _("Renewal unlikely"), renewal["unlikely"], "int"),
        ],
        tables=[table],
        charts=[
            _histogram(entries, "churn_score", _("Churn risk of the listed customers")),
            renewal_chart,
        ],
    )


def high_value(user: Any, filters: ReportFilters) -> Report:
    entries = score_list(user, filters, kind="value")
    counts = score_counts(user, filters, kind="value")
    table = Table(
        "customers",
        _("High-value customers"),
        [
            *CUSTOMER_COLUMNS,
            Column("value_score", _("Value score"), "int"),
            Column("reasons", _("Reasons")),
            Column("won_amount_year", _("Won in the last 12 months"), "money"),
            Column("orders_year", _("Orders in 12 months"), "int"),
            Column("plan_owner", _("One-to-one plan owner")),
            Column("churn_score", _("Churn risk"), "int"),
        ],
        _rows(entries, kind="value"),
        note=_("The %(n)s highest scores in scope.") % {"n": len(entries)},
    )
    return Report(
        key="high-value",
        title=_("High-value customers"),
        filters=filters,
        summary=[
            ("high_value", _("High-value customers"), counts["high_value"], "int"),
            ("won_amount_year", _("Won by them in 12 months"), counts["won_amount_year"], "money"),
        ],
        tables=[table],
        charts=[_histogram(entries, "value_score", _("Value score of the listed customers"))],
        amounts_masked=bool(counts["masked"]) or any(e["won_amount_year"] is None for e in entries),
    )


register(
    ReportSpec(
        key="churn-risk",
        title=_("Churn risk (流失预警)"),
        description=_("Customers likely to leave, with the reasons, and the renewal intents."),
        build=churn_risk,
        roles=ROLES,
        order=60,
        template="analytics/scores/report.html",
    )
)
register(
    ReportSpec(
        key="high-value",
        title=_("High-value customers (高价值客户)"),
        description=_("Customers by value won, order frequency and average order."),
        build=high_value,
        roles=ROLES,
        order=61,
        template="analytics/scores/report.html",
    )
)
