"""Claims, assignments, releases and puts between owners and pools, within the limits."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.db import models, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from kehu.accounts.models import User
from kehu.core.access import is_admin, lock_editable, managed_department_ids, policy_of
from kehu.core.errors import Conflict, Forbidden, NotFound
from kehu.customers.models import Customer
from kehu.customers.services import customer_set_owner
from kehu.pools.access import manages_pool
from kehu.pools.models import EventKind, Pool, PoolEntry, PoolEvent
from kehu.pools.services.pools import (
    _clean_reason,
    _field_error,
    _require_admin,
    home_pools,
    is_member,
    member_pool_or_404,
)


class LimitReached(Conflict):
    """A claim or assignment refused by one of the pool's limits."""

    code = "limit_reached"


def day_start(now: datetime | None = None) -> datetime:
    local = timezone.localtime(now or timezone.now())
    return local.replace(hour=0, minute=0, second=0, microsecond=0)


@dataclass(frozen=True)
class Usage:
    """How much of a pool's limits a rep has used (0 as a limit means "no limit")."""

    held: int
    held_limit: int
    claimed_today: int
    daily_limit: int

    @property
    def held_full(self) -> bool:
        return bool(self.held_limit) and self.held >= self.held_limit

    @property
    def daily_full(self) -> bool:
        return bool(self.daily_limit) and self.claimed_today >= self.daily_limit

    @property
    def can_claim(self) -> bool:
        return not (self.held_full or self.daily_full)


def usage_for(*, user: Any, pool: Pool, now: datetime | None = None) -> Usage:
    return usages_for(user=user, pools=[pool], now=now)[pool.pk]


def usages_for(
    *, user: Any, pools: Sequence[Pool], now: datetime | None = None
) -> dict[int, Usage]:
    """The user's usage of each pool's limits, in two queries whatever the number of pools."""
    held = Customer.objects.filter(owner_id=user.pk).count()
    claimed = dict(
        PoolEvent.objects.filter(
            user_id=user.pk,
            pool__in=[pool.pk for pool in pools],
            kind=EventKind.CLAIMED,
            at__gte=day_start(now),
        )
        .values("pool_id")
        .annotate(count=models.Count("pk"))
        .values_list("pool_id", "count")
    )
    return {
        pool.pk: Usage(
            held, pool.max_held_per_rep, claimed.get(pool.pk, 0), pool.max_claims_per_day
        )
        for pool in pools
    }


def _check_held_limit(user: Any, pool: Pool, usage: Usage, *, own: bool) -> None:
    if usage.held_full:
        if own:
            message = _(
                "You already hold %(held)d customers, the most this pool allows (%(limit)d). "
                "Release a customer first."
            )
        else:
            message = _(
                "%(user)s already holds %(held)d customers, the most this pool allows (%(limit)d)."
            )
        raise LimitReached(
            message % {"user": user, "held": usage.held, "limit": usage.held_limit},
            code="held_limit",
        )


def _lock_pool_customer(pool: Pool, customer_id: int) -> tuple[Customer, PoolEntry]:
    """Lock the customer row; answer 404 if it is not in the pool, 409 if just taken."""
    customer = Customer.objects.select_for_update().filter(pk=customer_id).first()
    entry = (
        PoolEntry.objects.select_for_update().filter(customer_id=customer_id, pool=pool).first()
        if customer is not None
        else None
    )
    if customer is None or entry is None or customer.owner_id is not None:
        was_here = PoolEvent.objects.filter(pool=pool, customer_id=customer_id).exists()
        if customer is not None and customer.owner_id is not None and was_here:
            raise Conflict(
                _("Someone else took this customer a moment ago."), code="already_claimed"
            )
        raise NotFound("customer")
    return customer, entry


def _take(
    *, customer: Customer, entry: PoolEntry, owner: User, actor: User, kind: str, reason: str
) -> Customer:
    customer_set_owner(actor=actor, customer=customer, owner=owner, reason=reason)
    PoolEvent.objects.create(
        pool_id=entry.pool_id, customer=customer, kind=kind, user=owner, actor=actor, reason=reason
    )
    entry.delete()
    return customer


def cooling_until(
    *, user: Any, pool: Pool, entry: PoolEntry, now: datetime | None = None
) -> datetime | None:
    """Until when ``user`` may not claim the customer back (None: they may claim it now)."""
    if entry.previous_owner_id != user.pk or not pool.cooling_days:
        return None
    until = entry.entered_at + timedelta(days=pool.cooling_days)
    return until if until > (now or timezone.now()) else None


@transaction.atomic
def pool_claim(*, actor: User, pool_id: int, customer_id: int) -> Customer:
    """领取: a pool member takes an owner-less customer, within the pool's limits.

    Race-safe: the rep's own row is locked first (their concurrent claims queue, so the
    limits hold), then the customer row; of two reps claiming one customer, the second
    finds it taken after the first commits and gets a 409.
    """
    pool = member_pool_or_404(actor, pool_id)
    User.objects.select_for_update().filter(pk=actor.pk).values_list("pk", flat=True).first()
    customer, entry = _lock_pool_customer(pool, customer_id)
    now = timezone.now()
    cooling = cooling_until(user=actor, pool=pool, entry=entry, now=now)
    if cooling is not None:
        until = timezone.localtime(cooling)
        raise LimitReached(
            _(
                "You gave up this customer on %(date)s; you can claim it again after "
                "%(until)s (cooling period of %(days)d days)."
            )
            % {
                "date": f"{timezone.localtime(entry.entered_at):%Y-%m-%d}",
                "until": f"{until:%Y-%m-%d %H:%M}",
                "days": pool.cooling_days,
            },
            code="cooling",
        )
    usage = usage_for(user=actor, pool=pool, now=now)
    _check_held_limit(actor, pool, usage, own=True)
    if usage.daily_full:
        raise LimitReached(
            _("You have claimed %(count)d customers from this pool today, the daily limit.")
            % {"count": usage.claimed_today},
            code="daily_limit",
        )
    reason = _("Claimed from pool %(pool)s") % {"pool": pool.name}
    return _take(
        customer=customer,
        entry=entry,
        owner=actor,
        actor=actor,
        kind=EventKind.CLAIMED,
        reason=reason,
    )


@transaction.atomic
def pool_assign(
    *, actor: User, pool_id: int, customer_id: int, assignee: User | int | str, reason: str = ""
) -> Customer:
    """A manager of the pool (or an admin) gives a pool customer to a member of the pool.

    ``assignee`` may be the user's id as a form posts it; one that is not a number is refused
    like an unknown user."""
    pool = member_pool_or_404(actor, pool_id)
    if not manages_pool(actor, pool):
        raise Forbidden(_("Only managers of the pool's departments may assign from it."))
    assignee_id = assignee.pk if isinstance(assignee, User) else assignee
    try:
        target = User.objects.select_for_update().filter(pk=int(assignee_id)).first()
    except (TypeError, ValueError):
        target = None
    if target is None or not target.is_active:
        raise _field_error("assignee", _("Choose an active user."))
    if not is_member(target, pool):
        raise _field_error(
            "assignee", _("%(user)s is not a member of this pool.") % {"user": target}
        )
    if not is_admin(actor) and target.department_id not in managed_department_ids(actor):
        raise _field_error("assignee", _("Choose someone in your department."))
    note = _clean_reason(reason, required=False)
    customer, entry = _lock_pool_customer(pool, customer_id)
    _check_held_limit(target, pool, usage_for(user=target, pool=pool), own=False)
    text = _("Assigned from pool %(pool)s") % {"pool": pool.name}
    return _take(
        customer=customer,
        entry=entry,
        owner=target,
        actor=actor,
        kind=EventKind.ASSIGNED,
        reason=f"{text}: {note}" if note else text,
    )


def _put(
    *,
    customer: Customer,
    pool: Pool,
    actor: User | None,
    kind: str,
    reason: str,
    released_by: User | None,
) -> PoolEntry:
    """Move a locked customer into ``pool``: no owner, a PoolEntry, an event, history."""
    previous = customer.owner
    now = timezone.now()
    customer_set_owner(actor=actor, customer=customer, owner=None, reason=reason)
    entry, _created = PoolEntry.objects.update_or_create(
        customer=customer,
        defaults={
            "pool": pool,
            "entered_at": now,
            "reason": reason[:300],
            "released_by": released_by,
            "released_at": now if released_by is not None else None,
            "previous_owner": previous,
        },
    )
    PoolEvent.objects.create(
        pool=pool, customer=customer, kind=kind, user=previous, actor=actor, reason=reason[:300]
    )
    return entry


@transaction.atomic
def pool_release(
    *, actor: User, customer_id: int, reason: str, pool_id: int | None = None
) -> PoolEntry:
    """退回: the owner (or their manager, or an admin) gives a customer back to a pool.

    The pool defaults to the one covering the customer's department; a pool the actor
    belongs to can be named instead. The previous owner cannot claim it back during the
    pool's cooling period.
    """
    text = _clean_reason(reason)
    customer = lock_editable(Customer.objects.all(), actor, pk=customer_id)
    if customer.owner_id is None:
        raise Conflict(_("This customer is already in a pool."), code="already_in_pool")
    if not policy_of(Customer).has_full_access(actor, customer):
        raise Forbidden(_("Only the owner, their manager or an administrator may release it."))
    if pool_id is not None:
        pool = member_pool_or_404(actor, pool_id)
    else:
        found = home_pools([customer.department_id]).get(customer.department_id or 0)
        if found is None:
            raise _field_error(
                "pool", _("No pool covers this customer's department; choose a pool.")
            )
        pool = found
    return _put(
        customer=customer,
        pool=pool,
        actor=actor,
        kind=EventKind.RELEASED,
        reason=_("Released to pool %(pool)s: %(reason)s") % {"pool": pool.name, "reason": text},
        released_by=actor,
    )


@transaction.atomic
def pool_put(*, actor: User, customer_id: int, pool_id: int, reason: str) -> PoolEntry:
    """An admin puts any customer (held or owner-less) into a pool, or moves it between pools."""
    pool = member_pool_or_404(actor, pool_id)  # a pool one is no member of does not leak
    _require_admin(actor)
    text = _clean_reason(reason)
    customer = Customer.objects.select_for_update().filter(pk=customer_id).first()
    if customer is None:
        raise NotFound("customer")
    return _put(
        customer=customer,
        pool=pool,
        actor=actor,
        kind=EventKind.ENTERED,
        reason=_("Put into pool %(pool)s: %(reason)s") % {"pool": pool.name, "reason": text},
        released_by=None,
    )


# --- Recycling --------------------------------------------------------------------------------
