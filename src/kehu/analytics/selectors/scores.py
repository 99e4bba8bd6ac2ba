"""Reads of the churn-risk and value scores: one customer's, and the lists in a viewer's scope.

Every read starts from ``Customer.objects.visible_to(user)``; amounts won are shown only for
the customers whose sensitive fields the viewer sees (``full_access_filter``), the others are
left blank and the report says some amounts were hidden.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from django.db.models import BooleanField, Count, ExpressionWrapper, Q, Sum, Value
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from kehu.analytics.models import CustomerScore
from kehu.analytics.reporting import ReportFilters
from kehu.core.access import policy_of
from kehu.core.errors import NotFound
from kehu.customers.models import Customer
from kehu.followups.models import FollowUp, RenewalIntent

LIST_SIZE = 100  # the top customers a list shows


def reason_text(reason: dict[str, Any]) -> str:
    """One reason in the viewer's language, e.g. "90 天无跟进"."""
    code = reason.get("code", "")
    days = int(reason.get("days", 0) or 0)
    count = int(reason.get("count", 0) or 0)
    if code == "no_activity":
        return _("No follow-up for %(days)s days") % {"days": days}
    if code == "never_contacted":
        return _("Never contacted in %(days)s days") % {"days": days}
    if code == "quiet":
        return _("Quiet for %(days)s days") % {"days": days}
    if code == "negative_feedback":
        return _("The last two feedbacks were negative")
    if code == "sentiment_declining":
        return _("Feedback is getting worse")
    if code == "renewal_unlikely":
        return _("Renewal unlikely")
    if code == "renewal_undecided":
        return _("Renewal undecided")
    if code == "need_changed":
        return _("Needs changed in the last %(days)s days") % {"days": days}
    if code == "open_complaints":
        return ngettext("%(count)s open complaint", "%(count)s open complaints", count) % {
            "count": count
        }
    if code == "low_satisfaction":
        return _("Satisfaction %(average)s/5") % {"average": reason.get("average")}
    if code == "strategic":
        return _("Strategic customer: %(amount)s yuan won in 12 months") % {
            "amount": reason.get("amount")
        }
    if code == "won_amount":
        return _("%(amount)s yuan won in 12 months") % {"amount": reason.get("amount")}
    if code == "orders":
        return ngettext("%(count)s order in 12 months", "%(count)s orders in 12 months", count) % {
            "count": count
        }
    if code == "large_orders":
        return _("Average order %(amount)s yuan") % {"amount": reason.get("amount")}
    return str(code)


def reasons_text(reasons: list[dict[str, Any]], *, hide_amounts: bool = False) -> str:
    """The reasons joined as the handbook writes them: "90 天无跟进；最近两次反馈负面"."""
    shown = [
        reason
        for reason in reasons
        if not (hide_amounts and reason.get("code") in {"strategic", "won_amount", "large_orders"})
    ]
    return _("; ").join(reason_text(reason) for reason in shown)


def _visible(user: Any, filters: ReportFilters | None) -> Any:
    """The customers in the viewer's scope and the filters: the lists and counts start from
    the gate's customers and join their score (a rep's few hundred customers along the owner
    index, not a pass over every score checked against the scope)."""
    visible = Customer.objects.visible_to(user)
    if filters is not None:
        visible = visible.filter(filters.scope_q(), filters.customer_q(""))
    return visible


def _amount_visible(user: Any, prefix: str = "") -> Any:
    """True on the rows whose amounts ``user`` sees (``prefix``: the path to the customer)."""
    scope = policy_of(Customer).full_access_filter(user)
    if scope is None:
        return Value(True, output_field=BooleanField())
    if prefix:
        scope = Q(customer__in=Customer.objects.filter(scope).values("pk"))
    return ExpressionWrapper(scope, output_field=BooleanField())


def customer_score(user: Any, customer_id: int) -> dict[str, Any]:
    """One customer's scores and reasons (404 outside the scope; blank scores when the job
    has not scored the customer yet)."""
    customer = (
        Customer.objects.visible_to(user)
        .filter(pk=customer_id)
        .values("pk", "name", "owner_id")
        .first()
    )
    if customer is None:
        raise NotFound("customer")
    row = (
        CustomerScore.objects.filter(pk=customer_id)
        .annotate(amount_visible=_amount_visible(user, "customer__"))
        .values()
        .first()
    )
    return _as_entry(customer_id, customer["name"], dict(row) if row is not None else None)


def _as_entry(customer_id: int, name: str, row: dict[str, Any] | None) -> dict[str, Any]:
    if row is None:
        return {
            "customer_id": customer_id,
            "customer": name,
            "scored": False,
            "churn_score": None,
            "is_churn_risk": False,
            "churn_reasons": [],
            "churn_text": "",
            "value_score": None,
            "is_high_value": False,
            "value_reasons": [],
            "value_text": "",
            "won_amount_year": None,
            "orders_year": 0,
            "average_order": None,
            "last_activity_at": None,
            "plan_owner_id": None,
            "computed_at": None,
        }
    visible = bool(row["amount_visible"])
    value_reasons = row["value_reasons"] if visible else []
    return {
        "customer_id": customer_id,
        "customer": name,
        "scored": True,
        "churn_score": row["churn_score"],
        "is_churn_risk": row["is_churn_risk"],
        "churn_reasons": row["churn_reasons"],
        "churn_text": reasons_text(row["churn_reasons"]),
        "value_score": row["value_score"],
        "is_high_value": row["is_high_value"],
        "value_reasons": value_reasons,
        "value_text": reasons_text(row["value_reasons"], hide_amounts=not visible),
        "won_amount_year": row["won_amount_year"] if visible else None,
        "orders_year": row["orders_year"],
        "average_order": row["average_order"] if visible else None,
        "last_activity_at": row["last_activity_at"],
        "plan_owner_id": row["plan_owner_id"],
        "computed_at": row["computed_at"],
    }


def score_list(
    user: Any, filters: ReportFilters | None, *, kind: str, limit: int = LIST_SIZE
) -> list[dict[str, Any]]:
    """The top ``limit`` churn-risk (``kind="churn"``) or high-value (``"value"``) customers
    in the viewer's scope and the filters, highest score first; two queries."""
    if kind == "churn":
        flag, order = Q(score__is_churn_risk=True), ["-score__churn_score", "pk"]
    else:
        flag, order = Q(score__is_high_value=True), ["-score__value_score", "pk"]
    fields = [
        "churn_score",
        "is_churn_risk",
        "churn_reasons",
        "value_score",
        "is_high_value",
        "value_reasons",
        "won_amount_year",
        "orders_year",
        "average_order",
        "last_activity_at",
        "plan_owner_id",
        "computed_at",
    ]
    found = (
        _visible(user, filters)
        .filter(flag)
        .annotate(amount_visible=_amount_visible(user))
        .order_by(*order)
        .values("pk", "name", "owner_id", "amount_visible", *(f"score__{f}" for f in fields))[
            :limit
        ]
    )
    rows = [
        {
            "customer_id": row["pk"],
            "customer__name": row["name"],
            "customer__owner_id": row["owner_id"],
            "amount_visible": row["amount_visible"],
            **{f: row[f"score__{f}"] for f in fields},
        }
        for row in found
    ]
    from django.contrib.auth import get_user_model

    user_ids = {r["customer__owner_id"] for r in rows} | {r["plan_owner_id"] for r in rows}
    names = {
        u.pk: str(u)
        for u in get_user_model().objects.filter(pk__in=[i for i in user_ids if i is not None])
    }
    entries = []
    for row in rows:
        entry = _as_entry(row["customer_id"], row["customer__name"], dict(row))
        entry["owner"] = names.get(row["customer__owner_id"], "")
        entry["plan_owner"] = names.get(row["plan_owner_id"], "")
        entries.append(entry)
    return entries


def _score_parts(user: Any, filters: ReportFilters) -> tuple[list[Q], Q | None] | None:
    """The viewer's customers as disjoint filters on the score's own owner and department
    columns (the gate's ``full_access_parts``, then the part granted beyond them), narrowed by
    the department and rep filters; None when an industry or region filter needs the customer.
    """
    if filters.industry or filters.region:
        return None
    policy = policy_of(Customer)
    narrowing = filters.scope_q("owner", "department")
    full = [part & narrowing for part in policy.full_access_parts(user)]
    granted = policy.granted_part(user)
    return full, (granted & narrowing if granted is not None else None)


def score_counts(user: Any, filters: ReportFilters, *, kind: str) -> dict[str, Any]:
    """``kind="churn"``: how many customers in scope are at risk. ``"value"``: how many are
    high-value, and the amount they won in 12 months summed over those whose amounts the
    viewer sees (``masked``: some were left out). One query per part of the viewer's scope
    (at most three), along the partial (owner) / (department) indexes of the flagged scores.
    """
    parts = _score_parts(user, filters)
    if parts is None:
        return _joined_counts(user, filters, kind=kind)
    full, granted = parts
    flag = Q(is_churn_risk=True) if kind == "churn" else Q(is_high_value=True)
    rows = CustomerScore.objects.filter(flag)
    if kind == "churn":
        every = [*full, granted] if granted is not None else full
        return {"at_risk": sum(rows.filter(part).count() for part in every)}
    shown, won = 0, Decimal(0)
    for part in full:
        found = rows.filter(part).aggregate(n=Count("pk"), s=Sum("won_amount_year"))
        shown += found["n"] or 0
        won += found["s"] or 0
    hidden = rows.filter(granted).count() if granted is not None else 0
    return {"high_value": shown + hidden, "won_amount_year": won, "masked": hidden > 0}


def _joined_counts(user: Any, filters: ReportFilters, *, kind: str) -> dict[str, Any]:
    """``score_counts`` when the filters need the customer's industry or region."""
    visible = _visible(user, filters)
    if kind == "churn":
        return {"at_risk": visible.filter(score__is_churn_risk=True).count()}
    full = policy_of(Customer).full_access_filter(user)
    found = visible.filter(score__is_high_value=True).aggregate(
        high_value=Count("pk"),
        shown=Count("pk", filter=full) if full is not None else Count("pk"),
        won=Sum("score__won_amount_year", filter=full)
        if full is not None
        else Sum("score__won_amount_year"),
    )
    return {
        "high_value": found["high_value"] or 0,
        "won_amount_year": found["won"] or 0,
        "masked": (found["high_value"] or 0) > (found["shown"] or 0),
    }


def renewal_counts(user: Any, filters: ReportFilters) -> dict[str, int]:
    """Follow-ups in the period by renewal intent (likely / undecided / unlikely)."""
    rows = (
        FollowUp.objects.visible_to(user)
        .filter(
            filters.between("occurred_at"),
            ~Q(renewal_intent=""),
            filters.customer_q("customer__"),
            filters.scope_q("customer__owner", "customer__department"),
        )
        .order_by()
        .values("renewal_intent")
        .annotate(n=Count("id"))
    )
    counts = dict.fromkeys(RenewalIntent.values, 0)
    for row in rows:
        counts[row["renewal_intent"]] = row["n"]
    return counts
