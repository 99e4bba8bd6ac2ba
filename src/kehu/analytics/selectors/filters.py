"""What the report filter form offers a viewer: only departments and reps in their scope."""

from __future__ import annotations

from typing import Any

from django.contrib.auth import get_user_model

from kehu.analytics.reporting import REGION_AREAS
from kehu.core.access import is_admin, managed_department_ids


def filter_choices(user: Any) -> dict[str, list[tuple[str, str]]]:
    from kehu.accounts.models import Department
    from kehu.customers.models import Industry, Region

    departments = Department.objects.order_by("path")
    users = get_user_model().objects.filter(is_active=True).order_by("username")
    if not is_admin(user):
        managed = managed_department_ids(user)
        departments = departments.filter(pk__in=managed or [user.department_id or 0])
        users = users.filter(department_id__in=managed) if managed else users.filter(pk=user.pk)
    industries = Industry.objects.filter(parent__isnull=True).order_by("code")
    provinces = Region.objects.filter(level=1).order_by("code")
    return {
        "departments": [(str(d.pk), d.name) for d in departments],
        "owners": [(str(u.pk), str(u)) for u in users],
        "industries": [(i.code, f"{i.code} {i.name}") for i in industries],
        "regions": [(key, str(label)) for key, (label, _codes) in REGION_AREAS.items()]
        + [(r.code, r.name) for r in provinces],
    }
