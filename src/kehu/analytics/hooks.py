"""Incremental recompute: the writes that change a customer's scores queue the customer.

Registered from ``AppConfig.ready()``: the customers' ``on_customers_changed`` report (after
the commit, a transaction's ids at once), a deal won (``opportunities.hooks.on_deal_won``),
a ticket resolved (``service`` registry) and, through ``post_save``, a follow-up logged and a
ticket created or changed (service has no hook for these; a signal keeps service unaware of
analytics). The ids of one transaction are queued once, after the commit.
"""

from __future__ import annotations

from typing import Any

from django.db import connection, transaction


class _Pending:
    def __init__(self) -> None:
        self.ids: set[int] = set()
        self.done = False

    def __call__(self) -> None:
        self.done = True
        if self.ids:
            from kehu.analytics.tasks import recompute_scores

            recompute_scores(sorted(self.ids))


def mark_dirty(ids: list[int] | set[int]) -> None:
    """Queue ``ids`` for a recompute after the current transaction commits (at once outside)."""
    if not ids:
        return
    if connection.in_atomic_block:
        for entry in connection.run_on_commit:
            if isinstance(entry[1], _Pending) and not entry[1].done:
                entry[1].ids.update(ids)
                return
    pending = _Pending()
    pending.ids.update(ids)
    transaction.on_commit(pending)


def customers_changed(ids: list[int]) -> None:
    # customers' report already runs after the commit: queue the job now, not on another
    # commit (one job per transaction, as the customers' hook promises)
    if ids:
        from kehu.analytics.tasks import recompute_scores

        recompute_scores(sorted(ids))


def deal_won(opportunity: Any, actor: Any) -> None:
    mark_dirty({opportunity.customer_id})


def ticket_resolved(ticket: Any) -> None:
    if ticket.customer_id:
        mark_dirty({ticket.customer_id})


def followup_saved(sender: Any, instance: Any, created: bool, **kwargs: Any) -> None:
    if created and not kwargs.get("raw"):
        mark_dirty({instance.customer_id})


def ticket_saved(sender: Any, instance: Any, **kwargs: Any) -> None:
    if instance.customer_id and not kwargs.get("raw"):
        mark_dirty({instance.customer_id})


def survey_saved(sender: Any, instance: Any, **kwargs: Any) -> None:
    if instance.customer_id and instance.answered_at and not kwargs.get("raw"):
        mark_dirty({instance.customer_id})


def register() -> None:
    from django.db.models.signals import post_save

    from kehu.customers import hooks as customer_hooks
    from kehu.followups.models import FollowUp
    from kehu.opportunities import hooks as deal_hooks
    from kehu.service.models import Survey, Ticket
    from kehu.service.services.tickets import on_ticket_resolved

    customer_hooks.on_customers_changed(customers_changed)
    deal_hooks.on_deal_won(deal_won)
    on_ticket_resolved(ticket_resolved)
    post_save.connect(followup_saved, sender=FollowUp, dispatch_uid="analytics-scores-followup")
    post_save.connect(ticket_saved, sender=Ticket, dispatch_uid="analytics-scores-ticket")
    post_save.connect(survey_saved, sender=Survey, dispatch_uid="analytics-scores-survey")
