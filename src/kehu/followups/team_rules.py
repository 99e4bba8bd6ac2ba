"""Row scope of the follow-up rules a team sets: cadence plans and care dates.

A rule without a department is the company's; one with a department applies to that
department and the ones below it (``services.cadence_interval``, ``reminders.care_reminders``).

- admins see and change every rule;
- a manager sees the company's rules, the rules of the departments above theirs (they apply
  to their team too) and of every department they manage; they change only the last;
- other roles (sales, service, marketing) manage no rules: the pages and the API answer 403
  before looking a rule up (``plan_services.may_manage``), and their scope is empty.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.db.models import Q

from kehu.accounts.models import Role
from kehu.core.access import (
    ALL_ROWS,
    NO_ROWS,
    AccessPolicy,
    department_path,
    is_admin,
    managed_department_ids,
)


def ancestor_ids(user: Any) -> list[int]:
    """The user's department and the ones above it (from its materialised path)."""
    return [int(part) for part in department_path(user).strip("/").split("/") if part]


def is_rule_manager(user: Any) -> bool:
    """Admins, and managers with a department, manage cadence plans and care dates."""
    if not (user and user.is_authenticated and user.is_active):
        return False
    return is_admin(user) or (
        getattr(user, "role", "") == Role.MANAGER and bool(getattr(user, "department_id", None))
    )


@dataclass(frozen=True)
class TeamRulePolicy(AccessPolicy):
    """Company rules (no department) and department rules, scoped as described above."""

    owner_field: str = "department"  # unused: the filters below decide
    department_field: str | None = "department"

    def view_filter(self, user: Any) -> Q:
        if not is_rule_manager(user):
            return NO_ROWS
        if is_admin(user):
            return ALL_ROWS
        departments = set(managed_department_ids(user)) | set(ancestor_ids(user))
        return Q(department__isnull=True) | Q(department__in=sorted(departments))

    def edit_filter(self, user: Any) -> Q:
        if not is_rule_manager(user):
            return NO_ROWS
        if is_admin(user):
            return ALL_ROWS
        return Q(department__in=sorted(managed_department_ids(user)))

    def own_filter(self, user: Any) -> Q:
        return NO_ROWS

    def has_full_access(self, user: Any, row: Any) -> bool:
        return True  # nothing sensitive on a rule


def rule_editable(user: Any, row: Any) -> bool:
    """What ``TeamRulePolicy.edit_filter`` says of one row, without a query."""
    if not is_rule_manager(user):
        return False
    if is_admin(user):
        return True
    return row.department_id is not None and row.department_id in managed_department_ids(user)
