"""The customers a leaving user hands over (离职交接), registered with accounts' offboarding."""

from __future__ import annotations

from collections.abc import Sequence

from django.db.models import QuerySet

from kehu.accounts.models import User
from kehu.accounts.offboarding import CUSTOMERS, HandoverKind, register_handover
from kehu.customers.models import Customer
from kehu.customers.services import customer_reassign


def owned_customers(user: User) -> QuerySet[Customer]:
    return Customer.objects.filter(owner_id=user.pk)


def reassign_customers(
    *, actor: User, records: Sequence[Customer], successor: User, reason: str
) -> None:
    for customer in records:
        customer_reassign(actor=actor, customer=customer, owner=successor, reason=reason)


def register() -> None:
    register_handover(
        HandoverKind(
            key=CUSTOMERS,
            label=Customer._meta.verbose_name_plural,
            rows=owned_customers,
            reassign=reassign_customers,
            order=10,
        )
    )
