"""Reads of the retention workflow: what falls due under each policy, the review lists with
the live names of their records, the legal holds. Administrators only; every read is a fixed
number of queries (one per policy, whose set is fixed, plus one for the holds)."""

from __future__ import annotations

import calendar
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any

from django.db import models
from django.db.models import F, OuterRef, Subquery
from django.db.models.functions import Coalesce, Greatest
from django.utils import timezone
from django.utils.translation import gettext as _

from kehu.accounts.models import User
from kehu.core.access import is_admin
from kehu.core.errors import Forbidden, InvalidInput, NotFound
from kehu.customers.models import Customer, StatusChange
from kehu.governance.models import (
    DestructionBatch,
    DestructionItem,
    ItemStatus,
    LegalHold,
    RecordKind,
    RetentionPolicy,
)
from kehu.governance.services.holds import held_ids
from kehu.leads.models import Lead, LeadStatus


def require_admin(user: User) -> None:
    if not is_admin(user):
        raise Forbidden(_("Only administrators manage retention and legal holds."))


# --- Dates ------------------------------------------------------------------------------------


def add_years(day: date, years: int) -> date:
    try:
        return day.replace(year=day.year + years)
    except ValueError:  # 29 February in a year without one
        return day.replace(year=day.year + years, day=28)


def month_start(day: date) -> date:
    return day.replace(day=1)


def next_month(day: date) -> date:
    last = calendar.monthrange(day.year, day.month)[1]
    return day.replace(day=last) + timedelta(days=1)


def month_end(month: date) -> date:
    return month.replace(day=calendar.monthrange(month.year, month.month)[1])


def _end_of(day: date) -> datetime:
    """The last moment of ``day`` in the local time zone."""
    return timezone.make_aware(datetime.combine(day + timedelta(days=1), time.min)) - timedelta(
        microseconds=1
    )


# --- Due records ------------------------------------------------------------------------------


def customer_last_activity() -> Any:
    """A customer's last activity: its last contact (follow-ups keep ``last_contact_at``) or
    its last status change (becoming churned), whichever is later; its creation if neither."""
    changed = (
        StatusChange.objects.filter(customer_id=OuterRef("pk"))
        .order_by("-changed_at")
        .values("changed_at")[:1]
    )
    return Greatest(
        Coalesce(F("last_contact_at"), F("created_at")),
        Coalesce(Subquery(changed), F("created_at")),
    )


LEAD_BASIS = {
    LeadStatus.CLOSED: "invalidated_at",  # closed as invalid after review
    LeadStatus.CONVERTED: "converted_at",  # the customer keeps its own copy of the data
}


@dataclass(frozen=True)
class DueRow:
    kind: str
    object_id: int
    name: str
    policy_key: str
    last_activity: datetime
    due_on: date
    held: bool = False


def _due_rows(policy: RetentionPolicy, until: date, ids: list[int] | None) -> list[DueRow]:
    """The records ``policy`` makes due on or before ``until`` (one query)."""
    cutoff = _end_of(add_years(until, -policy.years))
    rows: Any
    if policy.kind == RecordKind.CUSTOMER:
        queryset: models.QuerySet[Any] = Customer.objects.filter(status=policy.status)
        queryset = queryset.annotate(activity=customer_last_activity())
        name_field = "name"
    else:
        basis = LEAD_BASIS.get(policy.status, "updated_at")  # type: ignore[call-overload]
        queryset = Lead.objects.filter(status=policy.status).annotate(
            activity=Coalesce(F(basis), F("updated_at"))
        )
        name_field = "contact_name"
    if ids is not None:
        queryset = queryset.filter(pk__in=ids)
    rows = queryset.filter(activity__lte=cutoff).order_by("activity", "pk")
    if policy.kind == RecordKind.LEAD:
        values = rows.values_list("pk", "company_name", name_field, "activity")
        found = [(pk, company or person, activity) for pk, company, person, activity in values]
    else:
        found = list(rows.values_list("pk", name_field, "activity"))
    return [
        DueRow(
            kind=policy.kind,
            object_id=pk,
            name=name,
            policy_key=policy.key,
            last_activity=activity,
            due_on=add_years(timezone.localdate(activity), policy.years),
        )
        for pk, name, activity in found
    ]


def due_records(
    *, until: date, policies: list[RetentionPolicy] | None = None, ids: dict[str, list[int]] | None
) -> list[DueRow]:
    """Every record an active policy makes due on or before ``until``, customers under a legal
    hold marked ``held``; ``ids`` limits the look-up to those records (per kind)."""
    if policies is None:
        policies = list(RetentionPolicy.objects.filter(is_active=True))
    rows: list[DueRow] = []
    for policy in policies:
        if not policy.is_active:
            continue
        wanted = None if ids is None else ids.get(policy.kind, [])
        if wanted == []:
            continue
        rows.extend(_due_rows(policy, until, wanted))
    held = held_ids(row.object_id for row in rows if row.kind == RecordKind.CUSTOMER)
    if held:
        rows = [
            DueRow(**{**row.__dict__, "held": True})
            if row.kind == RecordKind.CUSTOMER and row.object_id in held
            else row
            for row in rows
        ]
    return sorted(rows, key=lambda row: (row.due_on, row.kind, row.object_id))


FIRST_YEAR, LAST_YEAR = 2000, 2999  # the months a review may concern


def review_month(month: date | None) -> date:
    """The first day of ``month`` (next month when None); 422 outside the years Kehu handles
    (date arithmetic on year 1 or 9999 would overflow)."""
    if month is None:
        return next_month(timezone.localdate())
    if not FIRST_YEAR <= month.year <= LAST_YEAR:
        raise InvalidInput(
            errors={
                "month": [
                    _("Give a month between %(first)s and %(last)s.")
                    % {"first": FIRST_YEAR, "last": LAST_YEAR}
                ]
            }
        )
    return month_start(month)


def due_list(*, user: User, month: date | None = None) -> list[DueRow]:
    """What falls due by the end of ``month`` (next month by default), overdue records too."""
    require_admin(user)
    month = review_month(month)
    return due_records(until=month_end(month), ids=None)


# --- Policies, review lists and holds ---------------------------------------------------------


def policy_list(*, user: User) -> models.QuerySet[RetentionPolicy]:
    require_admin(user)
    return RetentionPolicy.objects.all()


def policy_get(*, user: User, policy_id: int) -> RetentionPolicy:
    require_admin(user)
    policy = RetentionPolicy.objects.filter(pk=policy_id).first()
    if policy is None:
        raise NotFound(_("No such retention policy."))
    return policy


def _with_counts(batches: models.QuerySet[DestructionBatch]) -> models.QuerySet[DestructionBatch]:
    """Each list's item count and its count per item status, in the same query."""
    per_status = {
        f"n_{status}": models.Count("items", filter=models.Q(items__status=status))
        for status in ItemStatus.values
    }
    return batches.annotate(item_count=models.Count("items"), **per_status)


def counts_of(batch: DestructionBatch) -> dict[str, int]:
    """The per-status counts of a list read through ``batch_list``/``batch_get``."""
    return {
        status: count for status in ItemStatus.values if (count := getattr(batch, f"n_{status}", 0))
    }


def batch_list(*, user: User) -> models.QuerySet[DestructionBatch]:
    require_admin(user)
    # the aggregate's GROUP BY drops Meta.ordering: the pages need it for stable pages
    batches = DestructionBatch.objects.select_related("approved_by")
    return _with_counts(batches).order_by("-month", "-id")


def batch_get(*, user: User, batch_id: int) -> DestructionBatch:
    require_admin(user)
    batch = _with_counts(DestructionBatch.objects.select_related("approved_by")).filter(pk=batch_id)
    found = batch.first()
    if found is None:
        raise NotFound(_("No such destruction review."))
    return found


def batch_items(batch: DestructionBatch) -> models.QuerySet[DestructionItem]:
    return DestructionItem.objects.filter(batch=batch).order_by("due_on", "kind", "object_id")


def item_names(items: list[DestructionItem]) -> dict[tuple[str, int], str]:
    """The live names of the items' records (two queries); a destroyed record has none."""
    customers = [item.object_id for item in items if item.kind == RecordKind.CUSTOMER]
    leads = [item.object_id for item in items if item.kind == RecordKind.LEAD]
    names: dict[tuple[str, int], str] = {}
    if customers:
        for pk, name in Customer.objects.filter(pk__in=customers).values_list("pk", "name"):
            names[(RecordKind.CUSTOMER, pk)] = name
    if leads:
        for pk, company, person in Lead.objects.filter(pk__in=leads).values_list(
            "pk", "company_name", "contact_name"
        ):
            names[(RecordKind.LEAD, pk)] = company or person
    return names


def batch_counts(batch: DestructionBatch) -> dict[str, int]:
    rows = (
        DestructionItem.objects.filter(batch=batch)
        .order_by()
        .values_list("status")
        .annotate(n=models.Count("pk"))
    )
    return {str(status): int(n) for status, n in rows}


def hold_list(*, user: User, active: bool | None = True) -> models.QuerySet[LegalHold]:
    require_admin(user)
    holds = LegalHold.objects.select_related("customer", "set_by", "removed_by")
    if active is True:
        holds = holds.filter(removed_at__isnull=True)
    elif active is False:
        holds = holds.filter(removed_at__isnull=False)
    return holds


def customer_holds(customer_id: int) -> list[LegalHold]:
    return list(
        LegalHold.objects.filter(customer_id=customer_id).select_related("set_by", "removed_by")
    )
