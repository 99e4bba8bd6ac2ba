"""Huey jobs of the follow-up app; the bodies are the idempotent rules in ``reminders``."""

from __future__ import annotations

from django.db import transaction
from huey import crontab
from huey.contrib.djhuey import db_periodic_task, db_task

from kehu.customers.models import Customer
from kehu.followups import reminders
from kehu.followups.services import cadence_replan


@db_periodic_task(crontab(minute="*/15"))
def run_frequent_reminders() -> dict[str, int]:
    """First-contact SLA, due-soon reminders, escalations, missing records, verification."""
    return reminders.run_hourly()


@db_periodic_task(crontab(hour="6", minute="30"))
def run_daily_reminders() -> dict[str, int]:
    """Stale contact data, monthly reviews, care dates, cadence re-planning."""
    return reminders.run_daily()


@db_task()
def replan_customers(customer_ids: list[int]) -> int:
    """Re-plan customers after a status/grade/owner change, and check their first-contact SLA."""

    done = 0
    for customer in Customer.objects.select_related("owner").filter(pk__in=customer_ids):
        with transaction.atomic():
            cadence_replan(customer=customer)
            if customer.first_contact_at is None and customer.priority:
                reminders.first_contact_sla(customers=[customer])
        done += 1
    return done


@db_task()
def replan_for_plans(department_ids: list[int] | None) -> int:
    """Re-plan the customers a changed cadence plan reaches (None: every customer)."""
    return reminders.cadence_replan_all(department_ids=department_ids)
