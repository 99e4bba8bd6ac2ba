"""Recycling: held customers past their pool's deadlines return to the pool."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.apps import apps
from django.conf import settings
from django.db import models, transaction
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from kehu.accounts.models import Department
from kehu.customers.models import Customer
from kehu.pools.models import EventKind, Pool
from kehu.pools.services.claims import _put
from kehu.pools.services.pools import _notify, home_pools


@dataclass(frozen=True)
class RecycleDue:
    customer: Customer
    pool: Pool
    deadline: datetime
    rule: str  # "followup" or "deal"

    @property
    def reason(self) -> str:
        if self.rule == "followup":
            return _("No follow-up for %(days)d days") % {
                "days": self.pool.recycle_no_followup_days
            }
        return _("No deal for %(days)d days") % {"days": self.pool.recycle_no_deal_days}


def owner_since(customers: Sequence[Customer]) -> dict[int, datetime]:
    """When each customer's current owner got it, from the change history (one query)."""
    if not customers:
        return {}
    owners = {c.pk: c.owner_id for c in customers}
    since: dict[int, datetime] = {}
    rows = (
        Customer.history.filter(id__in=list(owners))
        .order_by("id", "history_date", "history_id")
        .values_list("id", "owner_id", "history_date")
    )
    for customer_id, owner_id, when in rows:
        if owner_id != owners[customer_id]:
            since.pop(customer_id, None)
        elif customer_id not in since:
            since[customer_id] = when
    return since


def _last_deals(customer_ids: Sequence[int]) -> dict[int, datetime] | None:
    """Latest won deal per customer, or None when the opportunities app is not installed."""
    try:
        opportunity = apps.get_model("opportunities", "Opportunity")
    except LookupError:
        return None
    rows = (
        opportunity.objects.filter(customer_id__in=customer_ids, stage__kind="won")
        .values("customer_id")
        .annotate(last=models.Max(models.functions.Coalesce("closed_at", "updated_at")))
    )
    return {row["customer_id"]: row["last"] for row in rows}


def recycle_due(
    customers: Sequence[Customer], pools: dict[int, Pool], *, now: datetime
) -> list[RecycleDue]:
    """The recycle deadline of each held customer under its home pool's rules.

    Follow-up rule: ``max(last contact, owner since, created)`` + N days. Deal rule: ``max(last
    won deal, owner since, created)`` + M days. The earlier deadline counts.
    """
    held = [c for c in customers if c.owner_id is not None and c.department_id in pools]
    since = owner_since(held)
    deals = _last_deals([c.pk for c in held]) or {}
    has_deals = apps.is_installed("kehu.opportunities")
    result: list[RecycleDue] = []
    for customer in held:
        pool = pools[customer.department_id or 0]
        base = max(customer.created_at, since.get(customer.pk, customer.created_at))
        options: list[tuple[datetime, str]] = []
        if pool.recycle_no_followup_days:
            touched = max(base, customer.last_contact_at or base)
            options.append((touched + timedelta(days=pool.recycle_no_followup_days), "followup"))
        if pool.recycle_no_deal_days and has_deals:
            dealt = max(base, deals.get(customer.pk) or base)
            options.append((dealt + timedelta(days=pool.recycle_no_deal_days), "deal"))
        if options:
            deadline, rule = min(options, key=lambda option: option[0])
            result.append(RecycleDue(customer, pool, deadline, rule))
    return result


def _candidates(now: datetime, pools: dict[int, Pool]) -> list[Customer]:
    """Held customers of pooled departments that could be due within the warning window."""
    if not pools:
        return []
    horizon = 0
    for pool in pools.values():
        days = [d for d in (pool.recycle_no_followup_days, pool.recycle_no_deal_days) if d]
        if days:
            horizon = max(horizon, pool.warn_days_before - min(days))
    cutoff = now + timedelta(days=horizon)
    return list(
        Customer.objects.filter(
            owner__isnull=False, department_id__in=list(pools), created_at__lte=cutoff
        )
        .select_related("owner")
        .only(
            "pk",
            "name",
            "number",
            "owner",
            "department_id",
            "created_at",
            "last_contact_at",
            "version",
        )
        .order_by("pk")
    )


@dataclass
class RecycleResult:
    recycled: list[int] = field(default_factory=list)
    warned: list[int] = field(default_factory=list)


def pool_recycle_run(*, now: datetime | None = None) -> RecycleResult:
    """The daily job: warn owners D days ahead, then return overdue customers to their pool.

    Each customer moves in its own transaction (row locked, re-checked), so one failure or a
    concurrent claim does not undo the others. Reasons and messages are written in the
    site's language (``KEHU_LANGUAGE``), whatever language the caller had active.
    """
    with translation.override(settings.LANGUAGE_CODE):
        return _recycle_run(now or timezone.now())


def _recycle_run(now: datetime) -> RecycleResult:
    all_departments = Department.objects.values_list("pk", flat=True)
    pools = home_pools(list(all_departments))
    result = RecycleResult()
    for due in recycle_due(_candidates(now, pools), pools, now=now):
        if due.deadline <= now:
            if _recycle_one(due, now=now):
                result.recycled.append(due.customer.pk)
        elif due.deadline <= now + timedelta(days=due.pool.warn_days_before):
            local = timezone.localtime(due.deadline)
            sent = _notify(
                recipients=[due.customer.owner] if due.customer.owner else [],
                kind="pools.recycle_warning",
                title=_("%(customer)s returns to pool %(pool)s on %(date)s")
                % {
                    "customer": due.customer.name,
                    "pool": due.pool.name,
                    "date": f"{local:%Y-%m-%d}",
                },
                body=_("%(reason)s. Record a follow-up or a deal before then to keep it.")
                % {"reason": due.reason},
                url=f"/customers/{due.customer.pk}/",
                dedupe_key=f"pools:recycle-warning:{due.customer.pk}:{local:%Y-%m-%d}",
            )
            if sent:
                result.warned.append(due.customer.pk)
    return result


@transaction.atomic
def _recycle_one(due: RecycleDue, *, now: datetime) -> bool:
    locked = Customer.objects.select_for_update().filter(pk=due.customer.pk).first()
    if locked is None or locked.owner_id != due.customer.owner_id:
        return False
    fresh = recycle_due([locked], {locked.department_id or 0: due.pool}, now=now)
    if not fresh or fresh[0].deadline > now:
        return False
    owner = locked.owner
    reason = _("Recycled to pool %(pool)s: %(reason)s") % {
        "pool": due.pool.name,
        "reason": fresh[0].reason,
    }
    _put(
        customer=locked,
        pool=due.pool,
        actor=None,
        kind=EventKind.RECYCLED,
        reason=reason,
        released_by=None,
    )
    if owner is not None:
        _notify(
            recipients=[owner],
            kind="pools.recycled",
            title=_("%(customer)s returned to pool %(pool)s")
            % {"customer": locked.name, "pool": due.pool.name},
            body=reason,
            url=f"/pools/{due.pool.pk}/",
            dedupe_key=f"pools:recycled:{locked.pk}:{timezone.localdate(now):%Y-%m-%d}",
        )
    return True
