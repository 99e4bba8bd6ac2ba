"""Reads of the team rules (cadence plans, care dates), scoped by ``TeamRulePolicy``.

Every list is one query (the rows with their department); which rows the user may change is
decided without a query (``team_rules.rule_editable``).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any

from django.db.models import QuerySet

from kehu.core.errors import NotFound
from kehu.core.history import HistoryEntry, history_entries
from kehu.followups.models import CadencePlan, CareDate

HISTORY_ROWS = 50


def plan_list(*, user: Any, active: bool | None = None) -> list[CadencePlan]:
    plans = CadencePlan.objects.visible_to(user).select_related("department")
    if active is not None:
        plans = plans.filter(is_active=active)
    return list(plans.order_by("department__path", "interval_days", "id"))


def plan_get(*, user: Any, plan_id: int) -> CadencePlan:
    plan = (
        CadencePlan.objects.visible_to(user).select_related("department").filter(pk=plan_id).first()
    )
    if plan is None:
        raise NotFound("cadence plan")
    return plan


@dataclass
class CareFilters:
    start: date | None = None
    end: date | None = None
    kind: str = ""
    active: bool | None = None

    def apply(self, rows: QuerySet[CareDate]) -> QuerySet[CareDate]:
        if self.start is not None:
            rows = rows.filter(date__gte=self.start)
        if self.end is not None:
            rows = rows.filter(date__lte=self.end)
        if self.kind:
            rows = rows.filter(kind=self.kind)
        if self.active is not None:
            rows = rows.filter(is_active=self.active)
        return rows


def care_date_list(*, user: Any, filters: CareFilters) -> QuerySet[CareDate]:
    rows = CareDate.objects.visible_to(user).select_related("department")
    return filters.apply(rows).order_by("date", "id")


def care_date_get(*, user: Any, care_id: int) -> CareDate:
    care = CareDate.objects.visible_to(user).select_related("department").filter(pk=care_id).first()
    if care is None:
        raise NotFound("care date")
    return care


def rule_history(*, user: Any, model: type[CadencePlan] | type[CareDate]) -> list[HistoryEntry]:
    """The latest changes of the rules ``user`` sees, deleted ones included (newest first)."""
    scope = model.access_policy.view_filter(user)
    historical: Any = model.history
    rows = historical.filter(scope).order_by("-history_id")[:HISTORY_ROWS]
    ids = list(rows.values_list("history_id", flat=True))
    return history_entries(historical.filter(history_id__in=ids))


def record_history(*, rule: CadencePlan | CareDate) -> list[HistoryEntry]:
    return history_entries(rule.history.all())
