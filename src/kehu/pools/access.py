"""Who belongs to which pool, and which pool customers a user may therefore see.

Membership: a user belongs to a pool when their department is a member department of the
pool or lies below one (``Department.path``); a manager also belongs to every pool that has a
member department among the departments they manage. Admins belong to every pool.
"""

from __future__ import annotations

from typing import Any

from django.db.models import Q, QuerySet

from kehu.core.access import department_path, is_admin, managed_department_ids
from kehu.pools.models import Pool, PoolEntry


def ancestor_department_ids(user: Any) -> frozenset[int]:
    """The user's department and every department above it (from the cached path)."""
    cached = getattr(user, "_kehu_ancestor_departments", None)
    if cached is not None:
        return cached
    ids = frozenset(int(part) for part in department_path(user).split("/") if part)
    user._kehu_ancestor_departments = ids
    return ids


def member_pool_filter(user: Any) -> Q:
    """A ``Pool`` filter: the pools ``user`` belongs to (active or not)."""
    if not (user and user.is_authenticated and user.is_active):
        return Q(pk__in=[])
    if is_admin(user):
        return Q()
    departments = set(ancestor_department_ids(user)) | set(managed_department_ids(user))
    if not departments:
        return Q(pk__in=[])
    return Q(departments__in=departments)


def member_pool_ids(user: Any) -> QuerySet[Any, Any]:
    """Ids of the active pools ``user`` belongs to (a lazy subquery)."""
    return Pool.objects.filter(member_pool_filter(user), is_active=True).values("pk").distinct()


def manages_pool(user: Any, pool: Any) -> bool:
    """Admins, and managers of one of the pool's member departments, assign from the pool."""
    if is_admin(user):
        return True
    managed = managed_department_ids(user)
    if not managed:
        return False
    return pool.departments.filter(pk__in=managed).exists()


def pool_customer_ids(user: Any, write: bool) -> QuerySet[Any, Any]:
    """Ids of the owner-less customers lying in pools ``user`` belongs to.

    Meant to be OR-ed into ``Customer.access_policy`` (as ``Q(pk__in=pool_customer_ids(...))``)
    so that pool members can see what they may claim. Pool customers are read-only to reps:
    with ``write=True`` only users who manage a member department (and admins) get ids.
    """
    if not (user and user.is_authenticated and user.is_active):
        return PoolEntry.objects.none().values("customer_id")
    pools = member_pool_ids(user)
    if write and not is_admin(user):
        managed = managed_department_ids(user)
        if not managed:
            return PoolEntry.objects.none().values("customer_id")

        pools = Pool.objects.filter(departments__in=managed, is_active=True).values("pk").distinct()
    return PoolEntry.objects.filter(pool_id__in=pools, customer__owner__isnull=True).values(
        "customer_id"
    )
