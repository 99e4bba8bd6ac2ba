"""Re-plan the follow-up of customers the customer services report changed (status, grade,
owner, name) or created, singly or in bulk.

``kehu.customers.hooks`` collects the customers of one transaction (an import batch, a merge)
and calls ``replan_changed_customers`` once after the commit, so a 1,000-row import batch
queues one job, not a thousand; a rolled-back transaction queues none.
"""

from __future__ import annotations


def replan_changed_customers(customer_ids: list[int]) -> None:
    from kehu.followups.tasks import replan_customers

    replan_customers(customer_ids)
