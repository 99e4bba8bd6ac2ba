"""Offboarding (离职交接) as the pools app offers it: a handover whose customers may return to
a pool, recorded as an ``Offboarding`` and announced to the successors.

The handover itself (which records, who gets them, each moved through its own app's service,
the user deactivated) is ``kehu.accounts.offboarding``; this module adds what only pools
knows: the pool as a destination and the record of the handover.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from django.db import transaction
from django.utils.translation import gettext as _

from kehu.accounts.models import User
from kehu.accounts.offboarding import HandoverKind, HandoverPlan, handover_apply, handover_plan
from kehu.accounts.offboarding import handover_kinds as transfer_kinds
from kehu.core import audit
from kehu.customers.models import Customer
from kehu.pools.models import EventKind, Offboarding, Pool
from kehu.pools.services.claims import _put
from kehu.pools.services.pools import _field_error, _notify

HANDOVER_REASON = "离职交接"  # the business term, stored as the history reason of a handover
TransferKind = HandoverKind  # the name the pools forms and tests know the kinds by

__all__ = [
    "HANDOVER_REASON",
    "HandoverPlan",
    "TransferKind",
    "offboarding_apply",
    "offboarding_plan",
    "transfer_kinds",
]


def _target_pool(pool: Pool | int | None) -> Pool | None:
    if pool in (None, ""):
        return None
    try:
        found = Pool.objects.filter(
            pk=pool.pk if isinstance(pool, Pool) else int(pool), is_active=True
        ).first()
    except (TypeError, ValueError):
        found = None
    if found is None:
        raise _field_error("pool", _("Choose an active pool."))
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
    """Preview a handover (``kehu.accounts.offboarding.handover_plan``); with ``pool``, the
    customers return to that pool instead of going to successors."""
    target = _target_pool(pool)
    return handover_plan(
        actor=actor, user=user, successors=successors, mode=mode, split=split, pool=target
    )


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
    leaving = plan.user
    target: Pool | None = plan.pool

    def to_pool(customers: Sequence[Any]) -> None:
        for customer in customers:
            locked = Customer.objects.select_for_update().get(pk=customer.pk)
            if target is not None and locked.owner_id == leaving.pk:
                _put(
                    customer=locked,
                    pool=target,
                    actor=actor,
                    kind=EventKind.ENTERED,
                    reason=f"{HANDOVER_REASON}: {leaving}",
                    released_by=None,
                )

    handover_apply(actor=actor, plan=plan, reason=HANDOVER_REASON, to_pool=to_pool)
    offboarding = Offboarding.objects.create(
        user=leaving,
        actor=actor,
        mode=plan.mode,
        pool=target,
        note=note.strip(),
        summary=plan.summary(),
    )
    audit.record(
        "accounts.offboarding",
        actor=actor,
        target=leaving,
        details={
            "offboarding_id": offboarding.pk,
            "mode": plan.mode,
            "pool_id": target.pk if target else None,
            "successor_ids": [s.pk for s in plan.successors],
            "counts": {row["kind"]: row["total"] for row in plan.counts()},
        },
    )
    successors_by_pk = {s.pk: s for s in plan.successors}
    for successor_id, items in plan.per_successor().items():
        lines = [f"{plan.label_of(item)}: {item.label}" for item in items[:200]]
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
