"""Huey jobs of the contracts app; the bodies are idempotent service functions."""

from __future__ import annotations

from huey import crontab
from huey.contrib.djhuey import db_periodic_task, lock_task

from kehu.contracts.services.payments import overdue_notify


@db_periodic_task(crontab(hour="9", minute="5"))
@lock_task("contracts-overdue-payments")
def remind_overdue_payments() -> int:
    """Installments unpaid past their due date: the owner and their manager, once each."""
    return overdue_notify()
