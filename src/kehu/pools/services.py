"""Every write of the pools app: claim, assign, release, recycle, pool settings, offboarding.

Public functions (keyword-only, explicit acting user):
``pool_create``, ``pool_update``, ``pool_claim``, ``pool_assign``, ``pool_release``,
``pool_put``, ``pool_recycle_run``, ``offboarding_plan``, ``offboarding_apply``,
``contact_reveal``.
"""

from __future__ import annotations

import itertools
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from django.apps import apps
from django.conf import settings
from django.core.exceptions import FieldDoesNotExist
from django.db import models, transaction
from django.http import Http404
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from kehu.accounts.models import Department, User
from kehu.core import config
from kehu.core.access import is_admin, managed_department_ids, policy_of
from kehu.core.context import current_request_id
from kehu.core.errors import Conflict, Forbidden, InvalidInput, QuotaExceeded
from kehu.core.history import stamp
from kehu.core.models import VersionedModel
from kehu.core.services import bump_version, check_version, validate
from kehu.customers.models import Contact, Customer
from kehu.pools import masking
from kehu.pools.access import manages_pool, member_pool_filter
from kehu.pools.models import EventKind, Offboarding, Pool, PoolEntry, PoolEvent, RevealLog

HANDOVER_REASON = "离职交接"  # the business term, stored as the history reason of a handover
POOL_FIELDS = (
    "name",
    "description",
    "max_held_per_rep",
    "max_claims_per_day",
    "recycle_no_followup_days",
    "recycle_no_deal_days",
    "warn_days_before",
    "cooling_days",
    "is_active",
)


class LimitReached(Conflict):
    """A claim or assignment refused by one of the pool's limits."""

    code = "limit_reached"


def _field_error(name: str, message: str) -> InvalidInput:
    return InvalidInput(message, errors={name: [message]})


def _clean_reason(reason: str, *, required: bool = True) -> str:
    text = (reason or "").strip()
    if required and not text:
        raise _field_error("reason", _("Give a reason."))
    if len(text) > 300:
        raise _field_error("reason", _("Keep the reason under 300 characters."))
    return text


def _require_admin(actor: Any) -> None:
    if not is_admin(actor):
        raise Forbidden(_("Only CRM administrators may do this."))


# --- Pools ------------------------------------------------------------------------------------


def _resolve_departments(values: Iterable[Any]) -> list[Department]:
    ids: list[int] = []
    for value in values:
        try:
            ids.append(int(value.pk if isinstance(value, Department) else value))
        except (TypeError, ValueError) as error:
            raise _field_error("departments", _("Choose existing departments.")) from error
    found = list(Department.objects.filter(pk__in=ids))
    if len(found) != len(set(ids)):
        raise _field_error("departments", _("Choose existing departments."))
    return found


@transaction.atomic
def pool_create(*, actor: User, data: dict[str, Any], departments: Iterable[Any] = ()) -> Pool:
    """A new pool (admins); ``data`` holds the name and the per-pool limits."""
    _require_admin(actor)
    unknown = sorted(set(data) - set(POOL_FIELDS))
    if unknown:
        raise InvalidInput(errors={name: [_("This field cannot be set here.")] for name in unknown})
    pool = Pool(**data)
    validate(pool)
    member_departments = _resolve_departments(departments)
    stamp(pool, actor=actor, reason=_("Created"))
    pool.save()
    pool.departments.set(member_departments)
    return pool


@transaction.atomic
def pool_update(
    *,
    actor: User,
    pool: Pool,
    changes: dict[str, Any],
    departments: Iterable[Any] | None = None,
    version: int | None = None,
) -> Pool:
    """Change a pool's name, limits or member departments (admins)."""
    _require_admin(actor)
    locked = Pool.objects.select_for_update().get(pk=pool.pk)
    check_version(locked, version)
    unknown = sorted(set(changes) - set(POOL_FIELDS))
    if unknown:
        raise InvalidInput(errors={name: [_("This field cannot be set here.")] for name in unknown})
    for name, value in changes.items():
        setattr(locked, name, value)
    validate(locked)
    bump_version(locked)
    stamp(locked, actor=actor)
    locked.save()
    if departments is not None:
        locked.departments.set(_resolve_departments(departments))
    return locked


def member_pool_or_404(user: Any, pool_id: int) -> Pool:
    """An active pool the user belongs to; any other pool answers 404."""
    pool = (
        Pool.objects.filter(member_pool_filter(user), pk=pool_id, is_active=True).distinct().first()
    )
    if pool is None:
        raise Http404(_("customer pool"))
    return pool


def is_member(user: Any, pool: Pool) -> bool:
    return Pool.objects.filter(member_pool_filter(user), pk=pool.pk).exists()


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
        raise Http404(_("customer"))
    return customer, entry


def _take(
    *, customer: Customer, entry: PoolEntry, owner: User, actor: User, kind: str, reason: str
) -> Customer:
    customer.owner = owner
    customer.department_id = owner.department_id
    bump_version(customer)
    stamp(customer, actor=actor, reason=reason)
    customer.save()
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
    *, actor: User, pool_id: int, customer_id: int, assignee: User | int, reason: str = ""
) -> Customer:
    """A manager of the pool (or an admin) gives a pool customer to a member of the pool."""
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


def home_pools(department_ids: Iterable[int | None]) -> dict[int, Pool]:
    """The pool each department's customers belong to: the active pool with the deepest
    member department at or above it (ties: the oldest pool)."""
    wanted = {pk for pk in department_ids if pk}
    if not wanted:
        return {}
    paths = dict(Department.objects.filter(pk__in=wanted).values_list("pk", "path"))
    links = (
        Pool.departments.through.objects.filter(pool__is_active=True)
        .select_related("pool", "department")
        .order_by("pool_id")
    )
    by_department: dict[int, list[tuple[int, Pool]]] = defaultdict(list)
    for link in links:
        by_department[link.department_id].append((len(link.department.path), link.pool))
    result: dict[int, Pool] = {}
    for department_id, path in paths.items():
        best: tuple[int, Pool] | None = None
        for part in (path or "").split("/"):
            if not part:
                continue
            for depth, pool in by_department.get(int(part), []):
                if best is None or depth > best[0]:
                    best = (depth, pool)
        if best is not None:
            result[department_id] = best[1]
    return result


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
    customer.owner = None
    bump_version(customer)
    stamp(customer, actor=actor, reason=reason)
    customer.save()
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
    customer = (
        Customer.objects.select_for_update()
        .filter(pk=customer_id)
        .filter(policy_of(Customer).edit_filter(actor))
        .first()
    )
    if customer is None:
        raise Http404(_("customer"))
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
    _require_admin(actor)
    text = _clean_reason(reason)
    pool = Pool.objects.filter(pk=pool_id, is_active=True).first()
    if pool is None:
        raise Http404(_("customer pool"))
    customer = Customer.objects.select_for_update().filter(pk=customer_id).first()
    if customer is None:
        raise Http404(_("customer"))
    return _put(
        customer=customer,
        pool=pool,
        actor=actor,
        kind=EventKind.ENTERED,
        reason=_("Put into pool %(pool)s: %(reason)s") % {"pool": pool.name, "reason": text},
        released_by=None,
    )


# --- Recycling --------------------------------------------------------------------------------


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


def _notify(
    *, recipients: Iterable[User], kind: str, title: str, body: str, url: str, dedupe_key: str = ""
) -> int:
    if not apps.is_installed("kehu.notifications"):
        return 0
    from kehu.notifications.services import notify

    return notify(
        recipients=recipients, kind=kind, title=title, body=body, url=url, dedupe_key=dedupe_key
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


# --- Contact reveal (查看) ---------------------------------------------------------------------


@dataclass(frozen=True)
class Revealed:
    """A contact's values as shown by ``contact_reveal``; ``logged`` when it was a reveal."""

    contact: Contact
    values: dict[str, str]
    logged: bool
    remaining_today: int | None = None


def _today_start() -> datetime:
    return timezone.localtime().replace(hour=0, minute=0, second=0, microsecond=0)


@transaction.atomic
def contact_reveal(*, actor: User, contact_id: int) -> Revealed:
    """查看: show a contact's phones, email and WeChat to a user who sees them masked.

    Out of the user's scope: 404. With full access nothing is masked, so nothing is logged.
    Otherwise the role must be in ``customers.contact_reveal_roles`` (403) and the user may
    show at most ``customers.contact_reveal_daily_limit`` different contacts a day (429);
    every reveal is logged with the request id.
    """
    contact = (
        Contact.objects.select_related("customer")
        .filter(pk=contact_id, customer__in=Customer.objects.visible_to(actor))
        .first()
    )
    if contact is None:
        raise Http404(_("contact"))
    values = masking.contact_values(contact, masked=False)
    if policy_of(Customer).has_full_access(actor, contact.customer):
        return Revealed(contact=contact, values=values, logged=False)
    if not masking.may_reveal(actor):
        raise Forbidden(_("Your role may not show masked contact details."))
    # One user's reveals run one at a time, so two tabs cannot both take the last one.
    User.objects.select_for_update().filter(pk=actor.pk).exists()
    limit = int(config.get("customers.contact_reveal_daily_limit"))
    today = RevealLog.objects.filter(user=actor, at__gte=_today_start())
    shown = set(today.values_list("contact_id", flat=True).distinct())
    if contact.pk not in shown and len(shown) >= limit:
        raise QuotaExceeded(
            _(
                "You have shown %(limit)d contacts today, the daily limit. "
                "Try again tomorrow or ask the owner."
            )
            % {"limit": limit}
        )
    RevealLog.objects.create(
        user=actor,
        contact=contact,
        customer=contact.customer,
        fields=",".join(name for name, value in values.items() if value),
        request_id=current_request_id(),
    )
    shown.add(contact.pk)
    return Revealed(
        contact=contact, values=values, logged=True, remaining_today=max(limit - len(shown), 0)
    )


# --- Offboarding (离职交接) ---------------------------------------------------------------------


@dataclass(frozen=True)
class TransferKind:
    """One kind of record a leaving user hands over: a model, its user column, and the
    statuses that are finished (finished records stay with the user, as history)."""

    key: str
    model_label: str
    user_field: str
    closed_statuses: tuple[str, ...] = ()

    @property
    def model(self) -> type[models.Model]:
        return apps.get_model(self.model_label)

    @property
    def label(self) -> str:
        return str(self.model._meta.verbose_name_plural)

    def rows(self, user: User) -> models.QuerySet[Any]:
        model: Any = self.model
        rows = model.objects.filter(**{f"{self.user_field}_id": user.pk})
        if self.closed_statuses and _has_field(model, "status"):
            rows = rows.exclude(status__in=self.closed_statuses)
        return rows


KNOWN_KINDS: tuple[TransferKind, ...] = (
    TransferKind("customers", "customers.Customer", "owner"),
    TransferKind("leads", "leads.Lead", "assignee", ("closed", "converted")),
    TransferKind("opportunities", "opportunities.Opportunity", "owner"),
    TransferKind("tasks", "followups.Task", "assignee", ("done", "cancelled")),
    TransferKind("tickets", "service.Ticket", "assignee", ("closed", "resolved", "cancelled")),
)
USER_FIELD_NAMES = ("owner", "assignee")


def _has_field(model: type[models.Model], name: str) -> bool:
    try:
        model._meta.get_field(name)
    except FieldDoesNotExist:
        return False
    return True


def _user_fk(model: type[models.Model], name: str) -> bool:
    if not _has_field(model, name):
        return False
    model_field = model._meta.get_field(name)
    user_model = apps.get_model(settings.AUTH_USER_MODEL)
    return isinstance(model_field, models.ForeignKey) and model_field.related_model is user_model


def transfer_kinds() -> list[TransferKind]:
    """The known kinds whose models are installed, then any other kehu model with an
    ``owner``/``assignee`` foreign key to the user (discovered, transferred as is)."""
    kinds: list[TransferKind] = []
    handled: set[str] = set()
    for kind in KNOWN_KINDS:
        try:
            model = kind.model
        except LookupError:
            continue
        if _user_fk(model, kind.user_field):
            kinds.append(kind)
            handled.add(model._meta.label_lower)
        # A known model with other column names is left to the discovery below.
    for model in apps.get_models():
        meta = model._meta
        if not meta.app_config.name.startswith("kehu.") or meta.label_lower in handled:
            continue
        if meta.app_label == "pools" or (meta.model_name or "").startswith("historical"):
            continue
        for name in USER_FIELD_NAMES:
            if _user_fk(model, name):
                kinds.append(TransferKind(meta.label_lower, meta.label, name))
                break
    return kinds


@dataclass
class PlannedItem:
    kind: str
    pk: int
    label: str
    customer_id: int | None
    successor_id: int | None  # None: the customer goes to the pool


@dataclass
class HandoverPlan:
    user: User
    successors: list[User]
    pool: Pool | None
    mode: str
    items: list[PlannedItem]
    kinds: list[TransferKind]

    def counts(self) -> list[dict[str, Any]]:
        """Per kind: total and per successor (and the pool)."""
        names = {s.pk: str(s) for s in self.successors}
        rows: list[dict[str, Any]] = []
        for kind in self.kinds:
            items = [item for item in self.items if item.kind == kind.key]
            per: dict[int | None, int] = defaultdict(int)
            for item in items:
                per[item.successor_id] += 1
            rows.append(
                {
                    "kind": kind.key,
                    "label": kind.label,
                    "total": len(items),
                    "per_successor": [
                        {"user_id": s.pk, "name": names[s.pk], "count": per.get(s.pk, 0)}
                        for s in self.successors
                    ],
                    "to_pool": per.get(None, 0),
                }
            )
        return rows

    def per_successor(self) -> dict[int, list[PlannedItem]]:
        grouped: dict[int, list[PlannedItem]] = defaultdict(list)
        for item in self.items:
            if item.successor_id is not None:
                grouped[item.successor_id].append(item)
        return grouped

    def summary(self) -> dict[str, Any]:
        return {
            "user_id": self.user.pk,
            "mode": self.mode,
            "pool_id": self.pool.pk if self.pool else None,
            "successors": [{"id": s.pk, "name": str(s)} for s in self.successors],
            "counts": self.counts(),
            "total": len(self.items),
        }


MODES = ("round_robin", "split")


def _resolve_user(value: Any, field_name: str) -> User:
    if isinstance(value, User):
        return value
    try:
        found = User.objects.filter(pk=int(value)).first()
    except (TypeError, ValueError):
        found = None
    if found is None:
        raise _field_error(field_name, _("Choose an existing user."))
    return found


def offboarding_plan(
    *,
    actor: User,
    user: User | int,
    successors: Sequence[User | int] = (),
    mode: str = "round_robin",
    split: dict[str, User | int] | None = None,
    pool: Pool | int | None = None,
) -> HandoverPlan:
    """Preview a handover: every transferable record of ``user`` and who gets it.

    ``round_robin`` deals customers out in turn; ``split`` gives each kind to the successor
    named in ``split`` (``{"customers": id, "leads": id, …}``). With ``pool``, customers return
    to that pool instead. Opportunities and tasks of a transferred customer follow it.
    """
    _require_admin(actor)
    leaving = _resolve_user(user, "user")
    if leaving.pk == actor.pk:
        raise _field_error("user", _("You cannot hand over your own records."))
    if mode not in MODES:
        raise _field_error("mode", _("Choose round robin or an explicit split."))
    chosen: list[User] = []
    for value in successors:
        successor = _resolve_user(value, "successors")
        if successor.pk not in {s.pk for s in chosen}:
            chosen.append(successor)
    split_users: dict[str, User] = {}
    if mode == "split":
        for key, value in (split or {}).items():
            if value in (None, ""):
                continue
            successor = _resolve_user(value, f"split.{key}")
            split_users[key] = successor
            if successor.pk not in {s.pk for s in chosen}:
                chosen.append(successor)
    for successor in chosen:
        if not successor.is_active:
            raise _field_error(
                "successors",
                _("%(user)s is deactivated and cannot take over records; choose an active user.")
                % {"user": successor},
            )
        if successor.pk == leaving.pk:
            raise _field_error("successors", _("The leaving user cannot be their own successor."))
    target_pool: Pool | None = None
    if pool not in (None, ""):
        target_pool = Pool.objects.filter(
            pk=pool.pk if isinstance(pool, Pool) else int(pool),
            is_active=True,
        ).first()
        if target_pool is None:
            raise _field_error("pool", _("Choose an active pool."))
    kinds = transfer_kinds()
    items: list[PlannedItem] = []
    for kind in kinds:
        has_customer = _has_field(kind.model, "customer")
        rows = kind.rows(leaving)
        columns = ["pk", "customer_id"] if has_customer else ["pk"]
        for row in rows.order_by("pk").values(*columns):
            items.append(
                PlannedItem(kind.key, row["pk"], "", row.get("customer_id"), successor_id=None)
            )
    _label_items(items, kinds)
    _distribute(items, chosen, split_users, target_pool, mode)
    unassigned = sorted(
        {item.kind for item in items if item.successor_id is None}
        - ({"customers"} if target_pool else set())
    )
    if unassigned:
        labels = ", ".join(k.label for k in kinds if k.key in unassigned)
        raise _field_error(
            "successors" if mode == "round_robin" else "split",
            _("Choose a successor for: %(kinds)s.") % {"kinds": labels},
        )
    return HandoverPlan(leaving, chosen, target_pool, mode, items, kinds)


def _label_items(items: list[PlannedItem], kinds: list[TransferKind]) -> None:
    by_kind: dict[str, list[PlannedItem]] = defaultdict(list)
    for item in items:
        by_kind[item.kind].append(item)
    for kind in kinds:
        wanted = by_kind.get(kind.key)
        if not wanted:
            continue
        model: Any = kind.model
        labels = {row.pk: str(row) for row in model.objects.filter(pk__in=[i.pk for i in wanted])}
        for item in wanted:
            item.label = labels.get(item.pk, str(item.pk))[:200]


def _distribute(
    items: list[PlannedItem],
    successors: list[User],
    split: dict[str, User],
    pool: Pool | None,
    mode: str,
) -> None:
    turn = itertools.cycle([s.pk for s in successors]) if successors else None
    customer_to: dict[int, int | None] = {}
    for item in items:
        if item.kind != "customers":
            continue
        if pool is not None:
            item.successor_id = None
        elif mode == "split":
            chosen = split.get("customers")
            item.successor_id = chosen.pk if chosen else None
        elif turn is not None:
            item.successor_id = next(turn)
        customer_to[item.pk] = item.successor_id
    for item in items:
        if item.kind == "customers":
            continue
        if mode == "split":
            chosen = split.get(item.kind)
            item.successor_id = chosen.pk if chosen else None
            continue
        follows = customer_to.get(item.customer_id or 0)
        if follows is not None:
            item.successor_id = follows
        elif turn is not None:
            item.successor_id = next(turn)


@transaction.atomic
def offboarding_apply(
    *,
    actor: User,
    user: User | int,
    successors: Sequence[User | int] = (),
    mode: str = "round_robin",
    split: dict[str, User | int] | None = None,
    pool: Pool | int | None = None,
    note: str = "",
) -> Offboarding:
    """Carry out a handover in one transaction, record it, deactivate the user, notify."""
    if len(note) > 500:
        raise _field_error("note", _("Keep the note under 500 characters."))
    plan = offboarding_plan(
        actor=actor, user=user, successors=successors, mode=mode, split=split, pool=pool
    )
    leaving = User.objects.select_for_update().get(pk=plan.user.pk)
    successors_by_pk = {
        s.pk: s
        for s in User.objects.select_for_update().filter(pk__in=[s.pk for s in plan.successors])
    }
    if any(not s.is_active for s in successors_by_pk.values()):
        raise _field_error("successors", _("A successor was deactivated meanwhile; preview again."))
    kinds = {kind.key: kind for kind in plan.kinds}
    reason = HANDOVER_REASON
    for item in plan.items:
        kind = kinds[item.kind]
        model: Any = kind.model
        row = (
            model.objects.select_for_update()
            .filter(pk=item.pk, **{f"{kind.user_field}_id": leaving.pk})
            .first()
        )
        if row is None:
            continue
        if item.successor_id is None and plan.pool is not None and kind.key == "customers":
            _put(
                customer=row,
                pool=plan.pool,
                actor=actor,
                kind=EventKind.ENTERED,
                reason=f"{reason}: {leaving}",
                released_by=None,
            )
            continue
        successor = successors_by_pk[item.successor_id or 0]
        setattr(row, kind.user_field, successor)
        if _has_department(model):
            row.department_id = successor.department_id
        if isinstance(row, VersionedModel):
            bump_version(row)
        stamp(row, actor=actor, reason=reason)
        row.save()
    offboarding = Offboarding.objects.create(
        user=leaving,
        actor=actor,
        mode=plan.mode,
        pool=plan.pool,
        note=note.strip(),
        summary=plan.summary(),
    )
    if leaving.is_active:
        leaving.is_active = False
        stamp(leaving, actor=actor, reason=reason)
        leaving.save()
    for successor_id, items in plan.per_successor().items():
        lines = [f"{kinds[item.kind].label}: {item.label}" for item in items[:200]]
        if len(items) > 200:
            lines.append(_("… and %(count)d more") % {"count": len(items) - 200})
        _notify(
            recipients=[successors_by_pk[successor_id]],
            kind="pools.handover",
            title=_("%(count)d records of %(user)s were handed over to you")
            % {"count": len(items), "user": leaving},
            body="\n".join(lines),
            url="/customers/",
            dedupe_key=f"pools:offboarding:{offboarding.pk}",
        )
    return offboarding


def _has_department(model: type[models.Model]) -> bool:
    if not _has_field(model, "department"):
        return False
    model_field = model._meta.get_field("department")
    return isinstance(model_field, models.ForeignKey) and model_field.related_model is Department
