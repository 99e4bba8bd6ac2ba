"""Re-plan a customer's follow-up when it is saved (status, grade or owner may have changed).

Saves inside one transaction (an import batch, a merge) are collected and handed to a single
job after the commit, so a 100-row import batch queues one job, not a hundred.
"""

from __future__ import annotations

from typing import Any

from django.db import connection, transaction
from django.db.models.signals import post_save
from django.dispatch import receiver

from kehu.customers.models import Customer


class _Replan:
    """One pending on-commit callback and the customers it will re-plan."""

    def __init__(self) -> None:
        self.ids: set[int] = set()
        self.done = False

    def __call__(self) -> None:
        self.done = True
        from kehu.followups.tasks import replan_customers

        replan_customers(sorted(self.ids))


def _pending() -> _Replan | None:
    # The callback still waiting on this connection's commit, if any (a rollback discards it).
    for entry in connection.run_on_commit:
        if isinstance(entry[1], _Replan) and not entry[1].done:
            return entry[1]
    return None


@receiver(post_save, sender=Customer, dispatch_uid="followups_replan_customer")
def _customer_saved(sender: Any, instance: Customer, raw: bool = False, **kwargs: Any) -> None:
    if raw:
        return
    pending = _pending() if connection.in_atomic_block else None
    if pending is None:
        pending = _Replan()
        pending.ids.add(instance.pk)
        transaction.on_commit(pending)
    else:
        pending.ids.add(instance.pk)
