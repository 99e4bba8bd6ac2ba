"""Targets and their progress, counted from the records (never typed in).

- new customers: customers created in the target's period, in its department (and below)
  or of its rep, matching its segment;
- won amount and won deals: deals closed won in the period (a stage of kind won, ``closed_at``
  in the period), of the department or rep, whose customer matches the segment ("new":
  created in the period; "existing": before it);
- leads converted: leads converted in the period, of the department or assignee, whose
  customer matches the segment.

Progress is counted through the viewer's scope (``visible_to``): a rep's view of the
department's target counts what the rep sees. Amounts are summed only over the deals whose
amount the viewer sees; the rest are counted as hidden (``amounts_masked``).

The number of queries is fixed whatever the number of targets: one aggregate per measure, a
filtered ``Count``/``Sum`` per target (each target's condition ORed into the WHERE, so
PostgreSQL reads only the targets' date ranges of the department, owner and creation indexes).
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

from django.core.cache import cache
from django.db.models import Count, DecimalField, Q, Sum
from django.utils.translation import gettext as _

from kehu.accounts.models import Department
from kehu.analytics.models import Measure, Newness, Target
from kehu.analytics.reporting import REGION_AREAS, region_q, share
from kehu.core.access import policy_of
from kehu.core.days import day_start
from kehu.core.errors import NotFound
from kehu.customers.models import Customer, EmployeesBand, Industry
from kehu.leads.models import Lead
from kehu.opportunities.models import Opportunity, Stage, StageKind

CACHE_SECONDS = 300  # how old the panels' and the report's counts may be
MONEY = DecimalField(max_digits=20, decimal_places=2)
NO_ROWS = Q(pk__in=[])


def visible_targets(
    *,
    user: Any,
    start: date | None = None,
    end: date | None = None,
    department_id: int | None = None,
    owner_id: int | None = None,
) -> list[Target]:
    """The targets ``user`` sees whose period overlaps ``start``..``end``, narrowed to a
    department (and below) or a rep; one query."""
    targets = Target.objects.visible_to(user).select_related(
        "department", "owner", "industry", "parent"
    )
    if start is not None:
        targets = targets.filter(end__gte=start)
    if end is not None:
        targets = targets.filter(start__lte=end)
    if department_id is not None:
        path = Department.objects.filter(pk=department_id).values_list("path", flat=True).first()
        if path is None:
            return []
        targets = targets.filter(department__path__startswith=path)
    if owner_id is not None:
        targets = targets.filter(owner_id=owner_id)
    return list(targets)


def target_for(*, user: Any, target_id: int) -> Target:
    """One target the user sees; 404 otherwise."""
    target = (
        Target.objects.visible_to(user)
        .select_related("department", "owner", "industry", "parent")
        .filter(pk=target_id)
        .first()
    )
    if target is None:
        raise NotFound(_("target"))
    return target


# --- labels -----------------------------------------------------------------------------------


def scope_label(target: Target) -> str:
    if target.owner_id is not None:
        return str(target.owner)
    if target.department_id is not None:
        return target.department.name if target.department else ""
    return _("Whole company")


def segment_label(target: Target) -> str:
    """The segment in words: "C 制造业 · 50-300 employees · 华东"."""
    parts: list[str] = []
    if target.industry_id:
        parts.append(f"{target.industry_id} {target.industry.name if target.industry else ''}")
    if target.customer_kind:
        parts.append(str(dict(_customer_kinds()).get(target.customer_kind, target.customer_kind)))
    if target.size_bands:
        labels = dict(EmployeesBand.choices)
        parts.append(" / ".join(str(labels.get(band, band)) for band in target.size_bands))
    if target.region:
        area = REGION_AREAS.get(target.region)
        parts.append(str(area[0]) if area else target.region)
    if target.newness:
        parts.append(str(Newness(target.newness).label))
    return " · ".join(parts) or _("All customers")


def _customer_kinds() -> Iterable[tuple[str, Any]]:
    from kehu.customers.models import CustomerKind

    return CustomerKind.choices


# --- progress ---------------------------------------------------------------------------------


@dataclass
class _Counted:
    actual: Any
    hidden: int = 0


def _subtrees(targets: list[Target]) -> dict[int, list[int]]:
    """Each target department's id with the ids below it; one query (a small table)."""
    wanted = {t.department_id for t in targets if t.owner_id is None and t.department_id}
    if not wanted:
        return {}
    departments = list(Department.objects.values_list("id", "path"))
    paths = {pk: path for pk, path in departments if pk in wanted}
    return {
        pk: [other for other, other_path in departments if other_path.startswith(path)]
        for pk, path in paths.items()
    }


def _scope_q(target: Target, subtrees: dict[int, list[int]], owner: str) -> Q:
    if target.owner_id is not None:
        return Q(**{f"{owner}_id": target.owner_id})
    if target.department_id is not None:
        return Q(department_id__in=subtrees.get(target.department_id, []))
    return Q()  # a company-wide target (set by an administrator)


def industry_codes(targets: Iterable[Target]) -> dict[str, list[str]]:
    """Each target industry with the industries under it: a section (门类, "C" 制造业) with its
    divisions (大类, "13"…"43"), which are what customers carry; one query (117 rows)."""
    wanted = {t.industry_id for t in targets if t.industry_id}
    if not wanted:
        return {}
    codes: dict[str, list[str]] = {code: [code] for code in wanted}
    for code, parent in Industry.objects.filter(parent_id__in=wanted).values_list(
        "code", "parent_id"
    ):
        codes[parent].append(code)
    return codes


def _segment_q(target: Target, customer: str, industries: dict[str, list[str]]) -> Q:
    """The segment on the customer (``customer=""`` on Customer itself)."""
    condition = Q()
    if target.industry_id:
        codes = industries.get(target.industry_id, [target.industry_id])
        condition &= Q(**{f"{customer}industry_id__in": codes})
    if target.region:
        condition &= region_q(f"{customer}region__code", target.region)
    if target.customer_kind:
        condition &= Q(**{f"{customer}kind": target.customer_kind})
    if target.size_bands:
        condition &= Q(**{f"{customer}employees_band__in": list(target.size_bands)})
    if target.newness == Newness.NEW:
        condition &= Q(**{f"{customer}created_at__gte": day_start(target.start)})
    elif target.newness == Newness.EXISTING:
        condition &= Q(**{f"{customer}created_at__lt": day_start(target.start)})
    return condition


def _has_segment(target: Target) -> bool:
    return bool(
        target.industry_id
        or target.region
        or target.customer_kind
        or target.size_bands
        or target.newness
    )


def _period_q(target: Target, field: str) -> Q:
    return Q(
        **{
            f"{field}__gte": day_start(target.start),
            f"{field}__lt": day_start(target.end + timedelta(days=1)),
        }
    )


def _condition(
    target: Target,
    subtrees: dict[int, list[int]],
    won_ids: list[int],
    industries: dict[str, list[str]],
) -> Q:
    measure = target.measure
    if measure == Measure.NEW_CUSTOMERS:
        return (
            _period_q(target, "created_at")
            & _scope_q(target, subtrees, "owner")
            & _segment_q(target, "", industries)
        )
    if measure in (Measure.WON_AMOUNT, Measure.WON_DEALS):
        return (
            Q(stage_id__in=won_ids)
            & _period_q(target, "closed_at")
            & _scope_q(target, subtrees, "owner")
            & _segment_q(target, "customer__", industries)
        )
    return (
        _period_q(target, "converted_at")
        & _scope_q(target, subtrees, "assignee")
        & _segment_q(target, "customer__", industries)
    )


def _or(conditions: Iterable[Q]) -> Q:
    combined = NO_ROWS
    for condition in conditions:
        combined = condition if combined is NO_ROWS else combined | condition
    return combined


def _count(user: Any, targets: list[Target], subtrees: dict[int, list[int]]) -> dict[int, Any]:
    """Each target's actual: one aggregate query per measure (and one for hidden amounts)."""
    actuals: dict[int, _Counted] = {}
    by_measure: dict[str, list[Target]] = {}
    for target in targets:
        by_measure.setdefault(target.measure, []).append(target)
    won_ids: list[int] = []
    if {Measure.WON_AMOUNT, Measure.WON_DEALS} & set(by_measure):
        won_ids = list(Stage.objects.filter(kind=StageKind.WON).values_list("pk", flat=True))

    amounts = {t.pk for t in by_measure.get(Measure.WON_AMOUNT, [])}
    industries = industry_codes(targets)

    def conditions(measures: tuple[str, ...], segmented: bool | None = None) -> dict[int, Q]:
        return {
            t.pk: _condition(t, subtrees, won_ids, industries)
            for measure in measures
            for t in by_measure.get(measure, [])
            if segmented is None or _has_segment(t) == segmented
        }

    customers = conditions((Measure.NEW_CUSTOMERS,))
    if customers:
        found = (
            Customer.objects.visible_to(user)
            .filter(_or(customers.values()))
            .aggregate(**{f"t{pk}": Count("pk", filter=q) for pk, q in customers.items()})
        )
        actuals |= {pk: _Counted(found[f"t{pk}"] or 0) for pk in customers}
    # Leads and deals: the targets without a segment apart from those with one, so the
    # former are summed from the department/owner indexes alone, without the join to the
    # customers that a segment needs (at size L the join cost a second for every target).
    for segmented in (False, True):
        leads = conditions((Measure.LEADS_CONVERTED,), segmented)
        if leads:
            found = (
                Lead.objects.visible_to(user)
                .filter(_or(leads.values()))
                .aggregate(**{f"t{pk}": Count("pk", filter=q) for pk, q in leads.items()})
            )
            actuals |= {pk: _Counted(found[f"t{pk}"] or 0) for pk in leads}
        deals = conditions((Measure.WON_DEALS, Measure.WON_AMOUNT), segmented)
        if deals:
            actuals |= _count_deals(user, deals, amounts)
    return actuals


def _count_deals(user: Any, deals: dict[int, Q], amounts: set[int]) -> dict[int, _Counted]:
    """Won deals (count, or amount summed over the deals whose amount ``user`` sees)."""
    full = policy_of(Opportunity).full_access_filter(user)
    aggregates: dict[str, Any] = {}
    for pk, q in deals.items():
        if pk in amounts:
            seen = q if full is None else q & full
            aggregates[f"t{pk}"] = Sum("amount", filter=seen, output_field=MONEY)
            if full is not None:
                hidden = q & ~full & Q(amount__isnull=False)
                aggregates[f"h{pk}"] = Count("pk", filter=hidden)
        else:
            aggregates[f"t{pk}"] = Count("pk", filter=q)
    found = Opportunity.objects.visible_to(user).filter(_or(deals.values())).aggregate(**aggregates)
    return {
        pk: _Counted(
            found[f"t{pk}"] or (Decimal(0) if pk in amounts else 0), found.get(f"h{pk}") or 0
        )
        for pk in deals
    }


def _cache_key(user: Any, targets: list[Target]) -> str:
    """Per viewer and set of targets (their ids and versions: a changed target is a new key)."""
    parts = ",".join(f"{t.pk}.{t.version}" for t in sorted(targets, key=lambda t: t.pk))
    digest = hashlib.sha1(parts.encode(), usedforsecurity=False).hexdigest()
    return f"analytics:targets:{user.pk}:{digest}"


def progress_rows(
    *, user: Any, targets: list[Target], cached: bool = False
) -> list[dict[str, Any]]:
    """``targets`` with their actual, attainment % and gap, counted in ``user``'s scope.

    ``cached``: reuse the counts of the last ``CACHE_SECONDS`` for the same viewer and
    targets (the dashboard panels and the report page: at size L a count over a quarter's
    records takes up to a second, see bench/RESULTS.md).
    """
    if not targets:
        return []
    key = _cache_key(user, targets) if cached else ""
    counted = cache.get(key) if cached else None
    if counted is None:
        counted = _count(user, targets, _subtrees(targets))
        if cached:
            cache.set(key, counted, CACHE_SECONDS)
    rows = []
    for target in targets:
        found = counted.get(target.pk, _Counted(0))
        counts = target.measure != Measure.WON_AMOUNT
        value: Any = int(target.value) if counts else target.value
        actual = found.actual
        rows.append(
            {
                "id": target.pk,
                "name": str(target),
                "measure": target.measure,
                "measure_label": str(Measure(target.measure).label),
                "scope_label": scope_label(target),
                "segment_label": segment_label(target),
                "period_kind": target.period_kind,
                "start": target.start,
                "end": target.end,
                "department_id": target.department_id,
                "owner_id": target.owner_id,
                "parent_id": target.parent_id,
                "version": target.version,
                "value": value,
                "actual": actual,
                "attainment_pct": share(actual, value),
                "gap": max(value - actual, 0 if counts else Decimal(0)),
                "met": actual >= value,
                "amounts_hidden": found.hidden,
            }
        )
    return sorted(rows, key=_order)


def _order(row: dict[str, Any]) -> tuple[Any, ...]:
    # Period, then whose, then each target followed by its parts.
    return (row["start"], row["end"], row["owner_id"] is not None, row["scope_label"],
            row["parent_id"] or row["id"], row["parent_id"] is not None, row["id"])  # fmt: skip


def target_progress(
    *,
    user: Any,
    start: date,
    end: date,
    department_id: int | None = None,
    owner_id: int | None = None,
    cached: bool = False,
) -> list[dict[str, Any]]:
    """The progress of the targets ``user`` sees in ``start``..``end`` (the public selector the
    quarterly review and the dashboard use): dicts with ``id, name, measure, measure_label,
    scope_label, value, actual, attainment_pct, gap`` (and the period, segment and ``met``)."""
    targets = visible_targets(
        user=user, start=start, end=end, department_id=department_id, owner_id=owner_id
    )
    return progress_rows(user=user, targets=targets, cached=cached)


def one_progress(*, user: Any, target_id: int) -> dict[str, Any]:
    """One target's progress (404 outside the user's scope)."""
    return progress_rows(user=user, targets=[target_for(user=user, target_id=target_id)])[0]
