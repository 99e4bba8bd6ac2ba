"""Offboarding (离职交接): the records a leaving user hands over, and the handover itself.

Each domain app registers the kinds of records it owns in its ``AppConfig.ready()`` with
``register_handover``; accounts never imports them. A kind lists a user's records still to hand
over and reassigns them through its own app's service, so every move writes the history and
business events that app writes for any other reassignment. ``handover_plan`` previews who gets
what; ``handover_apply`` carries it out and deactivates the user with ``user_deactivate``.
"""

from __future__ import annotations

import itertools
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from django.core.exceptions import FieldDoesNotExist
from django.db import models, transaction
from django.utils.functional import Promise
from django.utils.translation import gettext as _

from kehu.accounts.models import User
from kehu.accounts.services import user_deactivate
from kehu.core.access import is_admin
from kehu.core.errors import Forbidden, InvalidInput

CUSTOMERS = "customers"  # the kind other records follow, and the one a pool can take back
MODES = ("round_robin", "split")


class Reassign(Protocol):
    def __call__(
        self, *, actor: User, records: Sequence[Any], successor: User, reason: str
    ) -> None: ...


@dataclass(frozen=True)
class HandoverKind:
    """One kind of record a leaving user hands over.

    ``rows(user)`` are the user's records still to hand over (finished ones stay with the user,
    as history); ``reassign`` gives records to a successor through the app's own service.
    """

    key: str
    label: str | Promise | None  # a model's verbose_name_plural, translated when shown
    rows: Callable[[User], models.QuerySet[Any]]
    reassign: Reassign
    order: int = 100

    def follows_customer(self, user: User) -> bool:
        """Whether the kind's records belong to a customer (and so follow it)."""
        try:
            self.rows(user).model._meta.get_field("customer")
        except FieldDoesNotExist:
            return False
        return self.key != CUSTOMERS


_kinds: dict[str, HandoverKind] = {}


def register_handover(kind: HandoverKind) -> HandoverKind:
    """Add (or replace, by key) a kind of record handed over when a user leaves."""
    _kinds[kind.key] = kind
    return kind


def handover_kinds() -> list[HandoverKind]:
    return sorted(_kinds.values(), key=lambda kind: (kind.order, kind.key))


@dataclass
class PlannedItem:
    kind: str
    pk: int
    label: str
    customer_id: int | None
    successor_id: int | None  # None: the customer goes to the plan's pool


@dataclass
class HandoverPlan:
    user: User
    successors: list[User]
    pool: Any | None  # where customers without a successor go (a pool of the pools app)
    mode: str
    items: list[PlannedItem]
    kinds: list[HandoverKind]

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
                    "label": str(kind.label),
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

    def label_of(self, item: PlannedItem) -> str:
        return next(str(kind.label) for kind in self.kinds if kind.key == item.kind)

    def summary(self) -> dict[str, Any]:
        return {
            "user_id": self.user.pk,
            "mode": self.mode,
            "pool_id": self.pool.pk if self.pool else None,
            "successors": [{"id": s.pk, "name": str(s)} for s in self.successors],
            "counts": self.counts(),
            "total": len(self.items),
        }


def _field_error(name: str, message: str) -> InvalidInput:
    return InvalidInput(message, errors={name: [message]})


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


def _successors(
    successors: Sequence[User | int], split: dict[str, User | int] | None, mode: str
) -> tuple[list[User], dict[str, User]]:
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
    return chosen, split_users


def handover_plan(
    *,
    actor: User,
    user: User | int,
    successors: Sequence[User | int] = (),
    mode: str = "round_robin",
    split: dict[str, User | int] | None = None,
    pool: Any | None = None,
) -> HandoverPlan:
    """Preview a handover: every record of ``user`` still to hand over and who gets it.

    ``round_robin`` deals customers out in turn; ``split`` gives each kind to the successor
    named in ``split`` (``{"customers": id, "leads": id, …}``). With ``pool``, customers go
    there instead. Records of a transferred customer follow it.
    """
    if not is_admin(actor):
        raise Forbidden(_("Only CRM administrators may do this."))
    leaving = _resolve_user(user, "user")
    if leaving.pk == actor.pk:
        raise _field_error("user", _("You cannot hand over your own records."))
    if mode not in MODES:
        raise _field_error("mode", _("Choose round robin or an explicit split."))
    chosen, split_users = _successors(successors, split, mode)
    for successor in chosen:
        if not successor.is_active:
            raise _field_error(
                "successors",
                _("%(user)s is deactivated and cannot take over records; choose an active user.")
                % {"user": successor},
            )
        if successor.pk == leaving.pk:
            raise _field_error("successors", _("The leaving user cannot be their own successor."))
    kinds = handover_kinds()
    items: list[PlannedItem] = []
    for kind in kinds:
        columns = ["pk", "customer_id"] if kind.follows_customer(leaving) else ["pk"]
        for row in kind.rows(leaving).order_by("pk").values(*columns):
            items.append(
                PlannedItem(kind.key, row["pk"], "", row.get("customer_id"), successor_id=None)
            )
    _label_items(items, kinds, leaving)
    _distribute(items, chosen, split_users, pool, mode)
    unassigned = sorted(
        {item.kind for item in items if item.successor_id is None}
        - ({CUSTOMERS} if pool is not None else set())
    )
    if unassigned:
        labels = ", ".join(str(k.label) for k in kinds if k.key in unassigned)
        raise _field_error(
            "successors" if mode == "round_robin" else "split",
            _("Choose a successor for: %(kinds)s.") % {"kinds": labels},
        )
    return HandoverPlan(leaving, chosen, pool, mode, items, kinds)


def _label_items(items: list[PlannedItem], kinds: list[HandoverKind], user: User) -> None:
    by_kind: dict[str, list[PlannedItem]] = defaultdict(list)
    for item in items:
        by_kind[item.kind].append(item)
    for kind in kinds:
        wanted = by_kind.get(kind.key)
        if not wanted:
            continue
        rows = kind.rows(user).filter(pk__in=[i.pk for i in wanted])
        labels = {row.pk: str(row) for row in rows}
        for item in wanted:
            item.label = labels.get(item.pk, str(item.pk))[:200]


def _distribute(
    items: list[PlannedItem],
    successors: list[User],
    split: dict[str, User],
    pool: Any | None,
    mode: str,
) -> None:
    turn = itertools.cycle([s.pk for s in successors]) if successors else None
    customer_to: dict[int, int | None] = {}
    for item in items:
        if item.kind != CUSTOMERS:
            continue
        if pool is not None:
            item.successor_id = None
        elif mode == "split":
            chosen = split.get(CUSTOMERS)
            item.successor_id = chosen.pk if chosen else None
        elif turn is not None:
            item.successor_id = next(turn)
        customer_to[item.pk] = item.successor_id
    for item in items:
        if item.kind == CUSTOMERS:
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


ToPool = Callable[[Sequence[Any]], None]


@transaction.atomic
def handover_apply(
    *, actor: User, plan: HandoverPlan, reason: str, to_pool: ToPool | None = None
) -> User:
    """Carry out a plan in the caller's transaction and deactivate the leaving user.

    Each kind's records go to each successor through the kind's own ``reassign``; customers
    without a successor go to ``to_pool``. Records that left the user since the preview (or
    were finished meanwhile) are skipped. Returns the deactivated user.
    """
    leaving = User.objects.select_for_update().get(pk=plan.user.pk)
    successors = {
        s.pk: s
        for s in User.objects.select_for_update().filter(pk__in=[s.pk for s in plan.successors])
    }
    if any(not s.is_active for s in successors.values()):
        raise _field_error("successors", _("A successor was deactivated meanwhile; preview again."))
    for kind in plan.kinds:
        groups: dict[int | None, list[int]] = defaultdict(list)
        for item in plan.items:
            if item.kind == kind.key:
                groups[item.successor_id].append(item.pk)
        for successor_id, pks in groups.items():
            records = list(kind.rows(leaving).filter(pk__in=pks).order_by("pk"))
            if not records:
                continue
            if successor_id is None:
                if to_pool is not None and kind.key == CUSTOMERS:
                    to_pool(records)
                continue
            kind.reassign(
                actor=actor, records=records, successor=successors[successor_id], reason=reason
            )
    return user_deactivate(actor=actor, user=leaving, reason=reason)
