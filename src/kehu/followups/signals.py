"""Re-plan a customer's follow-up when it is saved (status, grade or owner may have changed)."""

from __future__ import annotations

from typing import Any

from django.db import transaction
from django.db.models.signals import post_save
from django.dispatch import receiver

from kehu.customers.models import Customer


@receiver(post_save, sender=Customer, dispatch_uid="followups_replan_customer")
def _customer_saved(sender: Any, instance: Customer, raw: bool = False, **kwargs: Any) -> None:
    if raw:
        return
    from kehu.followups.tasks import replan_customer

    customer_id = instance.pk
    transaction.on_commit(lambda: replan_customer(customer_id))
