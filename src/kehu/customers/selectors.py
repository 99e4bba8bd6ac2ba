"""Reads of customers and contacts, always scoped to the acting user first."""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet

from kehu.core.access import get_visible_or_404
from kehu.customers.models import Contact, Customer


def customer_list(*, user: Any) -> QuerySet[Customer]:
    return Customer.objects.visible_to(user).select_related(
        "owner", "department", "industry", "region"
    )


def customer_get(*, user: Any, customer_id: int) -> Customer:
    return get_visible_or_404(customer_list(user=user), user, pk=customer_id)


def contact_list(*, user: Any) -> QuerySet[Contact]:
    visible = Customer.objects.visible_to(user).values("pk")
    return Contact.objects.filter(customer_id__in=visible).select_related("customer")
