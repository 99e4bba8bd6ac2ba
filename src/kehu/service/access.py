"""Row scope of the service app, on the one gate (``kehu.core.access``).

- A handover belongs to the sales owner who writes it (and their managers); the appointed
  specialist sees it, and a manager sees the handovers appointed to their departments.
- A customer is granted (read-only) to the specialist of its completed handovers, and to the
  managers of that specialist's department.
- A ticket belongs to its assignee and its responsible department; a ``service`` user sees the
  tickets of their own department (their team); a sales owner sees the tickets of the customers
  they own.
"""

from __future__ import annotations

from typing import Any

from django.db.models import Q, QuerySet

from kehu.core.access import managed_department_ids
from kehu.customers.models import Customer

SERVICE_ROLES = frozenset({"service", "manager"})


def handed_customer_ids(user: Any, write: bool) -> QuerySet[Any]:
    """Ids of customers handed over (completed) to ``user`` or to the departments they manage."""
    from kehu.service.models import Handover, HandoverStatus

    if write or getattr(user, "role", "") not in SERVICE_ROLES:
        return Handover.objects.none().values("customer_id")
    completed = Handover.objects.filter(status=HandoverStatus.COMPLETED)
    if user.role == "service":
        return completed.filter(specialist=user).values("customer_id")
    departments = managed_department_ids(user)
    if not departments:
        return Handover.objects.none().values("customer_id")
    return completed.filter(specialist__department__in=departments).values("customer_id")


def handover_specialist_rows(user: Any) -> Q:
    return Q(specialist=user)


def handover_managed_specialist_rows(user: Any) -> Q:
    departments = managed_department_ids(user)
    return Q(specialist__department__in=departments) if departments else Q(pk__in=[])


def ticket_team_rows(user: Any) -> Q:
    """A service user's team: the tickets of their department."""
    department_id = getattr(user, "department_id", None)
    return Q(department_id=department_id) if department_id else Q(pk__in=[])


def ticket_own_customer_rows(user: Any) -> Q:
    """A sales owner sees the tickets raised by the customers they own."""
    return Q(customer__owner=user)


def ticket_managed_customer_rows(user: Any) -> Q:
    """A manager sees the tickets of the customers of the departments they manage.

    A service manager's departments own no customers: the term is then left out, since ORed
    with the ticket's own columns it joins every ticket to its customer (280 ms of a 380 ms
    service report at size L, bench/RESULTS.md). One indexed query, once per user object.
    """
    departments = managed_department_ids(user)
    if not departments or not _departments_own_customers(user, departments):
        return Q(pk__in=[])
    return Q(customer__department__in=departments)


def _departments_own_customers(user: Any, departments: frozenset[int]) -> bool:
    cached = getattr(user, "_kehu_departments_own_customers", None)
    if cached is None:
        cached = Customer.objects.filter(department_id__in=departments).exists()
        user._kehu_departments_own_customers = cached
    return bool(cached)
