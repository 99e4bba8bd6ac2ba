"""Reads shared by the pipeline reports and the deal follow-up summary: day spans in the
database, the scope of stage changes and deals, the follow-ups of a deal's open window.
"""

from __future__ import annotations

from typing import Any

from django.db.models import (
    Count,
    F,
    FloatField,
    Func,
    IntegerField,
    OuterRef,
    Q,
    QuerySet,
    Subquery,
    Value,
)
from django.db.models.functions import Coalesce, Least

from kehu.analytics.reporting import ReportFilters
from kehu.core.access import policy_of
from kehu.followups.models import FollowUp
from kehu.opportunities.models import Opportunity, Stage, StageKind

# Follow-ups per 30 days while a deal was open: the lower bounds of the cadence buckets.
CADENCE_BOUNDS: tuple[float, ...] = (0, 1, 2, 4, 8)


class DaysBetween(Func):
    """Fractional days from the second timestamp to the first, in the database:
    ``EXTRACT(EPOCH FROM end - start) / 86400`` on PostgreSQL, ``julianday`` on SQLite."""

    arity = 2
    output_field = FloatField()

    def as_postgresql(self, compiler: Any, connection: Any, **extra: Any) -> Any:
        return self.as_sql(
            compiler,
            connection,
            template="(EXTRACT(EPOCH FROM (%(expressions)s)) / 86400.0)",
            arg_joiner=" - ",
            **extra,
        )

    def as_sqlite(self, compiler: Any, connection: Any, **extra: Any) -> Any:
        return self.as_sql(
            compiler,
            connection,
            template="(julianday(%(expressions)s))",
            arg_joiner=") - julianday(",
            **extra,
        )


def prefixed(condition: Q, prefix: str) -> Q:
    """``condition`` (on a model's own fields) as a condition on a relation to it, e.g. an
    opportunity's scope as a scope of its stage changes (``prefix="opportunity__"``)."""
    copy = Q()
    copy.connector, copy.negated = condition.connector, condition.negated
    copy.children = [
        prefixed(child, prefix) if isinstance(child, Q) else _prefixed_lookup(child, prefix)
        for child in condition.children
    ]
    return copy


def _prefixed_lookup(child: Any, prefix: str) -> tuple[str, Any]:
    lookup, value = child
    return prefix + lookup, value


def deal_scope(user: Any, filters: ReportFilters, prefix: str = "") -> Q:
    """The deals ``user`` sees (the one access gate), narrowed by the report filters; with a
    ``prefix`` the same condition on a relation to the deal."""
    own = policy_of(Opportunity).view_filter(user)
    narrowed = own & filters.scope_q("owner", "department") & segment_q(filters, "customer__")
    return prefixed(narrowed, prefix) if prefix else narrowed


def deal_parts(user: Any, filters: ReportFilters, prefix: str = "") -> list[tuple[Q, bool]]:
    """``deal_scope`` as the disjoint parts of the viewer's view (``AccessPolicy.view_parts``):
    the managed departments, the own deals outside them, then the deals granted by shares
    (with ``False``: their amounts are not seen). ORed, PostgreSQL read every deal of the
    table for a rep (the OR with the shared ids defeats the owner index); apart, each part
    is one range of the owner or department index. The deal sets are disjoint, so counts
    add up."""
    policy = policy_of(Opportunity)
    narrowed = filters.scope_q("owner", "department") & segment_q(filters, "customer__")
    parts = [(part, True) for part in policy.full_access_parts(user)]
    granted = policy.granted_part(user)
    if granted is not None:
        parts.append((granted, False))
    return [
        (prefixed(part & narrowed, prefix) if prefix else part & narrowed, seen)
        for part, seen in parts
    ]


def summary_parts(user: Any, filters: ReportFilters) -> list[tuple[Q, bool]]:
    """``deal_parts`` on ``DealFollowUpStats``, which copies the deal's owner, department
    and customer's industry and region: the deal's own key is ``opportunity_id`` there."""
    policy = policy_of(Opportunity)
    narrowed = filters.scope_q("owner", "department") & segment_q(filters, "")
    parts = [(part, True) for part in policy.full_access_parts(user)]
    granted = policy.granted_part(user)
    if granted is not None:
        parts.append((granted, False))
    return [(_on_summary(part) & narrowed, seen) for part, seen in parts]


def _on_summary(condition: Q) -> Q:
    copy = Q()
    copy.connector, copy.negated = condition.connector, condition.negated
    copy.children = [
        _on_summary(child) if isinstance(child, Q) else _summary_lookup(child)
        for child in condition.children
    ]
    return copy


def _summary_lookup(child: Any) -> tuple[str, Any]:
    lookup, value = child
    first, _sep, rest = lookup.partition("__")
    if first in ("pk", "id"):
        first = "opportunity_id"
    return (f"{first}__{rest}" if rest else first), value


def segment_q(filters: ReportFilters, prefix: str) -> Q:
    """The industry and region filters on the model at ``prefix`` (``"customer__"``, or ""
    for a lead or a summary row that copies the customer's industry and region)."""
    return filters.customer_q(prefix)


def amounts_seen(user: Any) -> Q | None:
    """The deals whose amount ``user`` sees (None: all), as ``opportunities.selectors``."""
    return policy_of(Opportunity).full_access_filter(user)


def stage_ids(stages: list[Stage], kind: str) -> list[int]:
    return [stage.pk for stage in stages if stage.kind == kind]


def cycle_start() -> Any:
    """Where a deal's cycle starts: the customer's first contact, or the deal's creation when
    that is earlier or the first contact is unknown (LEAST ignores NULL on PostgreSQL and
    answers NULL on SQLite: either way the creation is left)."""
    return Coalesce(Least("customer__first_contact_at", "created_at"), F("created_at"))


def window_followups() -> QuerySet[FollowUp]:
    """The follow-ups on a deal's customer while the deal was open (``OuterRef`` the deal)."""
    return FollowUp.objects.filter(
        customer_id=OuterRef("customer_id"),
        occurred_at__gte=OuterRef("created_at"),
        occurred_at__lte=OuterRef("closed_at"),
    ).order_by()


def with_followup_figures(deals: QuerySet[Opportunity]) -> QuerySet[Opportunity]:
    """``deals`` (closed ones) with ``fu_count`` (follow-ups while open), ``fu_method`` (the
    method used most, ties by name; "" without follow-ups) and ``open_days``: the direct
    count the summary table keeps, used to fill it and to check it."""
    window = window_followups()
    count = window.values("customer_id").annotate(n=Count("pk")).values("n")[:1]
    method = window.values("method").annotate(n=Count("pk")).order_by("-n", "method")
    return deals.annotate(
        cycle_days=DaysBetween("closed_at", cycle_start()),
        fu_count=Coalesce(Subquery(count, output_field=IntegerField()), 0),
        fu_method=Coalesce(Subquery(method.values("method")[:1]), Value("")),
        open_days=DaysBetween("closed_at", "created_at"),
    )


def cadence_of(followups: int, open_days: float) -> tuple[float, int]:
    """Follow-ups per 30 days over the open days (at least one day) and its bucket index."""
    rate = followups * 30 / max(open_days, 1.0)
    bucket = max(i for i, bound in enumerate(CADENCE_BOUNDS) if rate >= bound)
    return rate, bucket


def closed_kinds() -> tuple[str, str]:
    return (StageKind.WON, StageKind.LOST)
