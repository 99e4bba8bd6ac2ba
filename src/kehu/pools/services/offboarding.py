"""Offboarding (离职交接): a leaving user's records handed over to successors."""

from __future__ import annotations

import itertools
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from django.apps import apps
from django.conf import settings
from django.core.exceptions import FieldDoesNotExist
from django.db import models, transaction
from django.utils.translation import gettext as _

from kehu.accounts.models import Department, User
from kehu.core.history import stamp
from kehu.core.models import VersionedModel
from kehu.core.services import bump_version
from kehu.pools.models import EventKind, Offboarding, Pool
from kehu.pools.services.claims import _put
from kehu.pools.services.pools import _field_error, _notify, _require_admin

HANDOVER_REASON = "离职交接"  # the business term, stored as the history reason of a handover


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
