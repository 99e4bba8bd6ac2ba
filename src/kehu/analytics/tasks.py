"""Huey jobs of the analytics app: the nightly recompute of every customer's scores, and the
incremental recompute of the customers a change touched (``hooks``)."""

from __future__ import annotations

from huey import crontab
from huey.contrib.djhuey import db_periodic_task, db_task, lock_task

from kehu.analytics.services import scores


@db_periodic_task(crontab(hour="2", minute="40"))
@lock_task("analytics-recompute-scores")
def recompute_all_scores() -> int:
    """Every customer, in batches (days since the last activity change without any write)."""
    return scores.recompute_all()


@db_task()
def recompute_scores(customer_ids: list[int]) -> int:
    """The customers a change touched (a follow-up, a won deal, a ticket, a customer edit)."""
    return scores.recompute(customer_ids)
